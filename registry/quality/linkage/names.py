"""Russian personal names, reduced to the forms that record linkage compares.

- `fold`: NFC, lower case, ё -> е, spaces and dashes unified (the register's search form, plus
  dashes: «Иванова - Петрова» and «Иванова‑Петрова» are one surname).
- `surname_stem`: the surname without its grammatical-gender ending, so «Иванов» and «Иванова»,
  «Чайковский» and «Чайковская», «Толстой» and «Толстая» share a stem. Surnames that do not
  change with gender (Шевченко, Черных, Цой) are left as they are.
- `surname_parts`: the stems of each part of a double surname («Иванова-Петрова» -> иванов,
  петров), so a double surname recorded as a single one still shares a part.
- `patronymic_stem`: the father's name inside a patronymic, for both sexes («Сергеевич» and
  «Сергеевна» -> серге, «Ильич» and «Ильинична» -> иль).
"""

from __future__ import annotations

import unicodedata

# Dashes and spaces people paste: hyphen-minus, hyphen, non-breaking hyphen, figure dash, en and
# em dash, minus sign; plain, non-breaking, narrow and figure spaces.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_SPACES = " \u00a0\u202f\u2007\t"
_FOLD_TABLE = str.maketrans({**{c: "-" for c in _DASHES}, **{c: " " for c in _SPACES}, "ё": "е"})

# Gendered surname endings, longest first; each maps both forms to one stem. The adjectival
# endings (-ой/-ая, -ый/-ая, -ий/-яя) are dropped altogether, since «-ая» may come from any of them.
_SURNAME_ENDINGS: tuple[tuple[str, str], ...] = (
    ("ская", "ск"),
    ("ский", "ск"),
    ("цкая", "цк"),
    ("цкий", "цк"),
    ("ова", "ов"),
    ("ева", "ев"),
    ("ина", "ин"),
    ("ына", "ын"),
    ("ая", ""),
    ("яя", ""),
    ("ой", ""),
    ("ый", ""),
    ("ий", ""),
)
# Patronymic endings, longest first (both sexes give the same stem).
_PATRONYMIC_ENDINGS: tuple[str, ...] = ("инична", "ович", "овна", "евич", "евна", "ична", "ич")
# Endings by which a word is taken for a patronymic (first name and patronymic written swapped).
PATRONYMIC_MARKERS: tuple[str, ...] = ("вич", "вна", "ична", "ич", "оглы", "кызы")
MIN_STEM = 2  # never strip a surname to less than this many letters


def fold(text: str | None) -> str:
    """The comparison form of a name: NFC, lower case, ё -> е, single spaces, no spaces around dashes."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text)).lower().translate(_FOLD_TABLE)
    text = " ".join(text.split())
    return "-".join(part.strip() for part in text.split("-") if part.strip())


def surname_stem(word: str) -> str:
    """One folded surname word without its gender ending («иванова» -> «иванов»)."""
    for ending, replacement in _SURNAME_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)] + replacement
    return word


def surname_parts(surname: str) -> tuple[str, ...]:
    """Stems of the parts of a folded surname, in order, without repeats («иванова-петрова» -> (иванов, петров))."""
    parts: list[str] = []
    for part in surname.replace(" ", "-").split("-"):
        stem = surname_stem(part)
        if stem and stem not in parts:
            parts.append(stem)
    return tuple(parts)


def surname_key(surname: str) -> str:
    """The whole folded surname with each part reduced to its stem («иванова-петрова» -> «иванов-петров»)."""
    return "-".join(surname_parts(surname))


def patronymic_stem(word: str) -> str:
    """The father's name inside a folded patronymic («сергеевна» -> «серге»); other words unchanged."""
    for ending in _PATRONYMIC_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)]
    return word


def looks_like_patronymic(word: str) -> bool:
    return word.endswith(PATRONYMIC_MARKERS)


def given_names(first: str, middle: str) -> tuple[str, str]:
    """(first name, patronymic) in the right order: a patronymic written in the first-name field
    and a first name in the patronymic field are put back."""
    if first and middle and looks_like_patronymic(first) and not looks_like_patronymic(middle):
        return middle, first
    return first, middle
