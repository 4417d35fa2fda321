"""Synthetic registry data at scale: deterministic row generators for `manage.py generate_registry`.

Pure Python on purpose: no ORM and no database here, so the generator runs in worker processes
(started with "spawn", Django not set up) and the same rows feed PostgreSQL COPY and, on other
databases, bulk_create. Directory rows and the numbering bases are read by the command and handed
in as a picklable `Plan`.

Determinism: organizations come from one RNG seeded with the seed; workers from one RNG per block
of BLOCK_SIZE workers, seeded with (seed, block index). So the same seed and counts give the same
rows whatever the batch size and the number of processes.

Uniqueness of identifiers, within a run and across runs (the command refuses a non-empty registry
unless --append, and bases every counter on what is already stored):

- ids: ``base + slot``; a child table gets a fixed number of slots per worker (an employment id is
  ``base + 2 * worker_index + j``), so a batch knows its ids without waiting for earlier batches.
  The gaps cost nothing with bigint keys. License and admission-document numbers embed the row id.
- registry number: ``registry_number_from_serial(serial)``, serials continue after the stored max.
- SNILS, INN of a person, OGRN and INN of an organization embed ``permute(k) = k * mult % space``
  of the worker's registry serial (of the organization's id). Because ``gcd(mult, space) == 1``,
  multiplication by ``mult`` is invertible modulo ``space``, so distinct ``k < space`` give distinct
  values (see `assert_permutation`); the stride is small for index locality (see SNILS_MULT).
  Hand-entered rows may already hold one of our values by chance; the command finds their keys
  (the inverse permutation, e.g. `snils_key`) and the plan maps them to spare keys counted down
  from the top of the space (`spare_keys`).

Derived search fields of MedicalWorker are computed here with the rules of
``registry.services._apply_derived`` (a test runs ``worker_refresh_derived`` over generated rows
and checks that nothing changes).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from bisect import bisect
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate

from stdnum import damm

from core.validators import (
    inn_legal_from_body,
    inn_person_from_body,
    normalize_person_name,
    ogrn_from_body,
    snils_checksum,
)

BLOCK_SIZE = 100  # workers per RNG seed; batches are whole blocks

# Identifier spaces and their multipliers (each coprime with its space: see assert_permutation).
# A small stride on purpose: consecutive keys give increasing numbers for thousands of keys in a
# row, so a batch inserts into the SNILS and INN unique indexes at a few hundred points that move
# forward instead of at random pages of indexes larger than shared_buffers (at 3 million workers
# the COPY into the worker table went from 75 s to 68 s with it).
SNILS_BASE = 100_000_000
SNILS_SPACE = 899_999_999  # bodies 100000000..999999998, all above the unchecked range
SNILS_MULT = 7919  # prime; 899999999 = 19 * 131 * 229 * 1579
INN_PERSON_SPACE = 10**8  # the 8 digits after the region prefix
INN_PERSON_MULT = 7919
ORG_SPACE = 10**7  # the 7-digit tail of OGRN and the organization INN
ORG_MULT = 7919

# Child rows a worker may have; ids are base + worker_index * slots + j.
EMPLOYMENT_SLOTS = 2
DOCUMENT_SLOTS = 2
CATEGORY_SLOTS = 1
EDUCATION_SLOTS = 1
CME_SLOTS = 5


def permute(k: int, mult: int, space: int) -> int:
    return k * mult % space


def assert_permutation(mult: int, space: int) -> None:
    """k -> k * mult mod space is a bijection on 0..space-1 exactly when gcd(mult, space) == 1."""
    if math.gcd(mult, space) != 1:
        raise ValueError(f"{mult} is not coprime with {space}")


for _mult, _space in ((SNILS_MULT, SNILS_SPACE), (INN_PERSON_MULT, INN_PERSON_SPACE), (ORG_MULT, ORG_SPACE)):
    assert_permutation(_mult, _space)
# The inverses turn a stored number back into its key (for the hand-entered clash check).
SNILS_INVERSE = pow(SNILS_MULT, -1, SNILS_SPACE)
INN_PERSON_INVERSE = pow(INN_PERSON_MULT, -1, INN_PERSON_SPACE)
ORG_INVERSE = pow(ORG_MULT, -1, ORG_SPACE)


def snils_for_key(k: int) -> str:
    body = f"{SNILS_BASE + permute(k, SNILS_MULT, SNILS_SPACE):09d}"
    return body + snils_checksum(body)


def snils_key(snils: str) -> int | None:
    """The key whose SNILS this is, or None when the number is outside our space."""
    if len(snils) != 11 or not snils.isascii() or not snils.isdigit():
        return None
    body = int(snils[:9]) - SNILS_BASE
    if not 0 <= body < SNILS_SPACE:
        return None
    return body * SNILS_INVERSE % SNILS_SPACE


def inn_person_for_key(k: int, region_code: str) -> str:
    return inn_person_from_body(f"{region_code}{permute(k, INN_PERSON_MULT, INN_PERSON_SPACE):08d}")


def inn_person_key(inn: str) -> int | None:
    # Only the 8 digits after the region decide; a hit with another region prefix is treated as
    # taken too, which at worst spends a spare key for nothing.
    if not inn or len(inn) != 12 or not inn.isascii() or not inn.isdigit():
        return None
    return int(inn[2:10]) * INN_PERSON_INVERSE % INN_PERSON_SPACE


def ogrn_key(ogrn: str) -> int | None:
    if not ogrn or len(ogrn) != 13 or not ogrn.isascii() or not ogrn.isdigit():
        return None
    return int(ogrn[5:12]) * ORG_INVERSE % ORG_SPACE


def spare_keys(taken: set[int], wanted: range, space: int) -> dict[int, int]:
    """Map each key of `wanted` that is taken to a free key counted down from the top of the space."""
    clashes = sorted(k for k in taken if k in wanted)
    result = {}
    candidate = space - 1
    for k in clashes:
        while candidate in taken or candidate in wanted:
            candidate -= 1
        if candidate < wanted.stop:
            raise ValueError("identifier space exhausted")
        result[k] = candidate
        candidate -= 1  # counting down, so no spare is handed out twice
    return result


# --- Columns of the generated tables ----------------------------------------------------------
#
# (attname, kind): kind is int, str, date, dt (timestamp), bool, dec; a trailing "?" allows None.
# Nullable columns that are never filled (MedicalWorker.user) are left out: NULL either way.

ORGANIZATION_COLUMNS = (
    ("id", "int"), ("ogrn", "str"), ("inn", "str"), ("kpp", "str"), ("full_name", "str"),
    ("short_name", "str"), ("org_type_id", "int?"), ("region_id", "int"), ("address", "str"),
    ("phone", "str"), ("email", "str"), ("website", "str"), ("status", "str"), ("closed_on", "date?"),
    ("search_name", "str"), ("created_at", "dt"), ("updated_at", "dt"),
)  # fmt: skip
LICENSE_COLUMNS = (
    ("id", "int"), ("organization_id", "int"), ("number", "str"), ("issued_on", "date"),
    ("valid_until", "date?"), ("authority", "str"), ("status", "str"), ("kinds_of_work", "str"),
    ("updated_at", "dt"),
)  # fmt: skip
WORKER_COLUMNS = (
    ("id", "int"), ("registry_number", "str"), ("snils", "str"), ("inn", "str?"), ("last_name", "str"),
    ("first_name", "str"), ("middle_name", "str"), ("sex", "str"), ("birth_date", "date"),
    ("citizenship", "str"), ("phone", "str"), ("email", "str"), ("identity_status", "str"),
    ("public_contacts_consent", "bool"), ("public_consent_at", "dt?"), ("registered_on", "date"),
    ("last_confirmed_at", "dt?"), ("search_name", "str"), ("region_id", "int?"),
    ("primary_specialty_id", "int?"), ("admission_status", "str"), ("admission_valid_until", "date?"),
    ("category_id", "int?"), ("has_confirmed_documents", "bool"), ("created_at", "dt"), ("updated_at", "dt"),
)  # fmt: skip
EMPLOYMENT_COLUMNS = (
    ("id", "int"), ("worker_id", "int"), ("organization_id", "int"), ("department", "str"),
    ("position_id", "int"), ("specialty_id", "int?"), ("rate", "dec"), ("kind", "str"),
    ("started_on", "date"), ("ended_on", "date?"), ("dismissal_reason", "str"), ("updated_at", "dt"),
)  # fmt: skip
EDUCATION_COLUMNS = (
    ("id", "int"), ("worker_id", "int"), ("level_id", "int"), ("institution", "str"),
    ("diploma_series", "str"), ("diploma_number", "str"), ("issued_on", "date"), ("specialty_id", "int?"),
    ("specialty_text", "str"), ("qualification", "str"),
)  # fmt: skip
DOCUMENT_COLUMNS = (
    ("id", "int"), ("worker_id", "int"), ("kind", "str"), ("accreditation_kind_id", "int?"),
    ("specialty_id", "int"), ("number", "str"), ("issued_on", "date"), ("valid_until", "date"),
    ("status", "str"), ("updated_at", "dt"),
)  # fmt: skip
CATEGORY_COLUMNS = (
    ("id", "int"), ("worker_id", "int"), ("category_id", "int"), ("specialty_id", "int"),
    ("awarded_on", "date"), ("valid_until", "date"), ("order_number", "str"),
)  # fmt: skip
CME_COLUMNS = (
    ("id", "int"), ("worker_id", "int"), ("specialty_id", "int?"), ("kind", "str"), ("topic", "str"),
    ("provider", "str"), ("completed_on", "date"), ("hours", "int"),
)  # fmt: skip

# Table keys in insertion order (parents first). The command maps them to models.
ORG_TABLES = ("organization", "license")
WORKER_TABLES = ("worker", "employment", "education", "document", "category", "cme")
COLUMNS = {
    "organization": ORGANIZATION_COLUMNS,
    "license": LICENSE_COLUMNS,
    "worker": WORKER_COLUMNS,
    "employment": EMPLOYMENT_COLUMNS,
    "education": EDUCATION_COLUMNS,
    "document": DOCUMENT_COLUMNS,
    "category": CATEGORY_COLUMNS,
    "cme": CME_COLUMNS,
}


class _IsoCache(dict):
    """str() of dates and timestamps, memoized: formatting a date costs 20 times a dict lookup."""

    def __missing__(self, key):
        value = self[key] = str(key)
        return value


def make_copy_encoder(columns, extra_values: tuple = ()):
    """A function turning a list of row tuples into PostgreSQL COPY text (bytes).

    Compiled per table from the column kinds, so a row costs one f-string instead of a Python call
    per value. Generated strings never contain tabs, newlines or backslashes (pools are checked by
    `check_text`), so no escaping is needed. `extra_values` are constants appended to every row
    (defaults of model fields the generator does not know about).
    """
    parts = []
    for i, (_name, kind) in enumerate(columns):
        nullable = kind.endswith("?")
        kind = kind.rstrip("?")
        if kind == "bool":
            expr = f"('t' if r[{i}] else 'f')"
        elif kind in ("date", "dt"):
            expr = f"iso[r[{i}]]"
        else:
            expr = f"r[{i}]"
        if nullable:
            expr = f"(null if r[{i}] is None else {expr})"
        parts.append("{" + expr + "}")
    namespace: dict = {"iso": _IsoCache(), "null": "\\N"}
    for j, value in enumerate(extra_values):
        namespace[f"extra{j}"] = _copy_literal(value)
        parts.append(f"{{extra{j}}}")
    body = "\\t".join(parts)
    source = f"def encode(rows):\n    return ''.join([f\"{body}\\n\" for r in rows]).encode()\n"
    exec(source, namespace)  # noqa: S102 - source built above from our own column kinds
    return namespace["encode"]


def _copy_literal(value) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    text = str(value)
    check_text(text)
    return text


def check_text(text: str) -> str:
    if any(c in text for c in "\t\n\r\\"):
        raise ValueError(f"generated text must not contain tabs, newlines or backslashes: {text!r}")
    return text


# --- Static reference data ----------------------------------------------------------------------

# Population in thousands (Rosstat, start of 2024, rounded); organizations and so workers follow it.
REGION_POPULATION = {
    "01": 497, "02": 4045, "03": 971, "04": 211, "05": 3209, "06": 519, "07": 904, "08": 265, "09": 469,
    "10": 527, "11": 726, "12": 670, "13": 770, "14": 996, "15": 681, "16": 4005, "17": 337, "18": 1442,
    "19": 529, "20": 1533, "21": 1177, "22": 2131, "23": 5838, "24": 2845, "25": 1820, "26": 2886,
    "27": 1284, "28": 756, "29": 960, "30": 949, "31": 1515, "32": 1149, "33": 1324, "34": 2461,
    "35": 1128, "36": 2285, "37": 915, "38": 2344, "39": 1032, "40": 1069, "41": 289, "42": 2553,
    "43": 1138, "44": 572, "45": 761, "46": 1082, "47": 2035, "48": 1126, "49": 136, "50": 8591,
    "51": 658, "52": 3081, "53": 583, "54": 2779, "55": 1833, "56": 1842, "57": 703, "58": 1247,
    "59": 2508, "60": 584, "61": 4164, "62": 1085, "63": 3151, "64": 2393, "65": 460, "66": 4239,
    "67": 878, "68": 957, "69": 1215, "70": 1062, "71": 1501, "72": 1601, "73": 1180, "74": 3401,
    "75": 1004, "76": 1185, "77": 13150, "78": 5600, "79": 147, "83": 42, "86": 1730, "87": 48,
    "89": 510, "90": 500, "91": 1900, "92": 560, "93": 2270, "94": 1300, "95": 300,
}  # fmt: skip

REGION_CITIES = {
    "01": ("Майкоп",), "02": ("Уфа", "Стерлитамак", "Салават"), "03": ("Улан-Удэ",), "04": ("Горно-Алтайск",),
    "05": ("Махачкала", "Дербент"), "06": ("Магас", "Назрань"), "07": ("Нальчик",), "08": ("Элиста",),
    "09": ("Черкесск",), "10": ("Петрозаводск",), "11": ("Сыктывкар", "Ухта"), "12": ("Йошкар-Ола",),
    "13": ("Саранск",), "14": ("Якутск",), "15": ("Владикавказ",), "16": ("Казань", "Набережные Челны"),
    "17": ("Кызыл",), "18": ("Ижевск",), "19": ("Абакан",), "20": ("Грозный",), "21": ("Чебоксары",),
    "22": ("Барнаул", "Бийск"), "23": ("Краснодар", "Сочи", "Новороссийск"), "24": ("Красноярск", "Норильск"),
    "25": ("Владивосток", "Уссурийск"), "26": ("Ставрополь", "Пятигорск"), "27": ("Хабаровск",),
    "28": ("Благовещенск",), "29": ("Архангельск", "Северодвинск"), "30": ("Астрахань",), "31": ("Белгород",),
    "32": ("Брянск",), "33": ("Владимир",), "34": ("Волгоград", "Волжский"), "35": ("Вологда", "Череповец"),
    "36": ("Воронеж",), "37": ("Иваново",), "38": ("Иркутск", "Братск"), "39": ("Калининград",),
    "40": ("Калуга", "Обнинск"), "41": ("Петропавловск-Камчатский",), "42": ("Кемерово", "Новокузнецк"),
    "43": ("Киров",), "44": ("Кострома",), "45": ("Курган",), "46": ("Курск",), "47": ("Гатчина", "Выборг"),
    "48": ("Липецк",), "49": ("Магадан",), "50": ("Красногорск", "Балашиха", "Подольск", "Химки", "Мытищи"),
    "51": ("Мурманск",), "52": ("Нижний Новгород", "Дзержинск"), "53": ("Великий Новгород",),
    "54": ("Новосибирск",), "55": ("Омск",), "56": ("Оренбург", "Орск"), "57": ("Орёл",), "58": ("Пенза",),
    "59": ("Пермь",), "60": ("Псков",), "61": ("Ростов-на-Дону", "Таганрог"), "62": ("Рязань",),
    "63": ("Самара", "Тольятти"), "64": ("Саратов", "Энгельс"), "65": ("Южно-Сахалинск",),
    "66": ("Екатеринбург", "Нижний Тагил"), "67": ("Смоленск",), "68": ("Тамбов",), "69": ("Тверь",),
    "70": ("Томск",), "71": ("Тула",), "72": ("Тюмень",), "73": ("Ульяновск",),
    "74": ("Челябинск", "Магнитогорск"), "75": ("Чита",), "76": ("Ярославль", "Рыбинск"), "77": ("Москва",),
    "78": ("Санкт-Петербург",), "79": ("Биробиджан",), "83": ("Нарьян-Мар",), "86": ("Ханты-Мансийск", "Сургут"),
    "87": ("Анадырь",), "89": ("Салехард", "Новый Уренгой"), "90": ("Мелитополь",), "91": ("Симферополь",),
    "92": ("Севастополь",), "93": ("Донецк",), "94": ("Луганск",), "95": ("Геническ",),
}  # fmt: skip

FEDERAL_CITIES = {"77", "78", "92"}  # see also FEDERAL_CITY_GENITIVE

MEDICAL_UNIVERSITIES = {
    "77": ("ФГАОУ ВО Первый МГМУ им. И.М. Сеченова Минздрава России (Сеченовский Университет)",
           "ФГАОУ ВО РНИМУ им. Н.И. Пирогова Минздрава России",
           "ФГБОУ ВО «Российский университет медицины» Минздрава России"),
    "78": ("ФГБОУ ВО ПСПбГМУ им. И.П. Павлова Минздрава России",
           "ФГБОУ ВО СЗГМУ им. И.И. Мечникова Минздрава России",
           "ФГБОУ ВО СПбГПМУ Минздрава России"),
    "02": ("ФГБОУ ВО БГМУ Минздрава России",), "05": ("ФГБОУ ВО ДГМУ Минздрава России",),
    "16": ("ФГБОУ ВО Казанский ГМУ Минздрава России",), "23": ("ФГБОУ ВО КубГМУ Минздрава России",),
    "24": ("ФГБОУ ВО КрасГМУ им. проф. В.Ф. Войно-Ясенецкого Минздрава России",),
    "25": ("ФГБОУ ВО ТГМУ Минздрава России",), "26": ("ФГБОУ ВО СтГМУ Минздрава России",),
    "27": ("ФГБОУ ВО ДВГМУ Минздрава России",), "29": ("ФГБОУ ВО СГМУ (г. Архангельск) Минздрава России",),
    "34": ("ФГБОУ ВО ВолгГМУ Минздрава России",), "36": ("ФГБОУ ВО ВГМУ им. Н.Н. Бурденко Минздрава России",),
    "38": ("ФГБОУ ВО ИГМУ Минздрава России",), "46": ("ФГБОУ ВО КГМУ Минздрава России",),
    "52": ("ФГБОУ ВО «ПИМУ» Минздрава России",), "54": ("ФГБОУ ВО НГМУ Минздрава России",),
    "55": ("ФГБОУ ВО ОмГМУ Минздрава России",), "56": ("ФГБОУ ВО ОрГМУ Минздрава России",),
    "59": ("ФГБОУ ВО ПГМУ им. академика Е.А. Вагнера Минздрава России",),
    "61": ("ФГБОУ ВО РостГМУ Минздрава России",), "62": ("ФГБОУ ВО РязГМУ Минздрава России",),
    "63": ("ФГБОУ ВО СамГМУ Минздрава России",),
    "64": ("ФГБОУ ВО Саратовский ГМУ им. В.И. Разумовского Минздрава России",),
    "66": ("ФГБОУ ВО УГМУ Минздрава России",), "67": ("ФГБОУ ВО СГМУ Минздрава России",),
    "69": ("ФГБОУ ВО Тверской ГМУ Минздрава России",), "70": ("ФГБОУ ВО СибГМУ Минздрава России",),
    "72": ("ФГБОУ ВО Тюменский ГМУ Минздрава России",), "74": ("ФГБОУ ВО ЮУГМУ Минздрава России",),
    "76": ("ФГБОУ ВО ЯГМУ Минздрава России",),
}  # fmt: skip
ALL_UNIVERSITIES = tuple(u for names in MEDICAL_UNIVERSITIES.values() for u in names)

DEPARTMENTS = (
    "Терапевтическое отделение", "Хирургическое отделение", "Приёмное отделение", "Поликлиническое отделение",
    "Отделение анестезиологии-реанимации", "Кардиологическое отделение", "Неврологическое отделение",
    "Педиатрическое отделение", "Клинико-диагностическая лаборатория", "Стоматологическое отделение",
    "Гинекологическое отделение", "Травматологическое отделение", "Отделение лучевой диагностики",
    "Отделение функциональной диагностики", "Дневной стационар", "Отделение медицинской профилактики",
    "Инфекционное отделение", "Физиотерапевтическое отделение", "Операционный блок", "Администрация",
)  # fmt: skip
DISMISSAL_REASONS = (
    "по инициативе работника (п. 3 ч. 1 ст. 77 ТК РФ)",
    "по соглашению сторон (п. 1 ч. 1 ст. 77 ТК РФ)",
    "истечение срока трудового договора (п. 2 ч. 1 ст. 77 ТК РФ)",
    "перевод к другому работодателю (п. 5 ч. 1 ст. 77 ТК РФ)",
    "сокращение численности или штата работников (п. 2 ч. 1 ст. 81 ТК РФ)",
)
DISMISSAL_LIQUIDATION = "ликвидация организации (п. 1 ч. 1 ст. 81 ТК РФ)"

CME_TOPICS = (
    "Неотложные состояния в практике врача", "Сердечно-лёгочная реанимация", "Профилактика инфекций, связанных с "
    "оказанием медицинской помощи", "Вакцинопрофилактика: актуальные вопросы", "Клинические рекомендации: "
    "обновления", "Рациональная антибактериальная терапия", "Паллиативная медицинская помощь",
    "Диспансеризация взрослого населения", "Экспертиза временной нетрудоспособности", "Организация работы с "
    "медицинскими изделиями", "Безопасность пациента", "Коммуникация с пациентом", "Обезболивание в практике "
    "медицинского работника", "Диагностика и лечение артериальной гипертензии", "Сахарный диабет 2 типа",
    "Ранняя диагностика онкологических заболеваний", "Новая коронавирусная инфекция COVID-19",
    "Медицинская реабилитация", "Первая помощь при травмах", "Сестринский процесс",
    "Инфекционная безопасность и инфекционный контроль", "Лекарственное обеспечение и фармаконадзор",
    "Электронный медицинский документооборот", "Профилактика профессионального выгорания",
)  # fmt: skip
CME_PROVIDERS = (
    "ФГБОУ ДПО РМАНПО Минздрава России", "АНО ДПО «Институт непрерывного медицинского образования»",
    "Портал непрерывного медицинского и фармацевтического образования Минздрава России",
    "ГБУ ДПО «Центр повышения квалификации специалистов здравоохранения»",
    *ALL_UNIVERSITIES[:8],
)  # fmt: skip
# (kind, weight, hours choices)
CME_KINDS = (("program", 40, (18, 36, 36, 72, 144)), ("activity", 40, (1, 2, 3, 4, 6)), ("element", 20, (1, 2)))

LICENSE_WORKS = (
    "первичная доврачебная медико-санитарная помощь в амбулаторных условиях по сестринскому делу",
    "первичная врачебная медико-санитарная помощь в амбулаторных условиях по терапии",
    "первичная врачебная медико-санитарная помощь в амбулаторных условиях по педиатрии",
    "первичная специализированная медико-санитарная помощь в амбулаторных условиях по кардиологии",
    "первичная специализированная медико-санитарная помощь в амбулаторных условиях по неврологии",
    "специализированная медицинская помощь в стационарных условиях по хирургии",
    "специализированная медицинская помощь в стационарных условиях по анестезиологии и реаниматологии",
    "скорая медицинская помощь вне медицинской организации",
    "медицинские осмотры (предварительные, периодические)",
    "лабораторная диагностика", "ультразвуковая диагностика", "рентгенология", "стоматология терапевтическая",
    "медицинский массаж", "физиотерапия", "вакцинация (проведение профилактических прививок)",
    "экспертиза временной нетрудоспособности",
)  # fmt: skip

PRIVATE_BRANDS = (
    "Здоровье", "Медицина", "Семейный доктор", "Вита", "Альфа-Мед", "Медлайн", "Доктор рядом", "Эскулап",
    "Гиппократ", "Авиценна", "Парацельс", "Панацея", "Новая медицина", "ДентаЛюкс", "Улыбка", "Медицентр",
    "Медэксперт", "Наше здоровье", "Добрый доктор", "Ваш доктор", "Меридиан", "Эталон", "Профмед", "Медассист",
)  # fmt: skip

# Organization naming by a keyword of the type name: (full kind name, short kind name, staff weight).
# "{n}" is a number, "{brand}" a private brand, "{city}" the city.
ORG_KINDS = (
    ("центральная район", (("Центральная районная больница № {n}", "ЦРБ № {n}"),), 8.0),
    ("больниц", (("Городская больница № {n}", "ГБ № {n}"), ("Городская клиническая больница № {n}", "ГКБ № {n}"),
                 ("Детская городская больница № {n}", "ДГБ № {n}"),
                 ("Областная клиническая больница № {n}", "ОКБ № {n}")), 10.0),
    ("фельдшерско", (("Фельдшерско-акушерский пункт № {n}", "ФАП № {n}"),), 0.3),
    ("стоматолог", (("Стоматологическая поликлиника № {n}", "СП № {n}"),), 1.5),
    ("поликлиник", (("Городская поликлиника № {n}", "ГП № {n}"), ("Детская городская поликлиника № {n}",
                                                                   "ДГП № {n}")), 5.0),
    ("скорой", (("Станция скорой медицинской помощи № {n}", "ССМП № {n}"),), 4.0),
    ("диспансер", (("Онкологический диспансер № {n}", "ОД № {n}"),
                   ("Противотуберкулёзный диспансер № {n}", "ПТД № {n}"),
                   ("Психоневрологический диспансер № {n}", "ПНД № {n}"),
                   ("Кожно-венерологический диспансер № {n}", "КВД № {n}")), 3.0),
    ("родильный", (("Родильный дом № {n}", "Роддом № {n}"),), 3.0),
    ("перинатальн", (("Перинатальный центр № {n}", "ПЦ № {n}"),), 4.0),
    ("центр", (("Консультативно-диагностический центр № {n}", "КДЦ № {n}"),
               ("Центр медицинской реабилитации № {n}", "ЦМР № {n}")), 2.0),
    ("госпитал", (("Госпиталь для ветеранов войн № {n}", "ГВВ № {n}"),), 3.0),
    ("амбулатор", (("Врачебная амбулатория № {n}", "ВА № {n}"),), 1.0),
    ("санатор", (("Санаторий «{brand}»", "Санаторий «{brand}»"),), 1.0),
    ("хоспис", (("Хоспис № {n}", "Хоспис № {n}"),), 0.5),
    ("экспертиз", (("Бюро судебно-медицинской экспертизы", "БСМЭ"),), 1.0),
    ("частн", (("Медицинский центр «{brand}»", "МЦ «{brand}»"), ("Клиника «{brand}»", "Клиника «{brand}»"),
               ("Стоматология «{brand}»", "Стоматология «{brand}»")), 0.8),
)  # fmt: skip
GENERIC_KIND = ((("Медицинская организация № {n}", "МО № {n}"),), 2.0)

PUBLIC_FORMS = (
    ("Государственное бюджетное учреждение здравоохранения", "ГБУЗ", 60),
    ("Государственное автономное учреждение здравоохранения", "ГАУЗ", 15),
    ("Муниципальное бюджетное учреждение здравоохранения", "МБУЗ", 10),
    ("Федеральное государственное бюджетное учреждение", "ФГБУ", 5),
    ("Государственное казённое учреждение здравоохранения", "ГКУЗ", 5),
)
PRIVATE_FORMS = (("Общество с ограниченной ответственностью", "ООО", 85), ("Акционерное общество", "АО", 15))

# Workers: (group, share of workers, share of men).
GROUPS = (("doctor", 0.35, 0.30), ("mid", 0.60, 0.05), ("other", 0.05, 0.25))
# Relative frequency boosts for the most common first names and patronymics (Faker's lists are
# alphabetical, so a uniform draw would make Авдей as common as Александр).
COMMON_MALE = (
    "Александр", "Сергей", "Андрей", "Алексей", "Дмитрий", "Владимир", "Иван", "Михаил", "Николай", "Евгений",
    "Игорь", "Максим", "Юрий", "Олег", "Виктор", "Павел", "Роман", "Артём", "Денис", "Константин",
)  # fmt: skip
COMMON_FEMALE = (
    "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана", "Анна", "Мария", "Екатерина", "Юлия",
    "Марина", "Галина", "Людмила", "Надежда", "Валентина", "Анастасия", "Оксана", "Лариса", "Дарья", "Ксения",
)  # fmt: skip
COMMON_PATRONYMIC_STEMS = (
    "Александров", "Сергеев", "Владимиров", "Николаев", "Викторов", "Иванов", "Михайлов", "Юрьев", "Анатольев",
    "Петров", "Васильев", "Алексеев", "Андреев", "Дмитриев", "Евгеньев", "Борисов", "Валерьев", "Геннадьев",
)  # fmt: skip

TRANSLIT = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u",
     "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"],
    strict=True,
))  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# Distribution of the admission outcome of a worker's main document (worker-level shares).
ADMISSION_OUTCOMES = (("active", 77), ("expiring", 8), ("expired", 12), ("suspended", 2), ("annulled", 1))
ACCREDITATION_START = dt.date(2016, 1, 1)  # primary accreditation of new graduates
CERTIFICATES_END = dt.date(2021, 1, 1)  # no certificates issued after 2020


for _texts in (DEPARTMENTS, DISMISSAL_REASONS, CME_TOPICS, CME_PROVIDERS, LICENSE_WORKS, PRIVATE_BRANDS):
    for _text in _texts:
        check_text(_text)


def translit(text: str) -> str:
    return "".join(TRANSLIT.get(c, c) for c in text.lower() if c.isalnum())


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


FEDERAL_CITY_GENITIVE = {"77": "города Москвы", "78": "Санкт-Петербурга", "92": "города Севастополя"}
_GENITIVE_NOUNS = {"область": "области", "край": "края", "округ": "округа", "республика": "Республики"}


def region_genitive(name: str) -> str:
    """«Московская область» -> «Московской области», «Удмуртская Республика» -> «Удмуртской Республики».

    Good enough for the name of a regional authority; «Республика Адыгея» keeps the proper name as it is.
    """
    main, dash, rest = name.partition(" — ")
    words = main.split()
    if words and words[0] == "Республика":
        return " ".join(["Республики", *words[1:]]) + dash + rest
    result = []
    for word in words:
        low = word.lower()
        if low in _GENITIVE_NOUNS:
            result.append(_GENITIVE_NOUNS[low] if word[0].islower() else _GENITIVE_NOUNS[low].capitalize())
        elif low.endswith("ая"):
            result.append(word[:-2] + "ой")
        elif low.endswith(("ий", "ый", "ой")):
            result.append(word[:-2] + "ого")
        else:
            result.append(word)
    return " ".join(result) + dash + rest


# --- Inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirRow:
    id: int
    code: str
    name: str
    sort_order: int = 0


@dataclass
class NamePools:
    """Name lists and cumulative weights, built once from Faker's ru_RU provider lists."""

    last_m: tuple
    last_f: tuple
    first_m: tuple
    first_f: tuple
    middle_m: tuple
    middle_f: tuple
    cum: dict = field(default_factory=dict)
    latin: dict = field(default_factory=dict)  # name -> transliteration, for e-mail addresses

    @classmethod
    def from_faker(cls) -> NamePools:
        from faker.providers.person.ru_RU import Provider

        pools = cls(
            last_m=tuple(Provider.last_names_male),
            last_f=tuple(Provider.last_names_female),
            first_m=tuple(Provider.first_names_male),
            first_f=tuple(Provider.first_names_female),
            middle_m=tuple(Provider.middle_names_male),
            middle_f=tuple(Provider.middle_names_female),
        )
        for names in (pools.last_m, pools.last_f, pools.first_m, pools.first_f, pools.middle_m, pools.middle_f):
            for name in names:
                pools.latin[check_text(name)] = translit(name)
        # Last names come in order of frequency: a Zipf-like weight keeps Иванов common.
        pools.cum["last_m"] = list(accumulate(1 / (i + 10) for i in range(len(pools.last_m))))
        pools.cum["last_f"] = list(accumulate(1 / (i + 10) for i in range(len(pools.last_f))))
        pools.cum["first_m"] = list(accumulate(25 if n in COMMON_MALE else 1 for n in pools.first_m))
        pools.cum["first_f"] = list(accumulate(25 if n in COMMON_FEMALE else 1 for n in pools.first_f))
        for key, names in (("middle_m", pools.middle_m), ("middle_f", pools.middle_f)):
            pools.cum[key] = list(accumulate(20 if n.startswith(COMMON_PATRONYMIC_STEMS) else 1 for n in names))
        return pools


