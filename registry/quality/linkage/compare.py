"""The comparison vector of a pair of workers: one level per field, written twice.

Each `Comparison` lists its levels top to bottom (the first that holds wins, as in SQL CASE WHEN)
with the DuckDB SQL Splink runs and a Russian label; `compare` computes the same levels in Python
(rapidfuzz for string distances). tests/test_parity.py checks that both give the same vector.

Levels are designed for the kinds of duplicates a register has (issue 15): surname equal up to
its gender ending, one part of a double surname, one letter off; first name and patronymic in
either order (`names.given_names` puts them back), patronymic missing; birth date with one wrong
digit or day and month swapped. SNILS and INN are unique in the register, so two records never
share them; a *near* SNILS or INN (one digit, or two digits transposed) is evidence of one person,
and any other difference is simply the «else» level that training weighs like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from .record import Record

NULL = "null"


@dataclass(frozen=True)
class Level:
    key: str
    sql: str  # DuckDB condition over <col>_l / <col>_r
    label: str  # Russian, for the admin screen: completes «<Поле>: …»
    tf_column: str | None = None  # term-frequency adjusted (rarer values weigh more)


@dataclass(frozen=True)
class Comparison:
    name: str
    label: str  # Russian field name
    columns: tuple[str, ...]  # Splink input columns it reads
    levels: tuple[Level, ...]  # the null level first, «else» last
    level_of: Callable[[Record, Record], str]


def _dl(a: str, b: str) -> int:
    return DamerauLevenshtein.distance(a, b, score_cutoff=2)


def _jw(a: str, b: str) -> float:
    return JaroWinkler.similarity(a, b)


# --- Surname ---------------------------------------------------------------------------------------


def _surname(a: Record, b: Record) -> str:
    if not a.sn or not b.sn:
        return NULL
    if a.sn == b.sn:
        return "exact"
    if a.sn_key == b.sn_key:
        return "gender"
    if set(a.sn_parts) & set(b.sn_parts):
        return "part"
    if _dl(a.sn, b.sn) <= 1 or _dl(a.sn_key, b.sn_key) <= 1:  # a typo may hit the ending too
        return "typo"
    if _jw(a.sn_key, b.sn_key) >= 0.9:
        return "similar"
    return "else"


SURNAME = Comparison(
    name="surname",
    label="Фамилия",
    columns=("sn", "sn_key", "sn_parts"),
    levels=(
        Level(NULL, "sn_l IS NULL OR sn_r IS NULL", "не указана в одной из записей"),
        Level("exact", "sn_l = sn_r", "совпадает", tf_column="sn"),
        Level("gender", "sn_key_l = sn_key_r", "совпадает с точностью до окончания рода"),
        Level("part", "list_has_any(sn_parts_l, sn_parts_r)", "совпадает одна из частей двойной фамилии"),
        Level(
            "typo",
            "damerau_levenshtein(sn_l, sn_r) <= 1 OR damerau_levenshtein(sn_key_l, sn_key_r) <= 1",
            "отличается одной буквой",
        ),
        Level("similar", "jaro_winkler_similarity(sn_key_l, sn_key_r) >= 0.9", "похожа"),
        Level("else", "ELSE", "не совпадает"),
    ),
    level_of=_surname,
)


# --- First name and patronymic ---------------------------------------------------------------------


def _given(a: Record, b: Record) -> str:
    if not a.fn or not b.fn:
        return NULL
    if a.given_key == b.given_key:  # in either order
        return "exact"
    if a.fn == b.fn:
        if not a.mn or not b.mn:
            return "no_patronymic"
        return "first_only"
    if a.mn and a.mn_stem == b.mn_stem:
        return "patronymic_only"
    return "else"


GIVEN = Comparison(
    name="given",
    label="Имя и отчество",
    columns=("fn", "mn", "mn_stem", "given_key"),
    levels=(
        Level(NULL, "fn_l IS NULL OR fn_r IS NULL", "имя не указано в одной из записей"),
        Level("exact", "given_key_l = given_key_r", "совпадают", tf_column="given_key"),
        Level(
            "no_patronymic",
            "fn_l = fn_r AND (mn_l IS NULL OR mn_r IS NULL)",
            "имя совпадает, отчество указано только в одной записи",
        ),
        Level("first_only", "fn_l = fn_r", "имя совпадает, отчество нет"),
        Level("patronymic_only", "mn_stem_l = mn_stem_r", "отчество совпадает, имя другое"),
        Level("else", "ELSE", "не совпадают"),
    ),
    level_of=_given,
)


# --- Birth date -----------------------------------------------------------------------------------


def _dob(a: Record, b: Record) -> str:
    x, y = a.dob, b.dob
    if not x or not y:
        return NULL
    if x == y:
        return "exact"
    if x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]:
        return "day_month"
    if _dl(x, y) <= 1:
        return "digit"
    if x[:4] == y[:4]:
        return "year"
    return "else"


DOB = Comparison(
    name="dob",
    label="Дата рождения",
    columns=("dob",),
    levels=(
        Level(NULL, "dob_l IS NULL OR dob_r IS NULL", "не указана в одной из записей"),
        Level("exact", "dob_l = dob_r", "совпадает"),
        Level(
            "day_month",
            "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) AND substr(dob_l, 5, 2) = substr(dob_r, 7, 2)"
            " AND substr(dob_l, 7, 2) = substr(dob_r, 5, 2)",
            "совпадает, если поменять местами день и месяц",
        ),
        Level("digit", "damerau_levenshtein(dob_l, dob_r) <= 1", "отличается одной цифрой"),
        Level("year", "substr(dob_l, 1, 4) = substr(dob_r, 1, 4)", "совпадает только год"),
        Level("else", "ELSE", "не совпадает"),
    ),
    level_of=_dob,
)


# --- Sex, identifiers, contacts, shared numbers ------------------------------------------------------


def _sex(a: Record, b: Record) -> str:
    if not a.sex or not b.sex:
        return NULL
    return "exact" if a.sex == b.sex else "else"


SEX = Comparison(
    name="sex",
    label="Пол",
    columns=("sex",),
    levels=(
        Level(NULL, "sex_l IS NULL OR sex_r IS NULL", "не указан в одной из записей"),
        Level("exact", "sex_l = sex_r", "совпадает"),
        Level("else", "ELSE", "не совпадает"),
    ),
    level_of=_sex,
)


def _near(body: int, x: str, y: str) -> str:
    if not x or not y:
        return NULL
    return "near" if _dl(x[:body], y[:body]) <= 1 else "else"


SNILS = Comparison(
    name="snils",
    label="СНИЛС",
    columns=("snils",),
    levels=(
        Level(NULL, "snils_l IS NULL OR snils_r IS NULL", "не указан в одной из записей"),
        Level(
            "near",
            "damerau_levenshtein(substr(snils_l, 1, 9), substr(snils_r, 1, 9)) <= 1",
            "отличается одной цифрой или перестановкой двух цифр",
        ),
        Level("else", "ELSE", "другой"),
    ),
    level_of=lambda a, b: _near(9, a.snils, b.snils),
)

INN = Comparison(
    name="inn",
    label="ИНН",
    columns=("inn",),
    levels=(
        Level(NULL, "inn_l IS NULL OR inn_r IS NULL", "не указан в одной из записей"),
        Level(
            "near",
            "damerau_levenshtein(substr(inn_l, 1, 10), substr(inn_r, 1, 10)) <= 1",
            "отличается одной цифрой или перестановкой двух цифр",
        ),
        Level("else", "ELSE", "другой"),
    ),
    level_of=lambda a, b: _near(10, a.inn, b.inn),
)


def _equal(x: str, y: str) -> str:
    if not x or not y:
        return NULL
    return "exact" if x == y else "else"


def _shared(x: frozenset[str], y: frozenset[str]) -> str:
    if not x or not y:
        return NULL
    return "shared" if not x.isdisjoint(y) else "else"


PHONE = Comparison(
    name="phone",
    label="Телефон",
    columns=("phone",),
    levels=(
        Level(NULL, "phone_l IS NULL OR phone_r IS NULL", "не указан в одной из записей"),
        Level("exact", "phone_l = phone_r", "совпадает"),
        Level("else", "ELSE", "другой"),
    ),
    level_of=lambda a, b: _equal(a.phone, b.phone),
)

EMAIL = Comparison(
    name="email",
    label="Электронная почта",
    columns=("email",),
    levels=(
        Level(NULL, "email_l IS NULL OR email_r IS NULL", "не указана в одной из записей"),
        Level("exact", "email_l = email_r", "совпадает"),
        Level("else", "ELSE", "другая"),
    ),
    level_of=lambda a, b: _equal(a.email, b.email),
)


def _set_comparison(name: str, column: str, label: str, shared: str, other: str, null: str) -> Comparison:
    return Comparison(
        name=name,
        label=label,
        columns=(column,),
        levels=(
            Level(NULL, f"{column}_l IS NULL OR {column}_r IS NULL", null),
            Level("shared", f"list_has_any({column}_l, {column}_r)", shared),
            Level("else", "ELSE", other),
        ),
        level_of=lambda a, b: _shared(getattr(a, column), getattr(b, column)),
    )


DOCS = _set_comparison(
    "docs", "docs", "Документы о допуске", "есть общий номер", "номера разные", "нет ни одного в одной из записей"
)
DIPS = _set_comparison(
    "dips", "dips", "Дипломы", "есть общий номер", "номера разные", "нет ни одного в одной из записей"
)
ORGS = _set_comparison(
    "orgs", "orgs", "Места работы", "есть общая организация", "организации разные", "не указаны в одной из записей"
)

REGION = Comparison(
    name="region",
    label="Регион",
    columns=("region",),
    levels=(
        Level(NULL, "region_l IS NULL OR region_r IS NULL", "не указан в одной из записей"),
        Level("exact", "region_l = region_r", "совпадает", tf_column="region"),
        Level("else", "ELSE", "другой"),
    ),
    level_of=lambda a, b: _equal(a.region, b.region),
)

SPECIALTY = Comparison(
    name="specialty",
    label="Специальность",
    columns=("specialty",),
    levels=(
        Level(NULL, "specialty_l IS NULL OR specialty_r IS NULL", "не указана в одной из записей"),
        Level("exact", "specialty_l = specialty_r", "совпадает", tf_column="specialty"),
        Level("else", "ELSE", "другая"),
    ),
    level_of=lambda a, b: _equal(a.specialty, b.specialty),
)

COMPARISONS: tuple[Comparison, ...] = (
    SURNAME,
    GIVEN,
    DOB,
    SEX,
    SNILS,
    INN,
    PHONE,
    EMAIL,
    DOCS,
    DIPS,
    ORGS,
    REGION,
    SPECIALTY,
)
BY_NAME = {c.name: c for c in COMPARISONS}


def compare(a: Record, b: Record) -> dict[str, str]:
    """The comparison vector of a pair: comparison name -> level key."""
    return {c.name: c.level_of(a, b) for c in COMPARISONS}
