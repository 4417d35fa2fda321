"""One validation layer for the parameters of every read of the register: the REST API, the FHIR view
and the public search page.

A parameter is declared once (name, Russian label, what it accepts). The same declaration parses a
value and describes it in the OpenAPI schema (``Param.openapi``), so the schema says exactly what is
accepted and an outside fuzzer finds the two in agreement. Rules that every parameter shares:

- A control character (U+0000–U+001F, U+007F–U+009F) in a value is refused with an error naming the
  parameter: PostgreSQL cannot store NUL in text, and no name, code or identifier contains one.
- An empty value is the same as no value: the public form sends every field, filled or not (the schema
  says ``allowEmptyValue``).
- A parameter given twice is refused: which of the two would win is a guess the client should not
  have to make.
- Identifiers go through registry.validators (any printed form: spaces, dashes, the «МР» prefix);
  directory codes are looked up; dates are ISO 8601 (the public page also takes ДД.ММ.ГГГГ); booleans
  are ``true`` / ``false`` (the public page's checkbox also sends ``on``); integers are plain decimals.
- An identifier whose check digits do not match (a typo) is well formed but can match no stored record,
  and a JSON schema cannot describe a checksum. So it is not an error: the answer is empty and carries
  a warning that names the parameter (``ParamWarning``).

This module imports nothing from the API: the register must not know about its readers.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from core import validators

from ..models import AdmissionStatus, QualificationCategory, Region, Specialty

# --- Characters ---------------------------------------------------------------------------------

# Unicode category Cc: C0 controls, DEL and C1 controls.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"

# Whitespace that str.strip() removes around an identifier and that is not a control character
# (tests/registry/test_params.py checks this against every code point).
SPACES = " \u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"


def _char_class(chars: Iterable[str]) -> str:
    return "[" + "".join(f"\\u{ord(c):04x}" for c in sorted(set(chars))) + "]"


_SPACE_CLASS = _char_class(SPACES)
_SEPARATOR_CLASS = _char_class(validators._SEPARATORS)


def identifier_pattern(digits: int, *, first: str = "0-9", prefix: str = "") -> str:
    """The regular expression of what a registry.validators normalizer accepts for an identifier of
    `digits` digits: spaces around, separators (spaces, dashes) anywhere between the digits, an optional
    prefix (a regular expression). The check digits are beyond any regular expression."""
    head = f"(?:{prefix}{_SPACE_CLASS}*)?" if prefix else ""
    return (
        f"^{_SPACE_CLASS}*{head}{_SEPARATOR_CLASS}*[{first}]"
        f"(?:{_SEPARATOR_CLASS}*[0-9]){{{digits - 1}}}{_SEPARATOR_CLASS}*{_SPACE_CLASS}*$"
    )


def describe_character(char: str) -> str:
    return f"U+{ord(char):04X}"


# --- Errors -------------------------------------------------------------------------------------


class ParamError(Exception):
    """A refused value: `name` is the parameter, `message` names it in Russian, `code` is machine-readable."""

    def __init__(self, name: str, message: str, code: str = "invalid"):
        super().__init__(message)
        self.name, self.message, self.code = name, message, code


class ParamWarning(ParamError):
    """A well-formed value that can match nothing (an identifier with wrong check digits)."""


class ParamErrors(Exception):
    def __init__(self, errors: list[ParamError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


# --- Parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Param:
    name: str
    label: str
    description: str = ""
    location: str = "query"  # or "path"

    def parse(self, text: str, *, form: bool = False) -> Any:
        """The value of a non-empty `text` free of control characters; raises ParamError."""
        return text

    def json_schema(self) -> dict:
        return {"type": "string", "pattern": NO_CONTROL_PATTERN}

    def error(self, message: str, code: str = "invalid") -> ParamError:
        return ParamError(self.name, f"{self.label}: {message}", code)

    def clean(self, text: str, *, form: bool = False) -> Any:
        """Control characters refused, then `parse`. (Empty values never get here.)"""
        bad = CONTROL_CHARACTERS.search(text)
        if bad:
            raise self.error(f"недопустимый управляющий символ {describe_character(bad.group())}.", "control_character")
        return self.parse(text, form=form)

    def openapi(self) -> dict:
        parameter = {"name": self.name, "in": self.location, "required": self.location == "path"}
        if self.description:
            parameter["description"] = self.description
        if self.location == "query":
            parameter["allowEmptyValue"] = True  # an empty value means "no filter"
        parameter["schema"] = self.json_schema()
        return parameter


@dataclass(frozen=True, kw_only=True)
class Text(Param):
    max_length: int = 200

    def parse(self, text, *, form=False):
        if len(text) > self.max_length:
            raise self.error(f"не длиннее {self.max_length} символов.", "max_length")
        return text

    def json_schema(self):
        return {"type": "string", "maxLength": self.max_length, "pattern": NO_CONTROL_PATTERN}


_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,19})")


@dataclass(frozen=True, kw_only=True)
class Integer(Param):
    minimum: int | None = None
    maximum: int | None = None

    def _range(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"целое число от {self.minimum} до {self.maximum}."
        if self.minimum is not None:
            return f"целое число не меньше {self.minimum}."
        return "целое число."

    def parse(self, text, *, form=False):
        # Plain decimals only: int() also takes «٣», «+5», «1_000» and « 7 », which the schema does not.
        if not _INTEGER.fullmatch(text):
            raise self.error(self._range())
        value = int(text)
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise self.error(self._range(), "range")
        return value

    def json_schema(self):
        schema: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


@dataclass(frozen=True, kw_only=True)
class Boolean(Param):
    VALUES = {"true": True, "false": False}
    # What an HTML checkbox without a value attribute sends; saved searches and bookmarks carry it.
    FORM_VALUES = {**VALUES, "on": True}

    def parse(self, text, *, form=False):
        values = self.FORM_VALUES if form else self.VALUES
        if text not in values:
            raise self.error("допустимые значения — true или false.")
        return values[text]

    def json_schema(self):
        return {"type": "boolean"}


@dataclass(frozen=True, kw_only=True)
class Choice(Param):
    choices: tuple[tuple[str, str], ...]  # (value, Russian label)

    @property
    def values(self) -> list[str]:
        return [value for value, _ in self.choices]

    def parse(self, text, *, form=False):
        if text not in self.values:
            raise self.error(f"допустимые значения — {', '.join(self.values)}.", "invalid_choice")
        return text

    def json_schema(self):
        return {"type": "string", "enum": self.values}


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_RU_DATE = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})")


def _date(match: re.Match | None, order: tuple[int, int, int]) -> dt.date | None:
    if match is None:
        return None
    year, month, day = (int(match.group(i)) for i in order)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


@dataclass(frozen=True, kw_only=True)
class Date(Param):
    def parse(self, text, *, form=False):
        value = _date(_ISO_DATE.fullmatch(text), (1, 2, 3))
        if value is None and form:
            value = _date(_RU_DATE.fullmatch(text), (3, 2, 1))
        if value is None:
            raise self.error("дата в формате ГГГГ-ММ-ДД или ДД.ММ.ГГГГ." if form else "дата в формате ГГГГ-ММ-ДД.")
        return value

    def json_schema(self):
        return {"type": "string", "format": "date"}


# RFC 3339 date-time (what OpenAPI's "date-time" format means), in ASCII digits.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
_UTC_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
_UTC_MAX = dt.datetime.max.replace(tzinfo=dt.UTC)


def parse_rfc3339(text: str) -> dt.datetime | None:
    """An aware UTC datetime, or None when `text` is not an RFC 3339 date-time.

    Whatever RFC 3339 allows is read: a leap second is the last microsecond of its minute, and a moment
    outside Python's years 1-9999 once in UTC (0000-…, or 0001-01-01T00:00:00+05:00) is the first or the
    last one. The offset is applied here: PostgreSQL refuses offsets beyond ±15:59 that RFC 3339 allows.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not 1 <= month <= 12 or hour > 23 or minute > 59 or second > 60:
        return None
    # Year 0000 is a leap year of the proleptic calendar, like 2000.
    if not 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
        return None
    offset = dt.timedelta(0)
    if not match.group(8):
        off_hours, off_minutes = int(match.group(10)), int(match.group(11))
        if off_hours > 23 or off_minutes > 59:
            return None
        offset = dt.timedelta(hours=off_hours, minutes=off_minutes) * (-1 if match.group(9) == "-" else 1)
    if year == 0:
        return _UTC_MIN
    micros = int((match.group(7) or "")[:6].ljust(6, "0"))
    naive = dt.datetime(year, month, day, hour, minute, min(second, 59), 999_999 if second == 60 else micros)
    try:
        return (naive - offset).replace(tzinfo=dt.UTC)
    except OverflowError:
        return _UTC_MIN if offset > dt.timedelta(0) else _UTC_MAX


