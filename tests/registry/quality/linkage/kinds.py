"""Pairs of records for each duplicate kind of issue 15 and the hard negatives (shared by tests)."""

import datetime as dt

BASE = {
    "id": 1, "last_name": "Сорокина", "first_name": "Светлана", "middle_name": "Олеговна", "sex": "F",
    "birth_date": dt.date(1984, 3, 17), "snils": "11223344595", "inn": "500100732259", "phone": "+79161234567",
    "email": "s.sorokina@example.com", "documents": ["0377180123456"], "diplomas": ["107704 0012345"],
    "employers": [101], "region": "50", "specialty": "27",
}  # fmt: skip
# A duplicate entered by another employer: another SNILS, INN, phone, e-mail, numbers, employer.
OTHER_IDS = {
    "id": 2, "snils": "15975348620", "inn": "770708389301", "phone": "+79031112233", "email": "sveta84@example.org",
    "documents": ["1177241234567"], "diplomas": ["107718 0099999"], "employers": [202],
}  # fmt: skip


def variant(**changes):
    return {**BASE, **OTHER_IDS, **changes}


KINDS = {
    "exact": variant(),
    "yo": variant(last_name="Сорокина", first_name="Светлана", middle_name="Олеговна".replace("е", "ё")),
    "case_space": variant(last_name=" СОРОКИНА ", first_name="светлана", middle_name="  Олеговна"),
    "surname_typo": variant(last_name="Сорокена"),
    "swap": variant(first_name="Олеговна", middle_name="Светлана"),
    "double_single": (
        {**BASE, "last_name": "Сорокина-Левина"},
        variant(last_name="Левина"),
    ),
    "female_male": variant(last_name="Сорокин"),
    "dob_digit": variant(birth_date=dt.date(1984, 3, 19)),
    "dob_daymonth": (
        {**BASE, "birth_date": dt.date(1984, 3, 7)},
        variant(birth_date=dt.date(1984, 7, 3)),
    ),
}

NEGATIVES = {
    "namesake": variant(birth_date=dt.date(1979, 11, 2)),
    "twin_sister": variant(first_name="Наталья", employers=[101], region="50", specialty="27"),
    "twin_brother": variant(
        first_name="Сергей",
        last_name="Сорокин",
        middle_name="Олегович",
        sex="M",
        employers=[101],
        region="50",
        specialty="27",
    ),
    "same_name_other_everything": variant(birth_date=dt.date(1990, 6, 1), region="77", specialty="3"),
}


def pair(kind):
    value = KINDS.get(kind) or NEGATIVES[kind]
    return value if isinstance(value, tuple) else (BASE, value)
