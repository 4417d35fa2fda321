"""The exchange format: the columns of each kind of file and how every cell is checked.

A cleaner takes the cell text and returns the stored value or raises CellError with a Russian
reason. Identifiers go through core.validators (checksums); directory codes are looked up
in dictionaries read once per import; dates are ISO (2024-03-01) or ДД.ММ.ГГГГ. Checks that need
the database (a SNILS of an existing worker, a document number held by another worker) are
set-based in registry.imports.engine. The format is documented in docs/import.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from core import validators

from ..models import (
    AccreditationKind,
    AdmissionDocument,
    CategoryAssignment,
    ContinuingEducation,
    Education,
    EducationLevel,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    OrganizationLicense,
    OrganizationType,
    Position,
    QualificationCategory,
    Region,
    Specialty,
)


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, encoding, header); nothing was written."""


class CellError(Exception):
    """One cell is wrong; the message is the reason shown to the person who sent the file."""


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"строка {self.row}, поле «{self.field}»: {self.reason}"


@dataclass
class Context:
    """What cleaners look up: directory codes → (id, active), today's date."""

    today: dt.date
    directories: dict[str, dict[str, tuple[int, bool]]] = field(default_factory=dict)

    @classmethod
    def load(cls, today: dt.date | None = None) -> Context:
        from django.utils import timezone

        ctx = cls(today=today or timezone.localdate())
        for key, model in DIRECTORIES.items():
            ctx.directories[key] = {
                code: (pk, active) for pk, code, active in model.objects.values_list("id", "code", "is_active")
            }
        return ctx


DIRECTORIES = {
    "specialty": Specialty,
    "position": Position,
    "region": Region,
    "org_type": OrganizationType,
    "accreditation_kind": AccreditationKind,
    "education_level": EducationLevel,
    "category": QualificationCategory,
}