@dataclass(frozen=True, kw_only=True)
class DateTime(Param):
    """An RFC 3339 date-time, or (``allow_date``) a date meaning its midnight in the server's time zone."""

    allow_date: bool = False

    def parse(self, text, *, form=False):
        value = parse_rfc3339(text)
        if value is None and self.allow_date:
            day = _date(_ISO_DATE.fullmatch(text), (1, 2, 3))
            if day is not None:
                from django.utils import timezone

                try:
                    value = timezone.make_aware(dt.datetime.combine(day, dt.time.min)).astimezone(dt.UTC)
                except OverflowError:  # 0001-01-01 east of UTC: before the first representable moment
                    value = _UTC_MIN
        if value is None:
            raise self.error(
                "дата-время в формате RFC 3339, например 2026-01-31T12:00:00+03:00 (знак «+» в адресе "
                "записывается как %2B)" + (" или дата ГГГГ-ММ-ДД." if self.allow_date else ".")
            )
        return value

    def json_schema(self):
        if self.allow_date:
            return {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}
        return {"type": "string", "format": "date-time"}


@dataclass(frozen=True, kw_only=True)
class DirectoryCode(Param):
    """A code of a directory (НСИ); the value is the directory entry. The schema lists the codes."""

    model: Any

    def parse(self, text, *, form=False):
        entry = self.model.objects.filter(code=text).first() if len(text) <= 32 else None
        if entry is None:
            raise self.error(f"неизвестный код «{text[:32]}».", "invalid")
        return entry

    def codes(self) -> list[str]:
        try:
            return list(self.model.objects.order_by("code").values_list("code", flat=True))
        except DatabaseError:
            # No table yet: drf-spectacular's system check builds the schema before any migration ran.
            return []

    def json_schema(self):
        codes = self.codes()
        schema: dict[str, Any] = {"type": "string", "maxLength": 32, "pattern": NO_CONTROL_PATTERN}
        if codes:  # an empty enum is not valid JSON Schema; an empty directory accepts nothing anyway
            schema["enum"] = codes
        oid = getattr(self.model, "OID", "")
        schema["description"] = f"Код справочника {oid}." if oid else "Код справочника."
        return schema


