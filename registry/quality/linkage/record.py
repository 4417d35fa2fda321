"""A worker in the form linkage compares: folded names, stems, digits only, sets of numbers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from . import names


class Record(NamedTuple):
    """A prepared worker. Build it with `prepare`; every field is already normalised.

    A named tuple rather than a frozen dataclass: the full scan builds millions of them, and a
    frozen dataclass's __init__ costs a setattr call per field.

    ``dob`` is «YYYYMMDD» (so a wrong digit is one differing character); empty strings and empty
    sets mean «not known», which no comparison counts for or against.
    """

    id: Any
    sn: str  # surname, folded («иванова-петрова»)
    sn_key: str  # surname with each part reduced to its gender-neutral stem («иванов-петров»)
    sn_parts: tuple[str, ...]  # stems of the parts («иванов», «петров»)
    fn: str  # first name, folded (after putting a swapped patronymic back)
    mn: str  # patronymic, folded
    mn_stem: str  # father's name inside the patronymic
    given_key: str  # first name and patronymic, sorted: the same whatever order they were written in
    swapped: bool  # first name and patronymic were written in each other's fields
    dob: str  # «YYYYMMDD» or ""
    sex: str  # "M", "F" or ""
    snils: str
    inn: str
    phone: str
    email: str
    docs: frozenset[str]  # admission document numbers
    dips: frozenset[str]  # diploma numbers
    orgs: frozenset[str]  # employers (organization ids)
    region: str  # region code (or id)
    specialty: str  # primary specialty (directory id)
    raw: tuple[str, str, str]  # surname, first name, patronymic as written (for explanations)


_NOT_DIGITS = re.compile(r"\D+")


def _digits(value: Any) -> str:
    return _NOT_DIGITS.sub("", str(value or "")) if value else ""


def _numbers(values: Iterable[Any] | None) -> frozenset[str]:
    result = set()
    for value in values or ():
        text = "".join(str(value).upper().split()).replace("-", "")
        if text:
            result.add(text)
    return frozenset(result)


def _dob(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    text = _digits(value)
    return text if len(text) == 8 else ""


def _sex(value: Any) -> str:
    text = str(value or "").strip().upper()
    if text in ("M", "М", "MALE", "МУЖ", "МУЖСКОЙ", "1"):
        return "M"
    if text in ("F", "Ж", "FEMALE", "ЖЕН", "ЖЕНСКИЙ", "2"):
        return "F"
    return ""


def _phone(value: Any) -> str:
    digits = _digits(value)
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    return digits


def prepare(row: Mapping[str, Any]) -> Record:
    """A `Record` from a mapping with the worker's fields.

    Keys: ``id``, ``last_name``, ``first_name``, ``middle_name``, ``sex`` (M/F, М/Ж), ``birth_date``
    (date or «YYYY-MM-DD»), ``snils``, ``inn``, ``phone``, ``email``, ``documents``, ``diplomas``,
    ``employers`` (iterables), ``region``, ``specialty`` (ids). Missing keys are «not known».
    """
    sn = names.fold(row.get("last_name"))
    first_raw, middle_raw = names.fold(row.get("first_name")), names.fold(row.get("middle_name"))
    fn, mn = names.given_names(first_raw, middle_raw)
    parts = names.surname_parts(sn)
    return Record(
        id=row.get("id"),
        sn=sn,
        sn_key="-".join(parts),
        sn_parts=parts,
        fn=fn,
        mn=mn,
        mn_stem=names.patronymic_stem(mn),
        given_key="|".join(sorted((fn, mn))),
        swapped=(fn, mn) != (first_raw, middle_raw),
        dob=_dob(row.get("birth_date")),
        sex=_sex(row.get("sex")),
        snils=_digits(row.get("snils")),
        inn=_digits(row.get("inn")),
        phone=_phone(row.get("phone")),
        email=str(row.get("email") or "").strip().lower(),
        docs=_numbers(row.get("documents")),
        dips=_numbers(row.get("diplomas")),
        orgs=frozenset(str(o) for o in row.get("employers") or () if o not in (None, "")),
        region=str(row.get("region") or ""),
        specialty=str(row.get("specialty") or ""),
        raw=(str(row.get("last_name") or ""), str(row.get("first_name") or ""), str(row.get("middle_name") or "")),
    )