# The cell text that clears an optional value (docs/import.md, "Empty cells"): an empty cell leaves
# the stored value as it is, so a file that lacks a value never wipes one a merge or an edit filled.
CLEAR = "-"
# A cleared optional date in the stage (NULL there means "keep"); no real date is this old.
CLEARED_DATE = dt.date(1, 1, 1)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]+")
_DOC_NUMBER = re.compile(r"[0-9A-ZА-ЯЁ][0-9A-ZА-ЯЁ /-]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)
_RU_DATE = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _message(exc: ValidationError) -> str:
    return exc.messages[0] if exc.messages else "неверное значение"


# --- Cleaners ------------------------------------------------------------------------------------


def text(limit: int, *, required: bool = True):
    def clean(value: str, ctx: Context) -> str:
        if not value:
            if required:
                raise CellError("не заполнено")
            return ""
        if len(value) > limit:
            raise CellError(f"длиннее {limit} символов ({len(value)})")
        # PostgreSQL refuses NUL in text; other control characters are garbage from a broken export.
        if _CONTROL.search(value):
            raise CellError("содержит управляющие символы")
        return value

    return clean


def _snils_checksum_ok(value: str) -> bool:
    # The rule of validators.snils_checksum, unrolled over bytes: a large file checks millions.
    b = value.encode()
    total = 9 * b[0] + 8 * b[1] + 7 * b[2] + 6 * b[3] + 5 * b[4] + 4 * b[5] + 3 * b[6] + 2 * b[7] + b[8] - 48 * 45
    return total % 101 % 100 == (b[9] - 48) * 10 + b[10] - 48


def snils(value: str, ctx: Context) -> str:
    # Fast path for the canonical form of a large file; anything else goes through the validator.
    if len(value) == 11 and value.isascii() and value.isdigit():
        if value[:9] <= _SNILS_UNCHECKED or _snils_checksum_ok(value):
            return value
        raise CellError("контрольное число не сходится — проверьте, нет ли опечатки")
    try:
        return validators.normalize_snils(value)
    except ValidationError as exc:
        raise CellError(_message(exc).removeprefix("СНИЛС: ")) from None


_SNILS_UNCHECKED = f"{validators.SNILS_UNCHECKED_MAX:09d}"
# The Damm quasigroup (stdnum.damm's table), flattened: row * 10 + digit.
_DAMM = tuple(
    int(c)
    for row in (
        "0317598642", "7092154863", "4206871359", "1750983426", "6123045978",
        "3674209581", "5869720134", "8945362017", "9438617205", "2581436790",
    )
    for c in row
)  # fmt: skip


def _damm_ok(value: str) -> bool:
    interim = 0
    for byte in value.encode():
        interim = _DAMM[interim * 10 + byte - 48]
    return interim == 0


def _inn12_ok(value: str) -> bool:
    # The weights of validators.inn_checksum over bytes; 48 * (sum of the weights) takes off the "0"s.
    b = value.encode()
    d11 = (
        (
            7 * b[0]
            + 2 * b[1]
            + 4 * b[2]
            + 10 * b[3]
            + 3 * b[4]
            + 5 * b[5]
            + 9 * b[6]
            + 4 * b[7]
            + 6 * b[8]
            + 8 * b[9]
            - 48 * 58
        )
        % 11
        % 10
    )
    d12 = (
        (
            3 * b[0]
            + 7 * b[1]
            + 2 * b[2]
            + 4 * b[3]
            + 10 * b[4]
            + 3 * b[5]
            + 5 * b[6]
            + 9 * b[7]
            + 4 * b[8]
            + 6 * b[9]
            + 8 * b[10]
            - 48 * 61
        )
        % 11
        % 10
    )
    return d11 == b[10] - 48 and d12 == b[11] - 48


def _via(normalizer, prefix: str):
    def clean(value: str, ctx: Context) -> str:
        try:
            return normalizer(value)
        except ValidationError as exc:
            raise CellError(_message(exc).removeprefix(prefix)) from None

    return clean


def registry_number(value: str, ctx: Context) -> str:
    if len(value) == 10 and value.isascii() and value.isdigit() and value[:9] != "000000000":
        if _damm_ok(value):
            return value
        raise CellError("контрольное число не сходится — проверьте, нет ли опечатки")
    return _via(validators.normalize_registry_number, "Регистровый номер: ")(value, ctx)


def inn_person(value: str, ctx: Context) -> str | None:
    if not value:
        return None
    if len(value) == 12 and value.isascii() and value.isdigit():
        if _inn12_ok(value):
            return value
        raise CellError("контрольное число не сходится — проверьте, нет ли опечатки")
    return _via(validators.normalize_inn_person, "ИНН физического лица: ")(value, ctx)


ogrn = _via(validators.normalize_ogrn, "ОГРН: ")
inn_legal = _via(validators.normalize_inn_legal, "ИНН организации: ")
license_number = _via(validators.normalize_license_number, "Номер лицензии: ")


def kpp(value: str, ctx: Context) -> str:
    return _via(validators.normalize_kpp, "КПП: ")(value, ctx) if value else ""


def optional(cleaner):
    def clean(value: str, ctx: Context):
        return cleaner(value, ctx) if value else None

    return clean


def date(value: str, ctx: Context) -> dt.date:
    if not value:
        raise CellError("не заполнено")
    try:
        if _ISO_DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
        match = _RU_DATE.fullmatch(value)
        if match:
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        raise CellError(f"такой даты нет: «{value[:20]}»") from None
    raise CellError(f"дата в формате ГГГГ-ММ-ДД или ДД.ММ.ГГГГ, а не «{value[:20]}»")


def past_date(value: str, ctx: Context) -> dt.date:
    day = date(value, ctx)
    if day > ctx.today:
        raise CellError(f"дата {day:%d.%m.%Y} ещё не наступила")
    if day.year < 1900:
        raise CellError("дата раньше 1900 года")
    return day


def choice(mapping: dict[str, str], hint: str):
    folded = {key.casefold(): value for key, value in mapping.items()}

    def clean(value: str, ctx: Context) -> str:
        if not value:
            raise CellError("не заполнено")
        try:
            return folded[value.casefold()]
        except KeyError:
            raise CellError(f"допустимые значения: {hint}; получено «{value[:40]}»") from None

    return clean


def directory(key: str, label: str, *, required: bool = True):
    def clean(value: str, ctx: Context) -> int | None:
        if not value:
            if required:
                raise CellError("не заполнено")
            return None
        entry = ctx.directories[key].get(value)
        if entry is None:
            raise CellError(f"кода «{value[:40]}» нет в справочнике «{label}»")
        if not entry[1]:
            raise CellError(f"код «{value[:40]}» в справочнике «{label}» больше не действует")
        return entry[0]

    return clean


def rate(value: str, ctx: Context) -> Decimal:
    if not value:
        raise CellError("не заполнено")
    try:
        number = Decimal(value.replace(",", ".")) if len(value) <= 10 else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise CellError(f"ставка — число от 0,25 до 1,5, а не «{value[:20]}»")
    if not Decimal("0.25") <= number <= Decimal("1.5") or number != number.quantize(Decimal("0.01")):
        raise CellError("ставка — от 0,25 до 1,5 с шагом 0,01")
    return number.quantize(Decimal("0.01"))


def email(value: str, ctx: Context) -> str:
    if not value:
        return ""
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise CellError(f"неверный адрес электронной почты «{value[:60]}»")
    return value


def url(value: str, ctx: Context) -> str:
    if not value:
        return ""
    if len(value) > 200 or not _URL.fullmatch(value):
        raise CellError("адрес сайта начинается с http:// или https://")
    return value


_PHONE = re.compile(r"[0-9+()\- ]+")
_PHONE_CHARS = "0123456789+()- "


def phone(limit: int):
    inner = text(limit, required=False)

    def clean(value: str, ctx: Context) -> str:
        value = inner(value, ctx)
        if value and not _PHONE.fullmatch(value):
            raise CellError("допустимы цифры, пробелы, +, скобки и дефисы")
        return value

    return clean


def document_number(value: str, ctx: Context) -> str:
    if not value:
        raise CellError("не заполнено")
    number = " ".join(value.upper().split())
    if len(number) > 40:
        raise CellError(f"длиннее 40 символов ({len(number)})")
    if not _DOC_NUMBER.fullmatch(number):
        raise CellError("допустимы цифры, буквы, пробелы, дефисы и косая черта")
    return number


def citizenship(value: str, ctx: Context) -> str:
    if not value:
        return "RUS"
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise CellError("код страны — три латинские буквы (ISO 3166-1, например RUS)")
    return value.upper()


# --- Kinds ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    clean: Callable[[str, Context], Any]
    required: bool = True


@dataclass(frozen=True)
class KindSpec:
    kind: str
    label: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # Cross-field checks on a cleaned row; returns (column, reason) pairs. May add derived values.
    check: Callable[[dict, Context], list[tuple[str, str]]]
    # The staging table: (name, SQL type) in COPY order.
    stage: tuple[tuple[str, str], ...]
    # Optional fast path: (mapped header, ctx, keep) -> function(record) -> cleaned row dict or None.
    fast: Callable[[list[str | None], Context, bool], Callable[[list[str]], dict | None]] | None = None
    # Values a new record gets for an empty cell (an existing record keeps its own), by stage column.
    defaults: dict[str, str] = field(default_factory=dict)
    # Optional stage columns stored as NULL when empty (the others are text stored as "").
    nullable: frozenset[str] = frozenset()
    # Optional columns an empty cell does not "keep": parts of a key, or the key of a nested record.
    fixed: frozenset[str] = frozenset()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def keeps(self, column: Column) -> bool:
        """Whether an empty cell of this column leaves the stored value unchanged."""
        return not column.required and column.name not in self.key and column.name not in self.fixed

    def stage_type(self, name: str) -> str:
        return next(sqltype for stage_name, sqltype in self.stage if stage_name == name)

    def cleared(self, name: str):
        """The stage value of a nullable column cleared with CLEAR (NULL in the stage means "keep")."""
        sqltype = self.stage_type(name)
        if sqltype == "bigint":
            return 0
        if sqltype == "date":
            return CLEARED_DATE
        return ""

    def final(self, name: str, alias: str = "s") -> str:
        """The SQL expression of the value written from stage column ``name`` (after the stage was
        filled with the stored values of kept cells, so NULL is left only in new records)."""
        value = f"{alias}.{name}"
        if name in self.defaults:
            return f"COALESCE({value}, '{self.defaults[name]}')"
        if name in self.nullable:
            cleared = self.cleared(name)
            literal = f"'{cleared.isoformat()}'" if isinstance(cleared, dt.date) else repr(cleared)
            return f"NULLIF({value}, {literal})"
        column = next((c for c in self.columns if c.name == name), None)
        if column is not None and self.keeps(column):
            return f"COALESCE({value}, '')"
        return value

    @property
    def labels(self) -> dict[str, str]:
        return {c.name: c.label for c in self.columns}


SEX = {"M": "M", "F": "F", "М": "M", "Ж": "F", "мужской": "M", "женский": "F"}


def _check_worker(row: dict, ctx: Context) -> list[tuple[str, str]]:
    if row["middle_name"] is None:  # kept: the loader computes the name once the stored one is known
        row["search_name"] = None
        return []
    # An empty middle name leaves a trailing space, which the normalization drops.
    row["search_name"] = validators.normalize_person_name(
        f"{row['last_name']} {row['first_name']} {row['middle_name']}"
    )
    return []


def _fast_numbers_ok(snils_: str, reg: str, unchecked: str) -> bool:
    """SNILS and registry number in canonical form with good check digits."""
    return (
        len(snils_) == 11
        and snils_.isascii()
        and snils_.isdigit()
        and (snils_[:9] <= unchecked or _snils_checksum_ok(snils_))
        and len(reg) == 10
        and reg.isascii()
        and reg.isdigit()
        and reg[:9] != "000000000"
        and _damm_ok(reg)
    )


def _fast_names_ok(last: str, first: str, middle: str, control) -> bool:
    if not (0 < len(last) <= 100 and 0 < len(first) <= 100 and len(middle) <= 100):
        return False
    return not (control(last) or control(first) or (middle and control(middle)))


def _fast_birth_date(birth: str, today: str, from_iso) -> dt.date | None:
    """The ISO form only (what _ISO_DATE matches), between 1900 and today as text."""
    if (
        len(birth) != 10
        or not birth.isascii()
        or birth[4] != "-"
        or birth[7] != "-"
        or not (birth[:4] + birth[5:7] + birth[8:]).isdigit()
        or not "1900-01-01" <= birth <= today
    ):
        return None
    try:
        return from_iso(birth)
    except ValueError:
        return None


def _fast_contacts_ok(citizenship_: str, phone_: str, email_: str, control, email_text) -> bool:
    if citizenship_ and not (
        len(citizenship_) == 3 and citizenship_.isascii() and citizenship_.isalpha() and citizenship_.isupper()
    ):
        return False
    if phone_ and (len(phone_) > 20 or phone_.strip(_PHONE_CHARS)):  # some other character
        return False
    return not (email_ and not (len(email_) <= 254 and email_text(email_) and not control(email_)))


def _fast_workers(names: list[str | None], ctx: Context, keep: bool = False):
    """The common case of a large worker file, checked without the per-cell machinery.

    Returns a function of a raw record that gives the same cleaned values as the cleaners of the
    columns would, or None when the row needs them (anything not in canonical form, and every
    error: the cleaners then report it with the usual reason). The cross-field check and the
    in-file duplicate checks still run for every row, in _Cleaner. With ``keep`` an empty optional
    cell is None (the stored value stays); the clear marker always takes the cleaners' path.
    """
    position = {name: index for index, name in enumerate(names) if name}
    width = len(names)
    i_snils, i_reg, i_inn = position["snils"], position["registry_number"], position.get("inn")
    i_last, i_first, i_middle = position["last_name"], position["first_name"], position.get("middle_name")
    i_sex, i_birth = position["sex"], position["birth_date"]
    i_cit, i_phone, i_email = position.get("citizenship"), position.get("phone"), position.get("email")
    today, unchecked = ctx.today.isoformat(), _SNILS_UNCHECKED
    sexes = {"M": "M", "F": "F", "М": "M", "Ж": "F"}
    control, email_text = _CONTROL.search, _EMAIL.fullmatch
    from_iso = dt.date.fromisoformat
    empty = None if keep else ""

    def fast(record: list[str]) -> dict | None:
        if len(record) != width:
            return None
        snils_, reg = record[i_snils].strip(), record[i_reg].strip()
        if not _fast_numbers_ok(snils_, reg, unchecked):
            return None
        inn = record[i_inn].strip() if i_inn is not None else ""
        if inn and not (len(inn) == 12 and inn.isascii() and inn.isdigit() and _inn12_ok(inn)):
            return None
        last, first = record[i_last].strip(), record[i_first].strip()
        middle = record[i_middle].strip() if i_middle is not None else ""
        if middle == CLEAR or not _fast_names_ok(last, first, middle, control):
            return None
        sex = sexes.get(record[i_sex].strip())
        birth_date = _fast_birth_date(record[i_birth].strip(), today, from_iso)
        if sex is None or birth_date is None:
            return None
        citizenship_ = record[i_cit].strip() if i_cit is not None else ""
        phone_ = record[i_phone].strip() if i_phone is not None else ""
        email_ = record[i_email].strip() if i_email is not None else ""
        if phone_ == CLEAR or not _fast_contacts_ok(citizenship_, phone_, email_, control, email_text):
            return None
        return {
            "snils": snils_,
            "registry_number": reg,
            "inn": inn or None,
            "last_name": last,
            "first_name": first,
            "middle_name": middle or empty,
            "sex": sex,
            "birth_date": birth_date,
            "citizenship": citizenship_ or ("RUS" if empty is not None else None),
            "phone": phone_ or empty,
            "email": email_ or empty,
        }

    return fast


WORKERS = KindSpec(
    kind="workers",
    label="работники",
    columns=(
        Column("snils", "СНИЛС", snils),
        Column("registry_number", "Регистровый номер", registry_number),
        Column("inn", "ИНН", inn_person, required=False),
        Column("last_name", "Фамилия", text(100)),
        Column("first_name", "Имя", text(100)),
        Column("middle_name", "Отчество", text(100, required=False), required=False),
        Column("sex", "Пол", choice(SEX, "M, F (или М, Ж)")),
        Column("birth_date", "Дата рождения", past_date),
        Column("citizenship", "Гражданство", citizenship, required=False),
        Column("phone", "Телефон", phone(20), required=False),
        Column("email", "E-mail", email, required=False),
    ),
    key=("snils",),
    check=_check_worker,
    stage=(
        ("row_no", "integer"),
        ("snils", "varchar(11)"),
        ("registry_number", "varchar(10)"),
        ("inn", "varchar(12)"),
        ("last_name", "varchar(100)"),
        ("first_name", "varchar(100)"),
        ("middle_name", "varchar(100)"),
        ("sex", "varchar(1)"),
        ("birth_date", "date"),
        ("citizenship", "varchar(3)"),
        ("phone", "varchar(20)"),
        ("email", "varchar(254)"),
        ("search_name", "varchar(310)"),
    ),
    fast=_fast_workers,
    defaults={"citizenship": "RUS"},
    nullable=frozenset({"inn"}),
)


ORG_STATUS = {"active": "active", "closed": "closed", "действующая": "active", "ликвидирована": "closed"}
LICENSE_STATUS = {
    "active": "active",
    "suspended": "suspended",
    "terminated": "terminated",
    "действующая": "active",
    "приостановлена": "suspended",
    "прекращена": "terminated",
}


def _check_organization(row: dict, ctx: Context) -> list[tuple[str, str]]:
    problems = []
    row["search_name"] = validators.normalize_person_name(row["short_name"])
    if row["status"] == "closed" and row["closed_on"] is None:
        problems.append(("closed_on", "у ликвидированной организации укажите дату закрытия"))
    if row["status"] != "closed" and row["closed_on"] is not None:
        problems.append(("closed_on", "дата закрытия только у ликвидированной организации (status=closed)"))
    license_fields = ("license_issued_on", "license_authority")
    if row["license_number"]:
        for name in license_fields:
            if not row[name]:
                problems.append((name, "не заполнено, хотя указан номер лицензии"))
        if (
            row["license_valid_until"]
            and row["license_issued_on"]
            and row["license_valid_until"] <= row["license_issued_on"]
        ):
            problems.append(("license_valid_until", "лицензия должна действовать дольше даты выдачи"))
    else:
        for name in (*license_fields, "license_valid_until", "license_status"):
            if row[name]:
                problems.append((name, "заполнено без номера лицензии (license_number)"))
    return problems


def _optional_choice(mapping, hint):
    inner = choice(mapping, hint)

    def clean(value: str, ctx: Context):
        return inner(value, ctx) if value else None

    return clean


ORGANIZATIONS = KindSpec(
    kind="organizations",
    label="организации",
    columns=(
        Column("ogrn", "ОГРН", ogrn),
        Column("inn", "ИНН", inn_legal),
        Column("kpp", "КПП", kpp, required=False),
        Column("full_name", "Полное наименование", text(1000)),
        Column("short_name", "Краткое наименование", text(500)),
        Column(
            "org_type", "Тип организации", directory("org_type", "типы организаций", required=False), required=False
        ),
        Column("region", "Регион", directory("region", "регионы")),
        Column("address", "Адрес", text(1000, required=False), required=False),
        Column("phone", "Телефон", phone(40), required=False),
        Column("email", "E-mail", email, required=False),
        Column("website", "Сайт", url, required=False),
        Column("status", "Статус", choice(ORG_STATUS, "active, closed"), required=False),
        Column("closed_on", "Дата закрытия", optional(past_date), required=False),
        Column("license_number", "Номер лицензии", optional(license_number), required=False),
        Column("license_issued_on", "Дата выдачи лицензии", optional(past_date), required=False),
        Column("license_valid_until", "Лицензия действует до", optional(date), required=False),
        Column("license_authority", "Лицензирующий орган", text(500, required=False), required=False),
        Column(
            "license_status",
            "Статус лицензии",
            _optional_choice(LICENSE_STATUS, "active, suspended, terminated"),
            required=False,
        ),
    ),
    key=("ogrn",),
    check=_check_organization,
    stage=(
        ("row_no", "integer"),
        ("ogrn", "varchar(13)"),
        ("inn", "varchar(10)"),
        ("kpp", "varchar(9)"),
        ("full_name", "varchar(1000)"),
        ("short_name", "varchar(500)"),
        ("org_type", "bigint"),
        ("region", "bigint"),
        ("address", "varchar(1000)"),
        ("phone", "varchar(40)"),
        ("email", "varchar(254)"),
        ("website", "varchar(200)"),
        ("status", "varchar(16)"),
        ("closed_on", "date"),
        ("search_name", "varchar(500)"),
        ("license_number", "varchar(40)"),
        ("license_issued_on", "date"),
        ("license_valid_until", "date"),
        ("license_authority", "varchar(500)"),
        ("license_status", "varchar(16)"),
    ),
    defaults={"status": "active", "license_status": "active"},
    nullable=frozenset({"org_type", "closed_on", "license_valid_until"}),
    # The license is keyed by its number; the date and authority are required with it.
    fixed=frozenset({"license_number", "license_issued_on", "license_authority"}),
)


EMPLOYMENT_KIND = {
    "main": "main",
    "internal": "internal",
    "external": "external",
    "основное": "main",
    "внутреннее": "internal",
    "внешнее": "external",
}


def _check_employment(row: dict, ctx: Context) -> list[tuple[str, str]]:
    problems = []
    if row["ended_on"] is not None and row["ended_on"] < row["started_on"]:
        problems.append(("ended_on", "дата окончания раньше даты начала"))
    if row["dismissal_reason"] and row["ended_on"] is None:
        problems.append(("dismissal_reason", "причина увольнения без даты окончания"))
    if "ended_on" in row.get("cleared", ()) and row["dismissal_reason"] is None:
        # The stored reason would stay on a post with no end date (the table refuses that).
        problems.append(("dismissal_reason", "дата окончания очищается («-»): очистите и причину увольнения («-»)"))
    return problems


EMPLOYMENTS = KindSpec(
    kind="employments",
    label="места работы",
    columns=(
        Column("snils", "СНИЛС работника", snils),
        Column("ogrn", "ОГРН организации", ogrn),
        Column("position", "Должность", directory("position", "должности")),
        Column("specialty", "Специальность", directory("specialty", "специальности", required=False), required=False),
        Column("department", "Подразделение", text(300, required=False), required=False),
        Column("rate", "Ставка", rate),
        Column("kind", "Вид занятости", _optional_choice(EMPLOYMENT_KIND, "main, internal, external"), required=False),
        Column("started_on", "Дата начала", past_date),
        Column("ended_on", "Дата окончания", optional(date), required=False),
        Column("dismissal_reason", "Причина увольнения", text(500, required=False), required=False),
    ),
    key=("snils", "ogrn", "position", "started_on"),
    check=_check_employment,
    stage=(
        ("row_no", "integer"),
        ("snils", "varchar(11)"),
        ("ogrn", "varchar(13)"),
        ("position", "bigint"),
        ("specialty", "bigint"),
        ("department", "varchar(300)"),
        ("rate", "numeric(3,2)"),
        ("kind", "varchar(16)"),
        ("started_on", "date"),
        ("ended_on", "date"),
        ("dismissal_reason", "varchar(500)"),
    ),
    defaults={"kind": "main"},
    nullable=frozenset({"specialty", "ended_on"}),
)


DOC_KIND = {
    "certificate": "certificate",
    "accreditation": "accreditation",
    "сертификат": "certificate",
    "аккредитация": "accreditation",
}
DOC_STATUS = {
    "valid": "valid",
    "suspended": "suspended",
    "annulled": "annulled",
    "действителен": "valid",
    "приостановлен": "suspended",
    "аннулирован": "annulled",
}


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _check_document(row: dict, ctx: Context) -> list[tuple[str, str]]:
    problems = []
    issued, until = row["issued_on"], row["valid_until"]
    if until <= issued:
        problems.append(("valid_until", "срок действия должен заканчиваться позже даты выдачи"))
    else:
        years = settings.ADMISSION_VALIDITY_YEARS
        limit = add_years(issued, years)
        if until > limit:
            problems.append(("valid_until", f"не позже {limit:%d.%m.%Y} — документ действует {years} лет"))
    if row["kind"] == "accreditation" and row["accreditation_kind"] is None:
        problems.append(("accreditation_kind", "для свидетельства об аккредитации укажите вид аккредитации"))
    if row["kind"] == "certificate" and row["accreditation_kind"] is not None:
        problems.append(("accreditation_kind", "у сертификата специалиста нет вида аккредитации"))
    return problems


ADMISSION_DOCUMENTS = KindSpec(
    kind="admission_documents",
    label="документы о допуске",
    columns=(
        Column("snils", "СНИЛС работника", snils),
        Column("kind", "Вид документа", choice(DOC_KIND, "certificate, accreditation")),
        Column("number", "Номер", document_number),
        Column("specialty", "Специальность", directory("specialty", "специальности")),
        Column(
            "accreditation_kind",
            "Вид аккредитации",
            directory("accreditation_kind", "виды аккредитации", required=False),
            required=False,
        ),
        Column("issued_on", "Дата выдачи", past_date),
        Column("valid_until", "Действует до", date),
        Column("status", "Статус", _optional_choice(DOC_STATUS, "valid, suspended, annulled"), required=False),
    ),
    key=("kind", "number"),
    check=_check_document,
    stage=(
        ("row_no", "integer"),
        ("snils", "varchar(11)"),
        ("kind", "varchar(16)"),
        ("number", "varchar(40)"),
        ("specialty", "bigint"),
        ("accreditation_kind", "bigint"),
        ("issued_on", "date"),
        ("valid_until", "date"),
        ("status", "varchar(16)"),
    ),
    defaults={"status": "valid"},
    nullable=frozenset({"accreditation_kind"}),
)


def diploma_part(limit: int, *, required: bool):
    """A diploma series or number: letters, digits, spaces, dashes and slashes, upper-cased."""

    def clean(value: str, ctx: Context) -> str:
        if not value:
            if required:
                raise CellError("не заполнено")
            return ""
        number = " ".join(value.upper().split())
        if len(number) > limit:
            raise CellError(f"длиннее {limit} символов ({len(number)})")
        if not _DOC_NUMBER.fullmatch(number):
            raise CellError("допустимы цифры, буквы, пробелы, дефисы и косая черта")
        return number

    return clean


def _check_education(row: dict, ctx: Context) -> list[tuple[str, str]]:
    return []


EDUCATIONS = KindSpec(
    kind="educations",
    label="образование",
    columns=(
        Column("snils", "СНИЛС работника", snils),
        Column("level", "Уровень образования", directory("education_level", "уровни образования")),
        Column("institution", "Образовательная организация", text(500)),
        Column("diploma_series", "Серия диплома", diploma_part(20, required=False), required=False),
        Column("diploma_number", "Номер диплома", diploma_part(30, required=True)),
        Column("issued_on", "Дата выдачи", past_date),
        Column("specialty", "Специальность", directory("specialty", "специальности", required=False), required=False),
        Column("specialty_text", "Специальность по диплому", text(300, required=False), required=False),
        Column("qualification", "Квалификация", text(300, required=False), required=False),
    ),
    key=("snils", "diploma_series", "diploma_number"),
    check=_check_education,
    stage=(
        ("row_no", "integer"),
        ("snils", "varchar(11)"),
        ("level", "bigint"),
        ("institution", "varchar(500)"),
        ("diploma_series", "varchar(20)"),
        ("diploma_number", "varchar(30)"),
        ("issued_on", "date"),
        ("specialty", "bigint"),
        ("specialty_text", "varchar(300)"),
        ("qualification", "varchar(300)"),
    ),
    nullable=frozenset({"specialty"}),
)

# A qualification category is awarded for five years (the certification rules of the Ministry of Health).
CATEGORY_VALIDITY_YEARS = 5


def _check_category(row: dict, ctx: Context) -> list[tuple[str, str]]:
    awarded, until = row["awarded_on"], row["valid_until"]
    if until <= awarded:
        return [("valid_until", "срок действия должен заканчиваться позже даты присвоения")]
    limit = add_years(awarded, CATEGORY_VALIDITY_YEARS)
    if until > limit:
        years = CATEGORY_VALIDITY_YEARS
        return [("valid_until", f"не позже {limit:%d.%m.%Y} — категория присваивается на {years} лет")]
    return []


CATEGORIES = KindSpec(
    kind="categories",
    label="квалификационные категории",
    columns=(
        Column("snils", "СНИЛС работника", snils),
        Column("category", "Категория", directory("category", "квалификационные категории")),
        Column("specialty", "Специальность", directory("specialty", "специальности")),
        Column("awarded_on", "Дата присвоения", past_date),
        Column("valid_until", "Действует до", date),
        Column("order_number", "Номер приказа", text(60, required=False), required=False),
    ),
    # A category for a specialty awarded on a day; a corrected category or order number updates it.
    key=("snils", "specialty", "awarded_on"),
    check=_check_category,
    stage=(
        ("row_no", "integer"),
        ("snils", "varchar(11)"),
        ("category", "bigint"),
        ("specialty", "bigint"),
        ("awarded_on", "date"),
        ("valid_until", "date"),
        ("order_number", "varchar(60)"),
    ),
)

CME_KIND = {
    "program": "program",
    "activity": "activity",
    "element": "element",
    "программа": "program",
    "мероприятие": "activity",
    "модуль": "element",
}


def hours(value: str, ctx: Context) -> int:
    if not value:
        raise CellError("не заполнено")
    text_ = value.replace(",", ".")
    if not _DIGITS.fullmatch(text_) or len(text_) > 4:
        raise CellError(f"целое число часов (ЗЕТ) от 1 до 1000, а не «{value[:20]}»")
    number = int(text_)
    if not 1 <= number <= 1000:
        raise CellError("от 1 до 1000 часов (ЗЕТ)")
    return number


def _check_cme(row: dict, ctx: Context) -> list[tuple[str, str]]:
    return []


CME = KindSpec(
    kind="cme",
    label="записи НМО",
    columns=(
        Column("snils", "СНИЛС работника", snils),
        Column("kind", "Вид", _optional_choice(CME_KIND, "program, activity, element"), required=False),
        Column("topic", "Тема", text(500)),
        Column("provider", "Организатор", text(500, required=False), required=False),
        Column("completed_on", "Дата освоения", past_date),
        Column("hours", "Часы (ЗЕТ)", hours),
        Column("specialty", "Специальность", directory("specialty", "специальности", required=False), required=False),
    ),
    # One topic completed on one day; hours, provider and kind may be corrected by a later file.
    key=("snils", "completed_on", "topic"),
    check=_check_cme,
    stage=(
        ("row_no", "integer"),
        ("snils", "varchar(11)"),
        ("kind", "varchar(16)"),
        ("topic", "varchar(500)"),
        ("provider", "varchar(500)"),
        ("completed_on", "date"),
        ("hours", "smallint"),
        ("specialty", "bigint"),
    ),
    defaults={"kind": "program"},
    nullable=frozenset({"specialty"}),
)

KINDS: dict[str, KindSpec] = {
    spec.kind: spec for spec in (WORKERS, ORGANIZATIONS, EMPLOYMENTS, ADMISSION_DOCUMENTS, EDUCATIONS, CATEGORIES, CME)
}
# Kinds whose rows belong to a worker, found by the worker's SNILS (or a SNILS merged into them).
WORKER_RECORD_KINDS = ("employments", "admission_documents", "educations", "categories", "cme")

# Target models, for messages and the sync reconciliation.
TARGET_MODELS = {
    "workers": MedicalWorker,
    "organizations": MedicalOrganization,
    "employments": Employment,
    "admission_documents": AdmissionDocument,
    "educations": Education,
    "categories": CategoryAssignment,
    "cme": ContinuingEducation,
}
LICENSE_MODEL = OrganizationLicense