def _stems(text: str) -> set[str]:
    # Words every post or specialty shares ("врач", "медицинская", "организации") match nothing.
    stop = {"врач", "меди", "отде", "стру", "подр", "орга", "нача"}
    words = text.lower().replace("-", " ").replace("(", " ").replace(")", " ").replace(",", " ").split()
    return {w[:4] for w in words if len(w) >= 4 and w[:4] not in stop}


# Name heuristics for the directories (they hold codes and names only).
MID_SPECIALTY_MARKERS = (
    "сестрин", "лечебное дело", "акушерское дело", "лабораторное дело", "операционное дело",
    "анестезиология и реаниматология", "медицинский массаж", "медицинская статистика", "медицинская оптика",
    "гигиеническое воспитание", "дезинфекционное дело", "скорая и неотложная помощь", "стоматология профилактическая",
)  # fmt: skip
# Exact names only: «Рентгенология» is both a doctor and a mid-level specialty and stays with doctors.
MID_SPECIALTY_EXACT = ("общая практика", "стоматология", "лабораторная диагностика")
OTHER_SPECIALTY_MARKERS = ("фармац", "фармако")
MID_POSITION_MARKERS = ("сестра", "брат", "фельдшер", "акушерка", "лаборант", "лабораторный техник", "зубной")
# Specialty name fragment -> stem to look for in position names when the stems of the names differ.
SPECIALTY_POSITION_ALIASES = (
    ("лечебное дело", "фель"),
    ("скорая и неотложная", "фель"),
    ("стоматология", "зубн"),
    ("общая практика", "сест"),
    ("организация сестринского", "глав"),
    ("организация здравоохранения", "глав"),
)


