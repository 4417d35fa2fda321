"""Identifiers of the registry: normalize, check, format and generate them.

Every identifier is stored as bare ASCII digits (a KPP and a license number as their canonical
strings) and shown formatted. ``normalize_*`` take whatever a person typed and return the stored
form or raise ``ValidationError`` with a Russian message and a ``code``; ``validate_*`` are model
field validators that also insist the stored value is already canonical. The checksum rules are
those of docs/domain.md ("Identifiers and their checksums").

Any input of any type fails with ``ValidationError`` only: these functions sit behind forms, the
REST API and CSV imports, where a stray ``TypeError`` would be a 500 instead of a field error.

Checksum messages never name the expected check number: that would turn the form into a tool
for making up valid-looking numbers.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from stdnum import damm

# Anything longer is not a typo of an identifier; refuse it before doing any work on it.
MAX_INPUT_LENGTH = 64

# Separators people paste from documents and office suites: spaces (plain, non-breaking, narrow
# non-breaking, figure space) and dashes (hyphen-minus, hyphen, non-breaking hyphen, figure
# dash, en dash, em dash, minus sign).
_SEPARATORS = frozenset(" \u00a0\u202f\u2007-\u2010\u2011\u2012\u2013\u2014\u2212")
_ASCII_DIGITS = frozenset("0123456789")

# SNILS numbers up to 001-001-998 were issued before the check number existed.
SNILS_UNCHECKED_MAX = 1_001_998

_INN_LEGAL_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_PERSON_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_PERSON_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)

REGISTRY_SERIAL_MAX = 999_999_999
REGISTRY_PREFIX = "МР"

FIELD_SNILS = "СНИЛС"
FIELD_INN = "ИНН"
FIELD_INN_PERSON = "ИНН физического лица"
FIELD_INN_LEGAL = "ИНН организации"
FIELD_KPP = "КПП"
FIELD_OGRN = "ОГРН"
FIELD_OGRNIP = "ОГРНИП"
FIELD_LICENSE = "Номер лицензии"
FIELD_REGISTRY = "Регистровый номер"

MSG_EMPTY = "%(field)s: не заполнено"
MSG_TYPE = "%(field)s: ожидается строка"
MSG_TOO_LONG = "%(field)s: слишком длинное значение (больше %(limit)s символов)"
MSG_NEGATIVE = "%(field)s: число не может быть отрицательным"
MSG_CHARS = "%(field)s: допустимы только цифры, пробелы и дефисы (недопустимый символ %(char)s)"
MSG_LENGTH = "%(field)s: должно быть %(expected)s цифр, введено %(actual)s"
MSG_CHECKSUM = "%(field)s: контрольное число не сходится — проверьте, нет ли опечатки"
MSG_NOT_CANONICAL_DIGITS = "%(field)s: хранится только цифрами, без пробелов и дефисов"
MSG_NOT_CANONICAL = "%(field)s: хранится в каноническом виде (%(canonical)s)"


def _error(message: str, code: str, field: str, **params) -> ValidationError:
    return ValidationError(message, code=code, params={"field": field, **params})


def _describe_char(char: str) -> str:
    # Control and invisible characters are named by code point, so the message shows something.
    if char.isprintable() and not char.isspace():
        return f"«{char}»"
    return f"U+{ord(char):04X}"


def _prepare_text(value: object, *, field: str) -> str:
    """Turn raw input into a stripped ``str`` or raise: the common front door of every normalizer."""
    if value is None:
        raise _error(MSG_EMPTY, "empty", field)
    if isinstance(value, bool):
        raise _error(MSG_TYPE, "type", field)
    if isinstance(value, int):
        if value < 0:
            raise _error(MSG_NEGATIVE, "format", field)
        # str() of an int with thousands of digits raises ValueError (CVE-2020-10735 limit).
        if value >= 10**MAX_INPUT_LENGTH:
            raise _error(MSG_TOO_LONG, "length", field, limit=MAX_INPUT_LENGTH)
        value = format(value, "d")
    if not isinstance(value, str):
        raise _error(MSG_TYPE, "type", field)
    if len(value) > MAX_INPUT_LENGTH:
        raise _error(MSG_TOO_LONG, "length", field, limit=MAX_INPUT_LENGTH)
    text = value.strip()
    if not text:
        raise _error(MSG_EMPTY, "empty", field)
    return text


def normalize_digits(value: object, *, field: str) -> str:
    """Strip spaces and dashes and return the ASCII digits; any other character is an error.

    An ``int`` is accepted too, but it has no leading zeros, so a SNILS like 00112233445 given
    as a number comes out one digit short and fails the length check.
    """
    text = _prepare_text(value, field=field)
    digits = []
    for char in text:
        if char in _ASCII_DIGITS:
            digits.append(char)
        elif char not in _SEPARATORS:
            # Unicode digits (Arabic-Indic, full-width...) land here on purpose: str.isdigit()
            # accepts them, int() converts them, and the tax service would not.
            raise _error(MSG_CHARS, "chars", field, char=_describe_char(char))
    if not digits:
        raise _error(MSG_EMPTY, "empty", field)
    return "".join(digits)


def is_digits(value: str, *, max_length: int | None = None, length: int | None = None) -> bool:
    """Only the ASCII digits 0-9 (str.isdigit() also accepts «³», «٣», «３», which int() or the database
    then choke on), optionally of a given length or at most a length."""
    if not value or not value.isascii() or not value.isdigit():
        return False
    if length is not None and len(value) != length:
        return False
    return max_length is None or len(value) <= max_length


def _require_length(digits: str, expected: int | tuple[int, ...], *, field: str) -> None:
    allowed = expected if isinstance(expected, tuple) else (expected,)
    if len(digits) not in allowed:
        raise _error(MSG_LENGTH, "length", field, expected=" или ".join(str(n) for n in allowed), actual=len(digits))


def _require_ascii_digits(body: str, length: int, what: str) -> None:
    # For the generators: a wrong body there is a programming error, not user input.
    if not isinstance(body, str) or len(body) != length or not set(body) <= _ASCII_DIGITS:
        raise ValueError(f"{what}: expected {length} ASCII digits, got {body!r}")


# --- SNILS --------------------------------------------------------------------------------------


def snils_checksum(first9: str) -> str:
    """The two-digit check number of a SNILS from its first nine digits."""
    total = sum(weight * int(digit) for weight, digit in zip(range(9, 0, -1), first9, strict=True))
    # S < 100 -> S; S in (100, 101) -> 00; S > 101 -> S mod 101 with 100 -> 00.
    # All three cases are (S mod 101) mod 100.
    return f"{total % 101 % 100:02d}"


def normalize_snils(value: object) -> str:
    digits = normalize_digits(value, field=FIELD_SNILS)
    _require_length(digits, 11, field=FIELD_SNILS)
    if int(digits[:9]) > SNILS_UNCHECKED_MAX and snils_checksum(digits[:9]) != digits[9:]:
        raise _error(MSG_CHECKSUM, "checksum", FIELD_SNILS)
    return digits


def format_snils(value: str) -> str:
    """``XXX-XXX-XXX YY`` for stored digits; anything else is returned as it is (display never raises)."""
    if not _is_ascii_digits(value, 11):
        return "" if value is None else str(value)
    return f"{value[:3]}-{value[3:6]}-{value[6:9]} {value[9:]}"


def snils_from_number(n: int) -> str:
    """A valid SNILS (11 digits) whose first nine digits are ``n``; ``n`` must be a checked number."""
    if isinstance(n, bool) or not isinstance(n, int) or not SNILS_UNCHECKED_MAX < n <= 999_999_999:
        raise ValueError(f"SNILS body must be an int in {SNILS_UNCHECKED_MAX + 1}..999999999, got {n!r}")
    body = f"{n:09d}"
    return body + snils_checksum(body)


# --- INN ----------------------------------------------------------------------------------------


def _weighted_mod11_mod10(weights: tuple[int, ...], digits: str) -> str:
    return str(sum(w * int(d) for w, d in zip(weights, digits, strict=True)) % 11 % 10)


def inn_check_digits(body: str) -> str:
    """Check digits of an INN: one for a 9-digit organization body, two for a 10-digit person body."""
    if len(body) == 9:
        return _weighted_mod11_mod10(_INN_LEGAL_WEIGHTS, body)
    if len(body) == 10:
        d11 = _weighted_mod11_mod10(_INN_PERSON_WEIGHTS_11, body)
        return d11 + _weighted_mod11_mod10(_INN_PERSON_WEIGHTS_12, body + d11)
    raise ValueError(f"INN body must have 9 or 10 digits, got {body!r}")


def _check_inn(digits: str, field: str) -> str:
    body_length = 9 if len(digits) == 10 else 10
    if inn_check_digits(digits[:body_length]) != digits[body_length:]:
        raise _error(MSG_CHECKSUM, "checksum", field)
    return digits


def normalize_inn(value: object) -> str:
    """An INN of an organization (10 digits) or of a person (12 digits)."""
    digits = normalize_digits(value, field=FIELD_INN)
    _require_length(digits, (10, 12), field=FIELD_INN)
    return _check_inn(digits, FIELD_INN)


def normalize_inn_person(value: object) -> str:
    digits = normalize_digits(value, field=FIELD_INN_PERSON)
    _require_length(digits, 12, field=FIELD_INN_PERSON)
    return _check_inn(digits, FIELD_INN_PERSON)


def normalize_inn_legal(value: object) -> str:
    digits = normalize_digits(value, field=FIELD_INN_LEGAL)
    _require_length(digits, 10, field=FIELD_INN_LEGAL)
    return _check_inn(digits, FIELD_INN_LEGAL)


def format_inn(value: str) -> str:
    """An INN is shown as its digits."""
    return "" if value is None else str(value)


def inn_person_from_body(body10: str) -> str:
    _require_ascii_digits(body10, 10, "INN person body")
    return body10 + inn_check_digits(body10)


def inn_legal_from_body(body9: str) -> str:
    _require_ascii_digits(body9, 9, "INN legal body")
    return body9 + inn_check_digits(body9)


# --- KPP ----------------------------------------------------------------------------------------

# Tax office code (4 digits), reason code (2 digits or Latin capitals since 2013), serial (3 digits).
_KPP_RE = re.compile(r"[0-9]{4}[0-9A-Z]{2}[0-9]{3}")
MSG_KPP_LENGTH = "%(field)s: должно быть 9 символов, введено %(actual)s"
MSG_KPP_FORMAT = (
    "%(field)s: 4 цифры, затем 2 цифры или латинские буквы A–Z, затем 3 цифры, например 773601001 или 7736AB001"
)


def normalize_kpp(value: object) -> str:
    text = _prepare_text(value, field=FIELD_KPP)
    compact = "".join(char for char in text if char not in _SEPARATORS).upper()
    if not compact:
        raise _error(MSG_EMPTY, "empty", FIELD_KPP)
    if len(compact) != 9:
        raise _error(MSG_KPP_LENGTH, "length", FIELD_KPP, actual=len(compact))
    # fullmatch with explicit ASCII classes: no Unicode digits or letters slip through.
    if not _KPP_RE.fullmatch(compact):
        raise _error(MSG_KPP_FORMAT, "format", FIELD_KPP)
    return compact


# --- OGRN / OGRNIP -----------------------------------------------------------------------------

# Not stdnum.ru.ogrn: it takes (first 14 mod 13) without the final mod 10 for an OGRNIP, so it
# rejects every valid OGRNIP whose remainder is 10, 11 or 12, and it lets an OGRNIP start with 4.


def ogrn_check_digit(body12: str) -> str:
    return str(int(body12) % 11 % 10)


def ogrnip_check_digit(body14: str) -> str:
    return str(int(body14) % 13 % 10)


MSG_OGRN_FIRST = "%(field)s: должен начинаться с 1 или 5"
MSG_OGRNIP_FIRST = "%(field)s: должен начинаться с 3"


def normalize_ogrn(value: object) -> str:
    digits = normalize_digits(value, field=FIELD_OGRN)
    _require_length(digits, 13, field=FIELD_OGRN)
    if digits[0] not in "15":
        raise _error(MSG_OGRN_FIRST, "format", FIELD_OGRN)
    if ogrn_check_digit(digits[:12]) != digits[12]:
        raise _error(MSG_CHECKSUM, "checksum", FIELD_OGRN)
    return digits


def normalize_ogrnip(value: object) -> str:
    digits = normalize_digits(value, field=FIELD_OGRNIP)
    _require_length(digits, 15, field=FIELD_OGRNIP)
    if digits[0] != "3":
        raise _error(MSG_OGRNIP_FIRST, "format", FIELD_OGRNIP)
    if ogrnip_check_digit(digits[:14]) != digits[14]:
        raise _error(MSG_CHECKSUM, "checksum", FIELD_OGRNIP)
    return digits


def ogrn_from_body(body12: str) -> str:
    _require_ascii_digits(body12, 12, "OGRN body")
    if body12[0] not in "15":
        raise ValueError(f"OGRN body must start with 1 or 5, got {body12!r}")
    return body12 + ogrn_check_digit(body12)


def ogrnip_from_body(body14: str) -> str:
    _require_ascii_digits(body14, 14, "OGRNIP body")
    if body14[0] != "3":
        raise ValueError(f"OGRNIP body must start with 3, got {body14!r}")
    return body14 + ogrnip_check_digit(body14)


# --- License numbers ----------------------------------------------------------------------------

# Current: Л0 + 2 digits - 5 digits - 2-digit region / 8 digits (the zero after Л is a digit).
# Legacy:  ЛО (Cyrillic letter О) - region - 2 digits - 6 digits.
_LICENSE_CURRENT_RE = re.compile(r"Л0[0-9]{2}-[0-9]{5}-[0-9]{2}/[0-9]{8}")
_LICENSE_LEGACY_RE = re.compile(r"ЛО-[0-9]{2}-[0-9]{2}-[0-9]{6}")
# Only the Latin O that people type for the Cyrillic О in ЛО; other look-alikes are not guessed.
_LICENSE_LOOKALIKES = str.maketrans({"O": "О"})
MSG_LICENSE_FORMAT = (
    "%(field)s: неверный формат. Ожидается Л041-01137-77/00368557 (действующий формат) "
    "или ЛО-77-01-012345 (прежний формат)"
)


def normalize_license_number(value: object) -> str:
    text = _prepare_text(value, field=FIELD_LICENSE).upper().translate(_LICENSE_LOOKALIKES)
    if _LICENSE_CURRENT_RE.fullmatch(text) or _LICENSE_LEGACY_RE.fullmatch(text):
        return text
    raise _error(MSG_LICENSE_FORMAT, "format", FIELD_LICENSE)


# --- Our registry number ------------------------------------------------------------------------

# Stored as 10 digits: a 9-digit serial and a Damm check digit, which catches every single-digit
# error and every swap of neighbouring digits. Shown as "МР 123456789-0": the prefix and the lone
# check digit keep it from being taken for a SNILS. Input takes "МР", Latin "MR" or look-alike
# "MP" in any case, or no prefix.
_REGISTRY_PREFIX_RE = re.compile(r"[МM][РPR]", re.IGNORECASE)
MSG_REGISTRY_ZERO = "%(field)s: номер 000000000 не выдаётся"


def registry_number_from_serial(serial: int) -> str:
    if isinstance(serial, bool) or not isinstance(serial, int) or not 1 <= serial <= REGISTRY_SERIAL_MAX:
        raise ValueError(f"registry serial must be an int in 1..{REGISTRY_SERIAL_MAX}, got {serial!r}")
    body = f"{serial:09d}"
    return body + damm.calc_check_digit(body)


def normalize_registry_number(value: object) -> str:
    text = _prepare_text(value, field=FIELD_REGISTRY)
    prefix = _REGISTRY_PREFIX_RE.match(text)
    if prefix:
        text = text[prefix.end() :]
    digits = normalize_digits(text, field=FIELD_REGISTRY)
    _require_length(digits, 10, field=FIELD_REGISTRY)
    if damm.checksum(digits) != 0:
        raise _error(MSG_CHECKSUM, "checksum", FIELD_REGISTRY)
    if digits[:9] == "000000000":
        raise _error(MSG_REGISTRY_ZERO, "format", FIELD_REGISTRY)
    return digits


def format_registry_number(value: str) -> str:
    """``МР 123456789-0`` for stored digits; anything else is returned as it is (display never raises)."""
    if not _is_ascii_digits(value, 10):
        return "" if value is None else str(value)
    return f"{REGISTRY_PREFIX} {value[:9]}-{value[9]}"


# --- Model field validators ---------------------------------------------------------------------


def _is_ascii_digits(value: object, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and set(value) <= _ASCII_DIGITS


def _require_canonical(value: object, canonical: str, *, field: str, digits_only: bool) -> None:
    if value != canonical:
        if digits_only:
            raise _error(MSG_NOT_CANONICAL_DIGITS, "not_canonical", field)
        raise _error(MSG_NOT_CANONICAL, "not_canonical", field, canonical=canonical)


def validate_snils(value: object) -> None:
    _require_canonical(value, normalize_snils(value), field=FIELD_SNILS, digits_only=True)


def validate_inn_person(value: object) -> None:
    _require_canonical(value, normalize_inn_person(value), field=FIELD_INN_PERSON, digits_only=True)


def validate_inn_legal(value: object) -> None:
    _require_canonical(value, normalize_inn_legal(value), field=FIELD_INN_LEGAL, digits_only=True)


def validate_kpp(value: object) -> None:
    _require_canonical(value, normalize_kpp(value), field=FIELD_KPP, digits_only=False)


def validate_ogrn(value: object) -> None:
    _require_canonical(value, normalize_ogrn(value), field=FIELD_OGRN, digits_only=True)


def validate_ogrnip(value: object) -> None:
    _require_canonical(value, normalize_ogrnip(value), field=FIELD_OGRNIP, digits_only=True)


def validate_license_number(value: object) -> None:
    _require_canonical(value, normalize_license_number(value), field=FIELD_LICENSE, digits_only=False)


def validate_registry_number(value: object) -> None:
    _require_canonical(value, normalize_registry_number(value), field=FIELD_REGISTRY, digits_only=True)


# --- Names --------------------------------------------------------------------------------------


def normalize_person_name(text: str | None) -> str:
    """The search form of a name: NFC, lower case, ё -> е, single spaces, stripped."""
    if not text:
        return ""
    # NFC first: a pasted "ё" may be "е" + combining diaeresis, which replace() would miss.
    text = unicodedata.normalize("NFC", str(text)).lower().replace("ё", "е")
    return " ".join(text.split())


# --- Mobile phone --------------------------------------------------------------------------------

MSG_PHONE = "%(field)s: укажите мобильный номер в формате +7 9XX XXX-XX-XX"


def normalize_mobile_phone(value: object, *, field: str = "Телефон") -> str:
    """A Russian mobile number as +79XXXXXXXXX; accepts +7/8 prefixes, spaces, dashes, brackets."""
    text = _prepare_text(value, field=field)
    cleaned = text.replace("(", " ").replace(")", " ")
    if cleaned.startswith("+"):
        cleaned = cleaned[1:]
    digits = normalize_digits(cleaned, field=field)
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10 or digits[0] != "9":
        raise _error(MSG_PHONE, "format", field)
    return f"+7{digits}"