@dataclass(frozen=True, kw_only=True)
class Identifier(Param):
    """An identifier in any printed form, through its registry.validators normalizer; the value is the
    stored form (digits). Wrong check digits: ParamWarning (nothing can match)."""

    normalize: Callable[[object], str]
    digits: int
    first: str = "0-9"
    prefix: str = ""
    format: str = ""

    def parse(self, text, *, form=False):
        try:
            return self.normalize(text)
        except ValidationError as exc:
            message = " ".join(exc.messages)
            if not message.endswith("."):
                message += "."
            if exc.code == "checksum":
                raise ParamWarning(self.name, f"{message} Ничего не найдено.", "checksum") from exc
            raise ParamError(self.name, message, exc.code or "invalid") from exc

    def pattern(self) -> str:
        return identifier_pattern(self.digits, first=self.first, prefix=self.prefix)

    def json_schema(self):
        schema = {"type": "string", "maxLength": validators.MAX_INPUT_LENGTH, "pattern": self.pattern()}
        if self.format:
            schema["format"] = self.format
        return schema

    def matches(self, text: str) -> bool:
        """Whether `text` has the shape of this identifier (the schema's pattern); check digits aside."""
        return re.fullmatch(self.pattern(), text) is not None


def registry_number(name: str = "registry_number", *, location: str = "query", description: str = "") -> Identifier:
    return Identifier(
        name=name,
        label=validators.FIELD_REGISTRY,
        location=location,
        normalize=validators.normalize_registry_number,
        digits=10,
        prefix="[МMмm][РPRрpr]",
        format="registry-number",
        description=description
        or "Регистровый номер в любом написании: 0000000013, 000000001-3, «МР 000000001-3» (10 цифр, "
        "последняя — контрольная по алгоритму Дамма).",
    )