def classify_specialty(name: str) -> str:
    low = name.lower().strip()
    if any(m in low for m in OTHER_SPECIALTY_MARKERS):
        return "other"
    if low in MID_SPECIALTY_EXACT or any(m in low for m in MID_SPECIALTY_MARKERS):
        return "mid"
    return "doctor"


def classify_position(name: str) -> str:
    low = name.lower()
    if "младш" in low or "санитар" in low:
        return "other"
    if "зубной врач" in low or any(m in low for m in MID_POSITION_MARKERS):
        return "mid"
    if "врач" in low:
        return "doctor"
    return "other"


def _pick(items: list[DirRow], *markers: str) -> DirRow | None:
    for marker in markers:
        for row in items:
            if marker in row.name.lower():
                return row
    return None


class DirectoriesMissing(ValueError):
    """A directory the generator needs has no active entries."""


@dataclass
class Catalog:
    """Directory ids grouped the way the generator needs them (picklable, no ORM)."""

    regions: list  # (id, code, name)
    region_weights: list
    org_types: list  # (id, name, kind templates, staff weight)
    specialties: dict  # group -> [specialty id]
    specialty_names: dict  # id -> name
    specialty_group: dict  # id -> group
    positions: dict  # group -> [position id]
    positions_for_specialty: dict  # specialty id -> (position ids, cumulative weights)
    other_pharmacy_positions: list
    other_plain_positions: list
    accreditation_primary: int
    accreditation_specialized: int
    accreditation_periodic: int
    categories: list  # (id, sort_order, weight)
    education_higher: int
    education_secondary: int
    education_retraining: int

    @classmethod
    def build(
        cls, *, regions, specialties, positions, org_types, accreditation_kinds, categories, education_levels
    ) -> Catalog:
        missing = [name for name, rows in (
            ("регионы", regions), ("специальности", specialties), ("должности", positions),
            ("виды аккредитации", accreditation_kinds), ("квалификационные категории", categories),
            ("уровни образования", education_levels),
        ) if not rows]  # fmt: skip
        if missing:
            raise DirectoriesMissing("пустые справочники: " + ", ".join(missing))

        region_rows = [(r.id, r.code if len(r.code) == 2 and r.code.isdigit() else "77", r.name) for r in regions]
        region_weights = [REGION_POPULATION.get(code, 400) for _, code, _ in region_rows]

        org_type_rows = []
        for row in org_types:
            low = row.name.lower()
            templates, weight = next(((t, w) for marker, t, w in ORG_KINDS if marker in low), GENERIC_KIND)
            org_type_rows.append((row.id, row.name, templates, weight))
        if not org_type_rows:
            org_type_rows.append((None, "", *GENERIC_KIND))

        spec_group = {row.id: classify_specialty(row.name) for row in specialties}
        groups = ("doctor", "mid", "other")
        spec_by_group = {g: [row.id for row in specialties if spec_group[row.id] == g] for g in groups}
        pos_group = {row.id: classify_position(row.name) for row in positions}
        pos_by_group = {g: [row for row in positions if pos_group[row.id] == g] for g in ("doctor", "mid", "other")}
        # A group with no entries borrows from all, so a partial directory still generates.
        for g in spec_by_group:
            if not spec_by_group[g]:
                spec_by_group[g] = [row.id for row in specialties]
        for g in ("doctor", "mid"):
            if not pos_by_group[g]:
                pos_by_group[g] = list(positions)

        # Specialty -> positions with shared word stems (Кардиология -> врач-кардиолог); administrative
        # posts (главный врач, заведующий, главная медсестра) get a small share of every group.
        by_specialty = {}
        for spec in specialties:
            group = spec_group[spec.id]
            pool = pos_by_group["mid" if group == "mid" else "doctor"] if group != "other" else pos_by_group["other"]
            if not pool:
                pool = list(positions)
            stems = _stems(spec.name)
            low = spec.name.lower()
            for marker, alias in SPECIALTY_POSITION_ALIASES:
                if low.startswith(marker):
                    stems.add(alias)
            scored = []
            for pos in pool:
                pos_stems = _stems(pos.name)
                matched = len(stems & pos_stems)
                if matched:
                    scored.append((matched, len(pos_stems - stems), pos.id))
            admin = [p.id for p in pool if p.name.lower().startswith(("главн", "заведующ", "старш"))]
            if scored:
                best = max(m for m, _, _ in scored)
                fewest = min(u for m, u, _ in scored if m == best)
                chosen = [(pid, 6.0 if u == fewest else 2.0) for m, u, pid in scored if m == best]
            else:
                # No post named after the specialty in the directory (a subset, say): a generic
                # "врач-специалист" post if there is one, else any post of the group.
                generic = [p.id for p in pool if "специалист" in p.name.lower()]
                chosen = [(pid, 1.0) for pid in generic] or [(p.id, 1.0) for p in pool if p.id not in admin]
            chosen += [(pid, 0.15) for pid in admin if pid not in {c[0] for c in chosen}]
            by_specialty[spec.id] = ([pid for pid, _ in chosen], list(accumulate(w for _, w in chosen)))

        other_positions = pos_by_group["other"] or list(positions)
        pharmacy = [p.id for p in other_positions if any(m in p.name.lower() for m in ("провизор", "фармацевт"))]
        plain = [p.id for p in other_positions if p.id not in pharmacy]

        kinds = list(accreditation_kinds)
        periodic = _pick(kinds, "период") or kinds[-1]
        specialized = _pick(kinds, "специализ") or kinds[min(1, len(kinds) - 1)]
        primary = next((k for k in kinds if "первичн" in k.name.lower() and k is not specialized), kinds[0])

        cat_rows = sorted(categories, key=lambda c: c.sort_order)
        cat_weights = {"высш": 35, "перв": 35, "втор": 30}
        category_rows = [
            (c.id, c.sort_order, next((w for m, w in cat_weights.items() if m in c.name.lower()), 30)) for c in cat_rows
        ]

        levels = list(education_levels)
        higher = _pick(levels, "специалитет", "высш") or levels[0]
        secondary = _pick(levels, "среднее проф", "средн") or levels[0]
        retraining = _pick(levels, "переподгот") or secondary

        return cls(
            regions=region_rows,
            region_weights=region_weights,
            org_types=org_type_rows,
            specialties=spec_by_group,
            specialty_names={row.id: check_text(row.name) for row in specialties},
            specialty_group=spec_group,
            positions={g: [p.id for p in rows] for g, rows in pos_by_group.items()},
            positions_for_specialty=by_specialty,
            other_pharmacy_positions=pharmacy,
            other_plain_positions=plain or [p.id for p in other_positions],
            accreditation_primary=primary.id,
            accreditation_specialized=specialized.id,
            accreditation_periodic=periodic.id,
            categories=category_rows,
            education_higher=higher.id,
            education_secondary=secondary.id,
            education_retraining=retraining.id,
        )


@dataclass
class OrgPool:
    """The organizations workers are employed at: parallel lists plus cumulative staff weights."""

    ids: list
    region_ids: list
    region_codes: list
    closed_on: list  # ordinal or None
    cum_active: list  # cumulative weights over all orgs, closed ones weigh 0
    cum_all: list


@dataclass
class Plan:
    """Everything a worker process needs to generate rows; built once by the command."""

    seed: int
    today: dt.date
    now: dt.datetime
    workers: int
    organizations: int
    catalog: Catalog
    names: NamePools
    expiring_days: int
    validity_years: int
    # Numbering bases (first value of this run).
    org_id: int = 1
    license_id: int = 1
    worker_id: int = 1
    registry_serial: int = 1
    employment_id: int = 1
    education_id: int = 1
    document_id: int = 1
    category_id: int = 1
    cme_id: int = 1
    snils_spare: dict = field(default_factory=dict)
    inn_spare: dict = field(default_factory=dict)
    ogrn_spare: dict = field(default_factory=dict)
    orgs: OrgPool | None = None

    def check_spaces(self) -> None:
        last_key = self.registry_serial + self.workers
        if last_key >= min(SNILS_SPACE, INN_PERSON_SPACE) // 2:
            raise ValueError("registry serials have outgrown the generator's SNILS/INN space")
        if self.org_id + self.organizations >= ORG_SPACE // 2:
            raise ValueError("organization ids have outgrown the generator's OGRN space")