def registry_number_in(text: str) -> str | None:
    """The registry number `text` is, in any printed form, or None (a name, a typo, anything else)."""
    if not text or not any(c.isdigit() for c in text):
        return None
    try:
        return validators.normalize_registry_number(text)
    except ValidationError:
        return None


# --- Cursors ------------------------------------------------------------------------------------

# A cursor is a position in a keyset order, hex-encoded: the key's text part (UTF-8) first, then each
# number as 8 bytes. Every string of the declared pattern is a position, so the schema describes the
# cursor exactly; a cursor made up by hand is read as the nearest position, never an error.
_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_MAX_MICROS = (_UTC_MAX - _EPOCH) // dt.timedelta(microseconds=1)
BIGINT_MAX = 2**63 - 1
TEXT_MAX_BYTES = 2000  # an organization's search_name: 500 characters of up to 4 bytes


@dataclass(frozen=True, kw_only=True)
class Cursor(Param):
    """Opaque to clients: `key` says what it encodes, each item "text", "int" or "datetime" (at most one
    "text", which comes first)."""

    key: tuple[str, ...]
    description: str = "Непрозрачный курсор из ссылки `next` (или поля `cursor`) предыдущей страницы."

    @property
    def _fixed_bytes(self) -> int:
        return 8 * sum(1 for kind in self.key if kind != "text")

    @property
    def _has_text(self) -> bool:
        return "text" in self.key

    def encode(self, values: Iterable[Any]) -> str:
        text, numbers = b"", b""
        for kind, value in zip(self.key, values, strict=True):
            if kind == "text":
                text = str(value).encode()[:TEXT_MAX_BYTES]
            elif kind == "datetime":
                micros = (value.astimezone(dt.UTC) - _EPOCH) // dt.timedelta(microseconds=1)
                numbers += micros.to_bytes(8, "big")
            else:
                numbers += int(value).to_bytes(8, "big")
        return (text + numbers).hex()

    def parse(self, text, *, form=False):
        if not re.fullmatch(self.pattern(), text):
            raise self.error("недопустимое значение; используйте ссылку next из ответа.")
        raw = bytes.fromhex(text)
        split = len(raw) - self._fixed_bytes
        head, tail = raw[:split], raw[split:]
        values, offset = [], 0
        for kind in self.key:
            if kind == "text":
                # A hand-made cursor may not be UTF-8 or may hold a NUL: read it as the nearest text.
                values.append(head.decode(errors="replace").replace("\x00", ""))
                continue
            number = int.from_bytes(tail[offset : offset + 8], "big")
            offset += 8
            if kind == "datetime":
                values.append(_EPOCH + dt.timedelta(microseconds=min(number, _MAX_MICROS)))
            else:
                values.append(min(number, BIGINT_MAX))
        return values

    def pattern(self) -> str:
        fixed = 2 * self._fixed_bytes
        if self._has_text:
            return f"^(?:[0-9a-f]{{2}}){{{self._fixed_bytes},{self._fixed_bytes + TEXT_MAX_BYTES}}}$"
        return f"^[0-9a-f]{{{fixed}}}$"

    def json_schema(self):
        return {"type": "string", "pattern": self.pattern()}


# --- Sets of parameters -------------------------------------------------------------------------


@dataclass
class Cleaned:
    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[ParamError] = field(default_factory=list)  # each means: nothing can match
    ignored: list[str] = field(default_factory=list)  # parameters this set does not know

    @property
    def matches_nothing(self) -> bool:
        return bool(self.warnings)


def _values(data: Mapping, name: str) -> list[str]:
    if hasattr(data, "getlist"):
        return list(data.getlist(name))
    value = data.get(name)
    return [] if value is None else [value]


class ParamSet:
    """The query parameters of one operation, cleaned together; every error is reported, not the first."""

    def __init__(self, *params: Param):
        self.params = {p.name: p for p in params}

    def __iter__(self):
        return iter(self.params.values())

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def __add__(self, other: ParamSet | Iterable[Param]) -> ParamSet:
        return ParamSet(*self, *other)

    def only(self, *names: str) -> ParamSet:
        return ParamSet(*(self.params[n] for n in names))

    def clean(self, data: Mapping, *, form: bool = False) -> Cleaned:
        """Raises ParamErrors with every refused parameter."""
        result, errors = Cleaned(), []
        result.ignored = [key for key in data if key not in self.params]
        for name, param in self.params.items():
            if param.location != "query":
                continue
            raw = _values(data, name)
            if len(raw) > 1:
                errors.append(param.error("параметр указан несколько раз; укажите одно значение.", "repeated"))
                continue
            if not raw or raw[0] == "":
                continue
            try:
                result.values[name] = param.clean(raw[0], form=form)
            except ParamWarning as warning:
                result.warnings.append(warning)
            except ParamError as error:
                errors.append(error)
        if errors:
            raise ParamErrors(errors)
        return result

    def openapi(self) -> list[dict]:
        return [p.openapi() for p in self.params.values()]