# --- Organizations --------------------------------------------------------------------------------


def generate_organizations(plan: Plan) -> dict[str, list[tuple]]:
    """All organizations of the run and one license each; also fills plan.orgs for the workers."""
    rng = random.Random(f"{plan.seed}:organizations")
    rr = rng.random
    cat = plan.catalog
    today_ord = plan.today.toordinal()
    now = plan.now
    region_cum = list(accumulate(cat.region_weights))
    region_total = region_cum[-1]
    type_cum = list(accumulate(
        (8 if "частн" in name.lower() else 3 if "больниц" in name.lower() or "поликлин" in name.lower() else 1)
        for _, name, _, _ in cat.org_types
    ))  # fmt: skip
    public_cum = list(accumulate(w for _, _, w in PUBLIC_FORMS))
    private_cum = list(accumulate(w for _, _, w in PRIVATE_FORMS))
    streets = _streets()

    org_rows, license_rows = [], []
    ids, region_ids, region_codes, closed, weights = [], [], [], [], []
    for i in range(plan.organizations):
        org_id = plan.org_id + i
        region_id, code, region_name = cat.regions[bisect(region_cum, rr() * region_total)]
        type_id, type_name, templates, staff = cat.org_types[bisect(type_cum, rr() * type_cum[-1])]
        private = "частн" in type_name.lower() or (type_id is None and rr() < 0.2)
        forms, form_cum = (PRIVATE_FORMS, private_cum) if private else (PUBLIC_FORMS, public_cum)
        form_full, form_short, _ = forms[bisect(form_cum, rr() * form_cum[-1])]
        kind_full, kind_short = templates[int(rr() * len(templates))]
        number = 1 + int(rr() * rr() * 200)
        brand = PRIVATE_BRANDS[int(rr() * len(PRIVATE_BRANDS))]
        kind_full = kind_full.format(n=number, brand=brand)
        kind_short = kind_short.format(n=number, brand=brand)
        cities = REGION_CITIES.get(code, (region_name,))
        city = cities[0] if rr() < 0.6 else cities[int(rr() * len(cities))]
        if private:
            full_name = f"{form_full} «{kind_full.replace('«', '').replace('»', '')}»"
            short_name = f"{form_short} «{kind_short.replace('«', '').replace('»', '')}»"
        else:
            where = FEDERAL_CITY_GENITIVE.get(code) or region_genitive(region_name)
            full_name = f"{form_full} «{kind_full}»" if form_short == "ФГБУ" else f"{form_full} {where} «{kind_full}»"
            short_name = f"{form_short} «{kind_short}»" + ("" if code in FEDERAL_CITIES else f" ({city})")

        # OGRN: sign 1, year of registration, region, then the permuted id (unique, see module doc).
        key = plan.ogrn_spare.get(org_id, org_id)
        tail = permute(key, ORG_MULT, ORG_SPACE)
        registered = 1993 + int(rr() * 30) if not private else 2003 + int(rr() * 21)
        legacy_license = rr() < 0.15  # ~15% still hold a license in the pre-2011 format
        if legacy_license and registered >= 2010:
            registered = 1993 + int(rr() * 17)
        ogrn = ogrn_from_body(f"1{registered % 100:02d}{code}{tail:07d}")
        inn = inn_legal_from_body(f"{code}{tail:07d}")
        kpp = f"{inn[:4]}01001"

        street = streets[int(rr() * len(streets))]
        place = f"г. {city}" if code in FEDERAL_CITIES else f"{region_name}, г. {city}"
        address = f"{100000 + int(rr() * 800000)}, {place}, ул. {street}, д. {1 + int(rr() * 150)}"
        phone = f"+7 ({300 + int(rr() * 600)}) {100 + int(rr() * 900)}-{int(rr() * 100):02d}-{int(rr() * 100):02d}"
        email = f"info@mo{org_id}.example.ru" if rr() < 0.8 else ""
        website = f"https://mo{org_id}.example.ru" if rr() < 0.5 else ""
        is_closed = rr() < 0.03
        closed_ord = today_ord - 30 - int(rr() * 3000) if is_closed else None
        org_rows.append((
            org_id, ogrn, inn, kpp, check_text(full_name), check_text(short_name), type_id, region_id,
            check_text(address), phone, email, website, "closed" if is_closed else "active",
            dt.date.fromordinal(closed_ord) if is_closed else None, normalize_person_name(short_name), now, now,
        ))  # fmt: skip

        # License: the legacy ones issued before 2011, some of them with an end date.
        license_id = plan.license_id + i
        registered_ord = max(dt.date(registered, 1, 1).toordinal(), dt.date(1998, 1, 1).toordinal())
        if legacy_license:
            legacy_span = dt.date(2010, 12, 31).toordinal() - registered_ord
            issued = dt.date.fromordinal(registered_ord + int(rr() * legacy_span))
            number = f"ЛО-{code}-{license_id // 10**6 % 100:02d}-{license_id % 10**6:06d}"
            valid_until = add_years(issued, 5) if rr() < 0.4 else None
        else:
            start = max(registered_ord, dt.date(2011, 1, 1).toordinal())
            issued = dt.date.fromordinal(start + int(rr() * max(1, today_ord - 30 - start)))
            number = f"Л0{41 + int(rr() * 2)}-{1 + int(rr() * 1300):05d}-{code}/{license_id:08d}"
            valid_until = None
        if is_closed:
            status = "terminated"
            if issued.toordinal() >= closed_ord:
                issued = dt.date.fromordinal(closed_ord - 1 - int(rr() * 2000))
                valid_until = None if valid_until is None else add_years(issued, 5)
        elif valid_until is not None and valid_until < plan.today:
            status = "terminated"
        else:
            status = "suspended" if rr() < 0.01 else "active"
        works = "; ".join(sorted(rng.sample(LICENSE_WORKS, 2 + int(rr() * 5))))
        authority = (
            "Федеральная служба по надзору в сфере здравоохранения"
            if form_short == "ФГБУ"
            else f"Министерство здравоохранения {region_genitive(region_name)}"
            if code not in FEDERAL_CITIES
            else f"Департамент здравоохранения {FEDERAL_CITY_GENITIVE[code]}"
        )
        license_rows.append(
            (license_id, org_id, number, issued, valid_until, check_text(authority), status, works, now)
        )

        ids.append(org_id)
        region_ids.append(region_id)
        region_codes.append(code)
        closed.append(closed_ord)
        weights.append(staff * math.exp(rng.gauss(0, 0.7)))

    if plan.organizations:
        plan.orgs = make_org_pool(ids, region_ids, region_codes, closed, weights)
    return {"organization": org_rows, "license": license_rows}


def make_org_pool(ids, region_ids, region_codes, closed, weights) -> OrgPool:
    active = [0.0 if c is not None else w for c, w in zip(closed, weights, strict=True)]
    if not any(active):
        raise ValueError("нет действующих организаций для мест работы")
    return OrgPool(
        ids=list(ids),
        region_ids=list(region_ids),
        region_codes=list(region_codes),
        closed_on=list(closed),
        cum_active=list(accumulate(active)),
        cum_all=list(accumulate(weights)),
    )


def org_pool_enlarge(pool: OrgPool, *, share: float) -> int:
    """Make the first active organization employ about `share` of the new workers' current posts
    (the organization cabinet's benchmark needs one with tens of thousands of staff); returns its id."""
    if not 0 < share < 1:
        raise ValueError("share of the big organization must be between 0 and 1")
    active = [b - a for a, b in zip([0.0, *pool.cum_active], pool.cum_active, strict=False)]
    every = [b - a for a, b in zip([0.0, *pool.cum_all], pool.cum_all, strict=False)]
    big = next(i for i, weight in enumerate(active) if weight > 0)
    others = sum(active) - active[big]
    active[big] = every[big] = others * share / (1 - share)
    pool.cum_active, pool.cum_all = list(accumulate(active)), list(accumulate(every))
    return pool.ids[big]


def existing_org_pool(seed: int, rows) -> OrgPool:
    """Workers for organizations already stored: rows of (id, region id, region code, closed_on)."""
    rng = random.Random(f"{seed}:existing-organizations")
    return make_org_pool(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [code if len(code) == 2 and code.isdigit() else "77" for _, _, code, _ in rows],
        [r[3].toordinal() if r[3] else None for r in rows],
        [rng.lognormvariate(0, 0.7) for _ in rows],
    )


def _streets() -> tuple:
    from faker.providers.address.ru_RU import Provider

    return tuple(check_text(s) for s in Provider.street_titles)


# --- Workers --------------------------------------------------------------------------------------

_MAIN_RATES = tuple(Decimal(x) for x in ("0.25", "0.50", "0.75", "1.00", "1.25", "1.50"))
_MAIN_RATE_CUM = list(accumulate((2, 6, 5, 70, 7, 10)))
_PART_RATE_CUM = list(accumulate((35, 45, 10, 10)))
_OUTCOME_CUM = list(accumulate(w for _, w in ADMISSION_OUTCOMES))
_CME_COUNT_CUM = list(accumulate((14, 16, 20, 20, 15, 15)))
_CME_KIND_CUM = list(accumulate(w for _, w, _ in CME_KINDS))
_IDENTITY = (("confirmed", 55), ("not_confirmed", 38), ("pending", 4), ("rejected", 3))
_IDENTITY_CUM = list(accumulate(w for _, w in _IDENTITY))
_CITIZENSHIP = ("BLR", "KAZ", "ARM", "UZB", "KGZ", "TJK", "UKR", "AZE")
_FRMR_START = dt.date(2017, 3, 1).toordinal()  # the register went live
_MID_QUALIFICATION = {
    "Лечебное дело": "Фельдшер", "Акушерское дело": "Акушерка", "Фармация": "Фармацевт",
    "Лабораторная диагностика": "Медицинский лабораторный техник",
}  # fmt: skip
_HIGHER_SERIES = tuple(f"10{7700 + i:04d}" for i in range(100))
_SECONDARY_SERIES = tuple(f"11{2400 + i:04d}" for i in range(100))
# AdmissionDocument.admission_status ranks (models.ADMISSION_STATUS_RANK): lower is better.
_RANK = {"active": 0, "expiring": 1, "suspended": 2, "expired": 3, "annulled": 4, "none": 5}
_UTC = dt.UTC