def clean_path(param: Param, value: str) -> Any | None:
    """A path parameter's value, or None when it is not one (the caller answers 404)."""
    if not value:
        return None
    try:
        return param.clean(value)
    except ParamError:
        return None


# --- The public search, shared with the API ----------------------------------------------------


# Statuses the public search offers (an annulled document shows as "no document" there).
PUBLIC_STATUSES = [
    (AdmissionStatus.ACTIVE, "Действует"),
    (AdmissionStatus.EXPIRING, "Истекает"),
    (AdmissionStatus.EXPIRED, "Истёк"),
    (AdmissionStatus.SUSPENDED, "Приостановлен"),
    (AdmissionStatus.NONE, "Нет документа"),
]

# The filters of the public register search, which the API's worker search takes too.
WORKER_SEARCH = ParamSet(
    Text(
        name="q",
        label="ФИО",
        max_length=200,
        description="Начала слов ФИО или специальности в любом порядке («иван мар»), как на /registry/; "
        "или регистровый номер в любом написании.",
    ),
    DirectoryCode(name="specialty", label="Специальность", model=Specialty),
    DirectoryCode(name="region", label="Регион", model=Region),
    Integer(
        name="organization",
        label="Организация",
        minimum=1,
        maximum=BIGINT_MAX,
        description="Идентификатор организации: её нынешние сотрудники (нет такой организации — пустой ответ).",
    ),
    Choice(name="status", label="Статус допуска", choices=tuple((str(v), label) for v, label in PUBLIC_STATUSES)),
    DirectoryCode(name="category", label="Категория", model=QualificationCategory),
    Date(name="registered_from", label="Включён в регистр с"),
    Date(name="registered_to", label="по", description="Включён в регистр по эту дату включительно."),
    Boolean(name="confirmed", label="Только с подтверждёнными документами"),
)


PER_PAGE_CHOICES = (10, 25, 50, 100)

# The public search page: the filters and how the table is shown.
SEARCH_PAGE = WORKER_SEARCH + ParamSet(
    Text(name="sort", label="Сортировка", max_length=40),
    Choice(name="per_page", label="На странице", choices=tuple((str(n), str(n)) for n in PER_PAGE_CHOICES)),
    Integer(name="page", label="Страница", minimum=1, maximum=BIGINT_MAX),
)


# --- Django forms on top of the layer ---------------------------------------------------------


class ParamField(forms.Field):
    """A form field whose validation is the layer's: the public page refuses and accepts what the API does
    (plus the spellings a browser sends: ``on`` for a checkbox, ДД.ММ.ГГГГ for a date)."""

    def __init__(self, param: Param, *, empty_value=None, choices=None, **kwargs):
        kwargs.setdefault("label", param.label)
        super().__init__(required=False, **kwargs)
        self.param, self.empty_value = param, empty_value
        if choices is not None:
            self.choices = choices

    def clean(self, value):
        if value is None or value == "":
            return self.empty_value
        if not isinstance(value, str):
            value = str(value)
        try:
            return self.param.clean(value, form=True)
        except ParamError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc

    def prepare_value(self, value):
        # What the template shows: a checkbox is ticked only for a value that means true.
        if isinstance(self.param, Boolean):
            return value is True or value in ("true", "on")
        return value


def repeated_errors(data: Mapping, names: Iterable[str], fields: Mapping[str, forms.Field]) -> dict[str, str]:
    """{name: message} for each parameter given more than once (a form reads only the last)."""
    errors = {}
    for name in names:
        if len(_values(data, name)) > 1:
            label = getattr(fields.get(name), "label", name)
            errors[name] = f"{label}: параметр указан несколько раз; укажите одно значение."
    return errors