class _Fast:
    """Per-process lookup tables: a calendar by ordinal and check digits by chunks of digits.

    The validators compute check digits digit by digit; at millions of rows that was a tenth of the
    generation time. The tables give the same digits (tests compare them with core.validators).
    """

    _instances: dict = {}

    def __init__(self, years: int):
        self.base = dt.date(1940, 1, 1).toordinal()
        stop = dt.date(2100, 1, 1).toordinal()
        self.dates = [dt.date.fromordinal(o) for o in range(self.base, stop)]
        self.plus_years = [add_years(d, years).toordinal() for d in self.dates]
        self.snils_weights = [_weighted(w) for w in ((9, 8, 7), (6, 5, 4), (3, 2, 1))]
        self.inn11_weights = [_weighted(w) for w in ((7, 2), (4, 10, 3, 5), (9, 4, 6, 8))]
        self.inn12_weights = [_weighted(w) for w in ((3, 7), (2, 4, 10, 3), (5, 9, 4, 6))]
        # Damm: the interim digit after three more digits, from each interim digit. The state after a
        # one-digit prefix covers every interim value because the first table row is a permutation.
        starts = {int(damm.checksum(str(d))): str(d) for d in range(10)}
        self.damm3 = [[damm.checksum(f"{starts[s]}{c:03d}") for c in range(1000)] for s in range(10)]
        self.confirmed: dict = {}

    @classmethod
    def get(cls, years: int) -> _Fast:
        if years not in cls._instances:
            cls._instances[years] = cls(years)
        return cls._instances[years]

    def snils(self, k: int) -> str:
        body = SNILS_BASE + k * SNILS_MULT % SNILS_SPACE
        a, b, c = self.snils_weights
        total = a[body // 1_000_000] + b[body // 1000 % 1000] + c[body % 1000]
        return f"{body}{total % 101 % 100:02d}"

    def inn_person(self, k: int, region: str) -> str:
        tail = k * INN_PERSON_MULT % INN_PERSON_SPACE
        r, hi, lo = int(region), tail // 10_000, tail % 10_000
        a, b, c = self.inn11_weights
        d11 = (a[r] + b[hi] + c[lo]) % 11 % 10
        a, b, c = self.inn12_weights
        d12 = (a[r] + b[hi] + c[lo] + 8 * d11) % 11 % 10
        return f"{region}{tail:08d}{d11}{d12}"

    def registry_number(self, serial: int) -> str:
        t = self.damm3
        check = t[t[t[0][serial // 1_000_000]][serial // 1000 % 1000]][serial % 1000]
        return f"{serial:09d}{check}"


def _weighted(weights: tuple[int, ...]) -> list[int]:
    """sum(w * digit) for every number of len(weights) digits, indexed by the number."""
    n = len(weights)
    return [sum(w * int(d) for w, d in zip(weights, f"{x:0{n}d}", strict=True)) for x in range(10**n)]


def generate_worker_block(plan: Plan, block: int) -> dict[str, list[tuple]]:
    """Rows of the workers block*BLOCK_SIZE .. (block+1)*BLOCK_SIZE-1 of this run, children included.

    Written for speed (it runs three million times): locals instead of attributes, dates as
    ordinals with lookup tables, no per-row function calls where a list index does.
    """
    rows: dict[str, list[tuple]] = {t: [] for t in WORKER_TABLES}
    add_worker, add_emp, add_edu, add_doc, add_cat, add_cme = (rows[t].append for t in WORKER_TABLES)
    rng = random.Random(f"{plan.seed}:workers:{block}")
    rr = rng.random
    cat = plan.catalog
    fast = _Fast.get(plan.validity_years)
    base, dates, plus_years = fast.base, fast.dates, fast.plus_years
    confirmed_cache = fast.confirmed
    snils_of, inn_of, registry_of = fast.snils, fast.inn_person, fast.registry_number
    names = plan.names
    lm, lm_cum, lf, lf_cum = names.last_m, names.cum["last_m"], names.last_f, names.cum["last_f"]
    fm, fm_cum, ff, ff_cum = names.first_m, names.cum["first_m"], names.first_f, names.cum["first_f"]
    mm, mm_cum, mf, mf_cum = names.middle_m, names.cum["middle_m"], names.middle_f, names.cum["middle_f"]
    lm_t, lf_t, fm_t, ff_t, mm_t, mf_t = lm_cum[-1], lf_cum[-1], fm_cum[-1], ff_cum[-1], mm_cum[-1], mf_cum[-1]
    latin = names.latin
    orgs = plan.orgs
    cum_active, cum_all = orgs.cum_active, orgs.cum_all
    tot_active, tot_all = cum_active[-1], cum_all[-1]
    org_ids, org_regions, org_codes, org_closed = orgs.ids, orgs.region_ids, orgs.region_codes, orgs.closed_on
    spec_names = cat.specialty_names
    doctor_specs, mid_specs, other_specs = cat.specialties["doctor"], cat.specialties["mid"], cat.specialties["other"]
    pos_for_spec = cat.positions_for_specialty
    pharmacy_positions, plain_positions = cat.other_pharmacy_positions, cat.other_plain_positions
    acc_primary, acc_specialized, acc_periodic = (
        cat.accreditation_primary,
        cat.accreditation_specialized,
        cat.accreditation_periodic,
    )
    edu_higher, edu_secondary, edu_retraining = cat.education_higher, cat.education_secondary, cat.education_retraining
    cats = cat.categories
    cat_cum = list(accumulate(w for _, _, w in cats))
    cat_total = cat_cum[-1]
    snils_spare, inn_spare = plan.snils_spare, plan.inn_spare
    today = plan.today.toordinal()
    now = plan.now
    expiring_days = plan.expiring_days
    five = plus_years[today - base] - today  # validity period in days, near enough to choose windows
    birth_lo = dt.date(1950, 1, 1).toordinal()
    birth_span = dt.date(2002, 12, 31).toordinal() - birth_lo
    accreditation_start = ACCREDITATION_START.toordinal()
    certificates_end = CERTIFICATES_END.toordinal()
    n_departments, n_reasons, n_topics, n_providers = (
        len(DEPARTMENTS),
        len(DISMISSAL_REASONS),
        len(CME_TOPICS),
        len(CME_PROVIDERS),
    )
    main_rate_total, part_rate_total = _MAIN_RATE_CUM[-1], _PART_RATE_CUM[-1]
    outcome_total, cme_count_total, cme_kind_total = _OUTCOME_CUM[-1], _CME_COUNT_CUM[-1], _CME_KIND_CUM[-1]
    identity_total = _IDENTITY_CUM[-1]

    first = block * BLOCK_SIZE
    for index in range(first, min(first + BLOCK_SIZE, plan.workers)):
        worker_id = plan.worker_id + index
        serial = plan.registry_serial + index

        # Who: the group decides specialty, position, the share of men and the education.
        g = rr()
        if g < 0.35:
            group, male = "doctor", rr() < 0.30
        elif g < 0.95:
            group, male = "mid", rr() < 0.05
        else:
            group, male = "other", rr() < 0.25
        if male:
            last = lm[bisect(lm_cum, rr() * lm_t)]
            first_name = fm[bisect(fm_cum, rr() * fm_t)]
            middle = mm[bisect(mm_cum, rr() * mm_t)]
        else:
            last = lf[bisect(lf_cum, rr() * lf_t)]
            first_name = ff[bisect(ff_cum, rr() * ff_t)]
            middle = mf[bisect(mf_cum, rr() * mf_t)]
        citizenship = "RUS"
        if rr() < 0.012:
            citizenship = _CITIZENSHIP[int(rr() * 8)]
            if rr() < 0.5:
                middle = ""
        birth = birth_lo + int(rr() * birth_span)
        if group == "doctor":
            grad = birth + int((23.5 + 3 * rr()) * 365.25)
        elif group == "mid":
            grad = birth + int((19.5 + 3 * rr()) * 365.25)
        else:
            grad = birth + int((21.0 + 3 * rr()) * 365.25)
        if grad > today - 120:
            grad = today - 120

        if group == "doctor":
            specialty = doctor_specs[int(rr() * len(doctor_specs))]
        elif group == "mid":
            specialty = mid_specs[int(rr() * len(mid_specs))]
        elif pharmacy_positions and rr() < 0.6:
            specialty = other_specs[int(rr() * len(other_specs))]
        else:
            specialty = None
        if specialty is None:
            position = plain_positions[int(rr() * len(plain_positions))]
        elif group == "other":
            position = pharmacy_positions[int(rr() * len(pharmacy_positions))]
        else:
            pids, pcum = pos_for_spec[specialty]
            position = pids[bisect(pcum, rr() * pcum[-1])]

        # Employments: a main post (ended for ~7%) and a part-time post for ~12% (ended for ~15%).
        # (kind, rate, started, ended, org index, specialty)
        emp_base = plan.employment_id + index * EMPLOYMENT_SLOTS
        career = today - 30 - grad
        emps = []
        for slot in range(2 if rr() < 0.12 else 1):
            ended = rr() < (0.07 if slot == 0 else 0.15)
            if slot == 0:
                kind = "main"
            else:
                kind = "external" if rr() < 0.6 else "internal"
            if kind == "internal" and org_closed[emps[0][4]] is None:
                o = emps[0][4]
            elif ended:
                o = bisect(cum_all, rr() * tot_all)
                if org_closed[o] is not None and org_closed[o] < grad + 400:
                    o = bisect(cum_active, rr() * tot_active)  # closed before this worker could work there
            else:
                o = bisect(cum_active, rr() * tot_active)
            limit = org_closed[o] if ended and org_closed[o] is not None else today - 1
            spec = specialty
            emp_position = position
            if slot == 0:
                span = min(career, limit - grad - 60)
                started = grad + 30 + int(rr() * (span if span > 1 else 1))
                rate = _MAIN_RATES[bisect(_MAIN_RATE_CUM, rr() * main_rate_total)]
            else:
                span = limit - emps[0][2] - 30
                started = emps[0][2] + int(rr() * (span if span > 1 else 1))
                rate = _MAIN_RATES[bisect(_PART_RATE_CUM, rr() * part_rate_total)]
                if specialty is not None and group != "other" and rr() < 0.2:
                    pool = doctor_specs if group == "doctor" else mid_specs
                    spec = pool[int(rr() * len(pool))]
                    pids, pcum = pos_for_spec[spec]
                    emp_position = pids[bisect(pcum, rr() * pcum[-1])]
            if started > today - 1:
                started = today - 1
            if ended:
                ended_on = started + 1 + int(rr() * (limit - started - 1 if limit - started > 2 else 1))
                if ended_on > limit or ended_on >= today:
                    ended_on = min(limit, today - 1)
                if ended_on < started:
                    ended_on = started
                if org_closed[o] is not None and ended_on == org_closed[o]:
                    reason = DISMISSAL_LIQUIDATION
                else:
                    reason = DISMISSAL_REASONS[int(rr() * n_reasons)]
                ended_day = dates[ended_on - base]
            else:
                ended_on, reason, ended_day = None, "", None
            emps.append((kind, rate, started, ended_on, o, spec))
            add_emp((
                emp_base + slot, worker_id, org_ids[o], "" if rr() < 0.1 else DEPARTMENTS[int(rr() * n_departments)],
                emp_position, spec, rate, kind, dates[started - base], ended_day, reason, now,
            ))  # fmt: skip

        # Derived (services._apply_derived): the main current post decides region and specialty.
        if len(emps) == 1:
            main = emps[0] if emps[0][3] is None or emps[0][3] >= today else None
        else:
            current = [e for e in emps if e[3] is None or e[3] >= today]
            current.sort(key=lambda e: (e[0] != "main", -e[1], -e[2]))
            main = current[0] if current else None
        region_id = org_regions[main[4]] if main else None
        region_code = org_codes[(main or emps[0])[4]]
        primary = main[5] if main and main[5] else None

        # Admission documents: none for ~5% (and for staff without a specialty), else one or two.
        docs = []  # (specialty, admission status, valid until)
        d = rr()
        n_docs = 0 if specialty is None or d < 0.05 else 1 if d < 0.62 else 2
        if n_docs:
            doc_base = plan.document_id + index * DOCUMENT_SLOTS
            outcome = ADMISSION_OUTCOMES[bisect(_OUTCOME_CUM, rr() * outcome_total)][0]
            lo, hi = max(grad, today - five + expiring_days + 1), today  # active
            if outcome == "expiring" and grad <= today - five:
                lo, hi = today - five, today - five + expiring_days - 1
            elif outcome == "expired" and grad <= today - five - 1:
                lo, hi = max(grad, today - 9 * 365), today - five - 1
            elif outcome == "suspended" or outcome == "annulled":
                lo, hi = max(grad, today - five + 1), today
            issued = lo + int(rr() * (hi - lo + 1))
            if issued > hi:
                issued = hi
            status = outcome if outcome == "suspended" or outcome == "annulled" else "valid"
            planned = [(specialty, issued, status)]
            previous = False
            if n_docs == 2:
                if rr() < 0.7 and issued - five - 30 > grad:
                    # The previous document for the same specialty, long expired.
                    planned.append((specialty, issued - five - int(rr() * 300), "valid"))
                    previous = True
                else:
                    other = emps[1][5] if len(emps) > 1 and emps[1][5] not in (None, specialty) else None
                    if other is None:
                        pool = doctor_specs if group == "doctor" else mid_specs if group == "mid" else other_specs
                        other = pool[int(rr() * len(pool))]
                    lo2 = max(grad, today - 9 * 365)
                    planned.append((other, min(lo2 + int(rr() * (today - lo2 + 1)), today), "valid"))
            for slot, (doc_spec, issued, status) in enumerate(planned):
                valid = plus_years[issued - base]
                while slot == 1 and valid == docs[0][2]:
                    # Equal expiry dates would make the best document depend on row order.
                    issued -= 1
                    valid = plus_years[issued - base]
                doc_id = doc_base + slot
                first_doc = slot == 1 or not previous
                issued_day = dates[issued - base]
                if issued >= certificates_end or (issued >= accreditation_start and first_doc and issued - grad < 400):
                    if first_doc and issued - grad < 550:
                        acc = acc_specialized if group == "doctor" and rr() < 0.6 else acc_primary
                    else:
                        acc = acc_specialized if rr() < 0.15 else acc_periodic
                    add_doc((
                        doc_id, worker_id, "accreditation", acc, doc_spec,
                        f"{region_code}{issued_day.year % 100:02d} {doc_id:09d}", issued_day, dates[valid - base],
                        status, now,
                    ))  # fmt: skip
                else:
                    add_doc((
                        doc_id, worker_id, "certificate", None, doc_spec, f"01{region_code}{doc_id:09d}", issued_day,
                        dates[valid - base], status, now,
                    ))  # fmt: skip
                # AdmissionDocument.admission_status
                if status != "valid":
                    admission = status
                elif valid < today:
                    admission = "expired"
                elif valid - today <= expiring_days:
                    admission = "expiring"
                else:
                    admission = "active"
                docs.append((doc_spec, admission, valid))

        # selectors.best_document over the documents of the primary specialty (or all of them).
        if docs:
            relevant = [x for x in docs if x[0] == primary] or docs
            best = relevant[0]
            if len(relevant) == 2:
                other = relevant[1]
                if (_RANK[other[1]], -other[2]) < (_RANK[best[1]], -best[2]):
                    best = other
            admission_status, admission_until = best[1], dates[best[2] - base]
            if primary is None:
                primary = best[0]
        else:
            admission_status, admission_until = "none", None

        # Category (~30% of those with a specialty): needs three years of practice.
        category_id = None
        if specialty is not None and group != "other" and rr() < 0.32 and grad + 3 * 365 < today - 1:
            lo = max(grad + 3 * 365, today - 6 * 365)
            awarded = lo + int(rr() * (today - 1 - lo))
            valid = plus_years[awarded - base]
            cat_id = cats[bisect(cat_cum, rr() * cat_total)][0]
            add_cat((
                plan.category_id + index * CATEGORY_SLOTS, worker_id, cat_id, specialty, dates[awarded - base],
                dates[valid - base], f"{1 + int(rr() * 3000)}-к",
            ))  # fmt: skip
            # One assignment per worker: the best current one is this one unless it has lapsed.
            if valid >= today:
                category_id = cat_id

        # Education: one diploma.
        if group == "doctor" or (specialty is not None and group == "other" and rr() < 0.5):
            universities = MEDICAL_UNIVERSITIES.get(region_code)
            if universities and rr() < 0.7:
                institution = universities[int(rr() * len(universities))]
            else:
                institution = ALL_UNIVERSITIES[int(rr() * len(ALL_UNIVERSITIES))]
            spec_name = spec_names.get(specialty, "")
            if group == "other":
                text, qualification = "Фармация", "Провизор"
            elif "Стоматолог" in spec_name or "Ортодонт" in spec_name:
                text, qualification = "Стоматология", "Врач-стоматолог"
            elif "Педиатр" in spec_name or "Детск" in spec_name or "Неонат" in spec_name:
                text, qualification = "Педиатрия", "Врач-педиатр"
            else:
                text, qualification = "Лечебное дело", "Врач-лечебник"
            add_edu((
                plan.education_id + index * EDUCATION_SLOTS, worker_id, edu_higher, institution,
                _HIGHER_SERIES[int(rr() * 100)], f"{int(rr() * 10**7):07d}", dates[grad - base], None, text,
                qualification,
            ))  # fmt: skip
        else:
            city = REGION_CITIES.get(region_code, ("",))[0]
            if specialty is not None:
                text = spec_names[specialty]
                level = edu_secondary
            else:
                text = "Младшая медицинская сестра по уходу за больными"
                level = edu_secondary if rr() < 0.5 else edu_retraining
            qualification = _MID_QUALIFICATION.get(text) or ("Медицинский брат" if male else "Медицинская сестра")
            add_edu((
                plan.education_id + index * EDUCATION_SLOTS, worker_id, level,
                f"ГБПОУ «Медицинский колледж № {1 + int(rr() * 12)}», г. {city}", _SECONDARY_SERIES[int(rr() * 100)],
                f"{int(rr() * 10**7):07d}", dates[grad - base], specialty if group == "mid" else None, text,
                qualification,
            ))  # fmt: skip

        # Continuing education (НМО): 0-5 records over the last five years.
        n_cme = bisect(_CME_COUNT_CUM, rr() * cme_count_total)
        if n_cme:
            cme_base = plan.cme_id + index * CME_SLOTS
            cme_lo = max(grad, today - 5 * 365)
            cme_span = today - cme_lo
            for slot in range(n_cme):
                kind, _, hours = CME_KINDS[bisect(_CME_KIND_CUM, rr() * cme_kind_total)]
                add_cme((
                    cme_base + slot, worker_id, specialty, kind, CME_TOPICS[int(rr() * n_topics)],
                    CME_PROVIDERS[int(rr() * n_providers)], dates[cme_lo + int(rr() * cme_span) - base],
                    hours[int(rr() * len(hours))],
                ))  # fmt: skip

        # The worker row.
        snils = snils_of(snils_spare.get(serial, serial) if snils_spare else serial)
        inn = inn_of(inn_spare.get(serial, serial) if inn_spare else serial, region_code) if rr() < 0.9 else None
        phone = f"+79{int(rr() * 10**9):09d}" if rr() < 0.6 else ""
        if rr() < 0.4:
            email = f"{latin[last]}.{latin[first_name][:1]}{serial % 1000}@{EMAIL_DOMAINS[serial % 3]}"
        else:
            email = ""
        identity = _IDENTITY[bisect(_IDENTITY_CUM, rr() * identity_total)][0]
        registered = (_FRMR_START if _FRMR_START > emps[0][2] else emps[0][2]) + int(rr() * 400)
        if registered > today:
            registered = today
        confirmed_at = None
        if identity == "confirmed":
            key = (registered + int(rr() * (today - registered + 1))) * 24 + 6 + int(rr() * 12)
            confirmed_at = confirmed_cache.get(key)
            if confirmed_at is None:
                confirmed_at = confirmed_cache[key] = dt.datetime.combine(
                    dates[key // 24 - base], dt.time(key % 24), _UTC
                )
        consent = rr() < 0.1
        consent_at = dt.datetime.combine(dates[registered - base], dt.time(12), _UTC) if consent else None
        add_worker((
            worker_id, registry_of(serial), snils, inn, last, first_name, middle, "M" if male else "F",
            dates[birth - base], citizenship, phone, email, identity, consent, consent_at, dates[registered - base],
            confirmed_at, normalize_person_name(f"{last} {first_name} {middle}"), region_id, primary,
            admission_status, admission_until, category_id, identity == "confirmed", now, now,
        ))  # fmt: skip
    return rows


def block_count(workers: int) -> int:
    return (workers + BLOCK_SIZE - 1) // BLOCK_SIZE


def generate_workers(plan: Plan, first_block: int, stop_block: int) -> dict[str, list[tuple]]:
    """Rows of the blocks first_block .. stop_block-1, merged per table."""
    merged: dict[str, list[tuple]] = {t: [] for t in WORKER_TABLES}
    for block in range(first_block, stop_block):
        for table, rows in generate_worker_block(plan, block).items():
            merged[table].extend(rows)
    return merged


# --- Worker processes (PostgreSQL path) ------------------------------------------------------------
# The command starts them with the "spawn" method: a clean interpreter that imports only this
# module (no Django setup, no inherited database socket) and receives the plan once.

_process_state: dict = {}


def process_init(plan: Plan, extras: dict[str, tuple]) -> None:
    _process_state["plan"] = plan
    _process_state["encoders"] = {t: make_copy_encoder(COLUMNS[t], extras.get(t, ())) for t in WORKER_TABLES}


def process_encode(first_block: int, stop_block: int) -> dict[str, tuple[int, bytes]]:
    """Generate a batch and return it as COPY text per table: {table: (row count, bytes)}."""
    rows = generate_workers(_process_state["plan"], first_block, stop_block)
    encoders = _process_state["encoders"]
    return {table: (len(rows[table]), encoders[table](rows[table])) for table in WORKER_TABLES}
