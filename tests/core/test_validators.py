"""Identifier normalizers, checksums, validators and generators (core.validators).

The single-digit-change properties state what each checksum really guarantees, worked out in
the comments beside them; where a scheme cannot catch every change, the test asserts exactly
which changes slip through, so a broken checksum still fails it.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.ru import inn as stdnum_inn

from core import validators as v

FAST = settings(max_examples=200, deadline=None)

NORMALIZERS = [
    v.normalize_snils,
    v.normalize_inn,
    v.normalize_inn_person,
    v.normalize_inn_legal,
    v.normalize_kpp,
    v.normalize_ogrn,
    v.normalize_ogrnip,
    v.normalize_license_number,
    v.normalize_registry_number,
]
FIELD_VALIDATORS = [
    v.validate_snils,
    v.validate_inn_person,
    v.validate_inn_legal,
    v.validate_kpp,
    v.validate_ogrn,
    v.validate_ogrnip,
    v.validate_license_number,
    v.validate_registry_number,
]

SNILS_WEIGHTS = tuple(range(9, 0, -1))
INN_LEGAL_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def raises(func, value, code: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        func(value)
    assert info.value.code == code, (value, info.value.code, info.value.messages)
    return info.value


def message(func, value, code: str) -> str:
    return raises(func, value, code).messages[0]


def single_digit_changes(number: str):
    """Every string that differs from ``number`` in exactly one digit: (position, old, new, changed)."""
    for position, old in enumerate(number):
        for new in "0123456789":
            if new != old:
                yield position, old, new, number[:position] + new + number[position + 1 :]


def accepts(func, value) -> bool:
    try:
        func(value)
    except ValidationError:
        return False
    return True


# --- strategies ---------------------------------------------------------------------------------

snils_numbers = st.integers(min_value=v.SNILS_UNCHECKED_MAX + 1, max_value=999_999_999).map(v.snils_from_number)
inn_legal_numbers = st.text("0123456789", min_size=9, max_size=9).map(v.inn_legal_from_body)
inn_person_numbers = st.text("0123456789", min_size=10, max_size=10).map(v.inn_person_from_body)
ogrn_numbers = st.builds(
    lambda first, rest: v.ogrn_from_body(first + rest),
    st.sampled_from("15"),
    st.text("0123456789", min_size=11, max_size=11),
)
ogrnip_numbers = st.text("0123456789", min_size=13, max_size=13).map(lambda rest: v.ogrnip_from_body("3" + rest))
registry_numbers = st.integers(min_value=1, max_value=v.REGISTRY_SERIAL_MAX).map(v.registry_number_from_serial)

SEPARATORS = [" ", "\u00a0", "-", "\u2013", "\u2212"]


@st.composite
def with_separators(draw, digits_strategy):
    """Digits as a person might paste them: separators sprinkled between and around."""
    digits = draw(digits_strategy)
    out = [draw(st.sampled_from(["", " ", "\u00a0"]))]
    for char in digits:
        out.append(char)
        out.append(draw(st.sampled_from(["", "", "", *SEPARATORS])))
    return digits, "".join(out)


# --- known numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["112-233-445 95", "11223344595", " 112 233 445 95 ", "112\u2013233\u2013445\u00a095"]
)
def test_known_valid_snils_in_any_layout_gives_digits(typed):
    assert v.normalize_snils(typed) == "11223344595"


def test_known_valid_inns():
    assert v.normalize_inn("7707083893") == "7707083893"
    assert v.normalize_inn_legal("7707083893") == "7707083893"
    assert v.normalize_inn("500100732259") == "500100732259"
    assert v.normalize_inn_person("500100732259") == "500100732259"


def test_known_invalid_inn_fails_on_checksum():
    assert message(v.normalize_inn, "123456789037", "checksum") == (
        "ИНН: контрольное число не сходится — проверьте, нет ли опечатки"
    )
    raises(v.normalize_inn_person, "123456789037", "checksum")


def test_known_valid_ogrn_and_ogrnip():
    assert v.normalize_ogrn("1027700132195") == "1027700132195"
    # 30450011600015 mod 13 = 7.
    assert v.ogrnip_from_body("30450011600015") == "304500116000157"
    assert v.normalize_ogrnip("304500116000157") == "304500116000157"


def test_ogrnip_remainder_above_nine_keeps_only_its_last_digit():
    # 36015333177367 mod 13 = 11, so the check digit is 1 (docs/domain.md: (mod 13) mod 10).
    # stdnum.ru.ogrn compares against "11" here and rejects it; that is why we do not use it.
    assert int("36015333177367") % 13 == 11
    assert v.normalize_ogrnip("360153331773671") == "360153331773671"


def test_ogrn_must_start_with_1_or_5_and_ogrnip_with_3():
    assert message(v.normalize_ogrn, "2027700132195", "format") == "ОГРН: должен начинаться с 1 или 5"
    assert v.normalize_ogrn(v.ogrn_from_body("502770013219")).startswith("5")
    assert message(v.normalize_ogrnip, "404500116000157", "format") == "ОГРНИП: должен начинаться с 3"


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("026002389", "00"),  # S = 100
        ("030214884", "00"),  # S = 101
        ("126103073", "01"),  # S = 102 -> 102 mod 101
        ("543546368", "00"),  # S = 201 -> 201 mod 101 = 100 -> 00
        ("578899234", "00"),  # S = 302 -> 302 mod 101 = 100 -> 00
    ],
)
def test_snils_checksum_boundaries(body, check):
    assert v.snils_checksum(body) == check
    assert v.normalize_snils(body + check) == body + check


def test_snils_checksum_below_one_hundred_is_the_sum():
    assert v.snils_checksum("112233445") == "95"
    assert v.snils_checksum("001002003") == "18"  # 1*7 + 2*4 + 3*1


def test_snils_up_to_001_001_998_is_not_checked():
    assert v.normalize_snils("001-001-998 77") == "00100199877"
    assert v.normalize_snils("000-000-001 00") == "00000000100"
    raises(v.normalize_snils, "001-001-999 77", "checksum")
    body = "001001999"
    assert v.normalize_snils(body + v.snils_checksum(body)) == body + v.snils_checksum(body)


def test_kpp_accepts_digits_and_latin_reason_code():
    assert v.normalize_kpp("773601001") == "773601001"
    assert v.normalize_kpp(" 7736ab001 ") == "7736AB001"
    assert v.normalize_kpp("7736-AB-001") == "7736AB001"


@pytest.mark.parametrize(
    "typed", ["77360100", "7736010011", "77A601001", "7736АВ001", "7736AB00Z", "７７３６０１００１"]
)
def test_kpp_rejects_wrong_shapes(typed):
    with pytest.raises(ValidationError) as info:
        v.normalize_kpp(typed)
    assert info.value.code in {"length", "format"}
    assert info.value.messages[0].startswith("КПП: ")


def test_kpp_format_message_explains_the_shape():
    text = message(v.normalize_kpp, "7736АВ001", "format")  # Cyrillic А and В
    assert "латинские буквы A–Z" in text and "773601001" in text
    assert message(v.normalize_kpp, "77360100", "length") == "КПП: должно быть 9 символов, введено 8"


# --- license numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Л041-01137-77/00368557", "Л041-01137-77/00368557"),
        ("  л041-01137-77/00368557\n", "Л041-01137-77/00368557"),
        ("ЛО-77-01-012345", "ЛО-77-01-012345"),
        ("лo-77-01-012345", "ЛО-77-01-012345"),  # Latin o for the Cyrillic О
        ("ЛO-77-01-012345", "ЛО-77-01-012345"),
    ],
)
def test_license_number_accepts_both_formats(typed, canonical):
    assert v.normalize_license_number(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "ЛО41-01137-77/00368557",  # letter О where the current format has the digit 0
        "L041-01137-77/00368557",  # Latin L is not guessed
        "Л041-01137-77-00368557",
        "Л041 01137 77/00368557",
        "Л-77-01-012345",
        "Л0-77-01-012345",  # digit zero in the legacy prefix
        "ЛО-77-01-01234",
        "ЛО-77-01-012345/1",
        "Л041-01137-77/0036855٧",
        "12345",
    ],
)
def test_license_number_rejects_other_shapes_with_both_examples(typed):
    text = message(v.normalize_license_number, typed, "format")
    assert text.startswith("Номер лицензии: неверный формат")
    assert "Л041-01137-77/00368557" in text and "ЛО-77-01-012345" in text


# --- registry numbers ---------------------------------------------------------------------------


def test_registry_number_from_serial_pads_and_appends_damm_digit():
    assert v.registry_number_from_serial(123456789) == "1234567894"
    assert v.registry_number_from_serial(1) == "0000000013"
    assert v.format_registry_number("1234567894") == "МР 123456789-4"


@pytest.mark.parametrize(
    "typed",
    [
        "1234567894",
        "МР 123456789-4",
        "мр123456789-4",
        "MR 123456789-4",
        "mr 123 456 789 4",
        "MP 123-456-789-4",
        " МР-1234567894 ",
    ],
)
def test_registry_number_accepts_prefix_spaces_and_dashes(typed):
    assert v.normalize_registry_number(typed) == "1234567894"


def test_registry_number_errors():
    assert message(v.normalize_registry_number, "1234567895", "checksum") == (
        "Регистровый номер: контрольное число не сходится — проверьте, нет ли опечатки"
    )
    assert message(v.normalize_registry_number, "МР 12345678-9", "length") == (
        "Регистровый номер: должно быть 10 цифр, введено 9"
    )
    raises(v.normalize_registry_number, "МР", "empty")
    raises(v.normalize_registry_number, "ММ 123456789-4", "chars")
    # Serial 0 passes Damm (0000000000) but is never issued.
    raises(v.normalize_registry_number, "0000000000", "format")


@pytest.mark.parametrize("serial", [0, -1, 1_000_000_000, True, "123"])
def test_registry_number_from_serial_rejects_out_of_range(serial):
    with pytest.raises(ValueError):
        v.registry_number_from_serial(serial)


# --- messages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", "   ", "\u00a0", " - ", "\t\n"])
def test_empty_input_says_not_filled(empty):
    assert message(v.normalize_snils, empty, "empty") == "СНИЛС: не заполнено"


def test_length_messages_name_the_field_and_both_counts():
    assert message(v.normalize_snils, "112-233-445 9", "length") == "СНИЛС: должно быть 11 цифр, введено 10"
    assert (
        message(v.normalize_inn_legal, "500100732259", "length") == "ИНН организации: должно быть 10 цифр, введено 12"
    )
    assert message(v.normalize_inn_person, "7707083893", "length") == (
        "ИНН физического лица: должно быть 12 цифр, введено 10"
    )
    assert message(v.normalize_inn, "77070838931", "length") == "ИНН: должно быть 10 или 12 цифр, введено 11"
    assert message(v.normalize_ogrn, "10277001321950", "length") == "ОГРН: должно быть 13 цифр, введено 14"
    assert message(v.normalize_ogrnip, "30450011600015", "length") == "ОГРНИП: должно быть 15 цифр, введено 14"


def test_chars_message_names_the_offending_character():
    text = message(v.normalize_inn, "7707O83893", "chars")  # Latin O for zero
    assert text == "ИНН: допустимы только цифры, пробелы и дефисы (недопустимый символ «O»)"
    assert "U+0000" in message(v.normalize_inn, "7707\x0083893", "chars")
    assert "U+000A" in message(v.normalize_inn, "7707\n083893", "chars")


@pytest.mark.parametrize(
    "typed",
    [
        "١١٢٢٣٣٤٤٥٩٥",  # Arabic-Indic
        "１１２２３３４４５９５",  # full-width
        "11223344595²",
        "112.233.445 95",
        "112_233_445_95",
        "+11223344595",
    ],
)
def test_only_ascii_digits_count_as_digits(typed):
    raises(v.normalize_snils, typed, "chars")


def test_checksum_message_does_not_reveal_the_expected_number():
    text = message(v.normalize_snils, "112-233-445 96", "checksum")
    assert text == "СНИЛС: контрольное число не сходится — проверьте, нет ли опечатки"
    assert not any(char.isdigit() for char in text)
    for func, bad in [
        (v.normalize_inn, "7707083894"),
        (v.normalize_inn, "500100732258"),
        (v.normalize_ogrn, "1027700132196"),
        (v.normalize_ogrnip, "304500116000158"),
        (v.normalize_registry_number, "1234567895"),
    ]:
        assert not any(char.isdigit() for char in message(func, bad, "checksum"))


def test_oversized_input_is_refused_before_processing():
    raises(v.normalize_snils, "1" * 65, "length")
    raises(v.normalize_snils, " " * 1_000_000, "length")
    raises(v.normalize_license_number, "Л" * 10_000, "length")
    assert "больше 64 символов" in message(v.normalize_inn, "7" * 65, "length")


@pytest.mark.parametrize(
    "bad", [b"11223344595", bytearray(b"1"), 11223344595.0, ["11223344595"], {"a": 1}, object(), True]
)
def test_wrong_types_are_a_validation_error(bad):
    assert message(v.normalize_snils, bad, "type") == "СНИЛС: ожидается строка"


def test_int_input_is_accepted_without_leading_zeros():
    assert v.normalize_inn(7707083893) == "7707083893"
    # An int cannot carry the leading zeros: this SNILS as a number is one digit short.
    assert message(v.normalize_snils, 2600238900, "length") == "СНИЛС: должно быть 11 цифр, введено 10"
    raises(v.normalize_inn, -7707083893, "format")
    raises(v.normalize_inn, 10**5000, "length")  # str() of this would raise ValueError


# --- model field validators ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("validator", "stored"),
    [
        (v.validate_snils, "11223344595"),
        (v.validate_inn_person, "500100732259"),
        (v.validate_inn_legal, "7707083893"),
        (v.validate_kpp, "7736AB001"),
        (v.validate_ogrn, "1027700132195"),
        (v.validate_ogrnip, "304500116000157"),
        (v.validate_license_number, "Л041-01137-77/00368557"),
        (v.validate_license_number, "ЛО-77-01-012345"),
        (v.validate_registry_number, "1234567894"),
    ],
)
def test_field_validators_accept_canonical_values(validator, stored):
    assert validator(stored) is None


@pytest.mark.parametrize(
    ("validator", "stored", "text"),
    [
        (v.validate_snils, "112-233-445 95", "СНИЛС: хранится только цифрами, без пробелов и дефисов"),
        (
            v.validate_inn_person,
            " 500100732259",
            "ИНН физического лица: хранится только цифрами, без пробелов и дефисов",
        ),
        (v.validate_inn_legal, "7707-083893", "ИНН организации: хранится только цифрами, без пробелов и дефисов"),
        (v.validate_kpp, "7736ab001", "КПП: хранится в каноническом виде (7736AB001)"),
        (v.validate_ogrn, "1 027700 132195", "ОГРН: хранится только цифрами, без пробелов и дефисов"),
        (v.validate_ogrnip, "304500116000157 ", "ОГРНИП: хранится только цифрами, без пробелов и дефисов"),
        (
            v.validate_license_number,
            "лo-77-01-012345",
            "Номер лицензии: хранится в каноническом виде (ЛО-77-01-012345)",
        ),
        (
            v.validate_registry_number,
            "МР 123456789-4",
            "Регистровый номер: хранится только цифрами, без пробелов и дефисов",
        ),
    ],
)
def test_field_validators_reject_values_that_are_valid_but_not_canonical(validator, stored, text):
    assert message(validator, stored, "not_canonical") == text


def test_field_validators_still_check_the_number():
    raises(v.validate_snils, "11223344596", "checksum")
    raises(v.validate_inn_legal, "500100732259", "length")
    raises(v.validate_registry_number, "1234567895", "checksum")


# --- formatting and generators ------------------------------------------------------------------


def test_formatting():
    assert v.format_snils("11223344595") == "112-233-445 95"
    assert v.format_inn("7707083893") == "7707083893"
    assert v.format_registry_number("0000000013") == "МР 000000001-3"
    # Display never raises on data that slipped past validation.
    assert v.format_snils("garbage") == "garbage"
    assert v.format_snils(None) == ""
    assert v.format_registry_number("12") == "12"


@pytest.mark.parametrize(
    ("generator", "bad"),
    [
        (v.snils_from_number, v.SNILS_UNCHECKED_MAX),
        (v.snils_from_number, 1_000_000_000),
        (v.snils_from_number, "112233445"),
        (v.inn_person_from_body, "123"),
        (v.inn_legal_from_body, "١٢٣٤٥٦٧٨٩"),
        (v.ogrn_from_body, "202770013219"),
        (v.ogrn_from_body, "10277001321"),
        (v.ogrnip_from_body, "40450011600015"),
    ],
)
def test_generators_refuse_bad_bodies(generator, bad):
    with pytest.raises(ValueError):
        generator(bad)


# --- normalize_person_name ----------------------------------------------------------------------


def test_person_name_is_lowered_with_e_for_yo_and_single_spaces():
    assert v.normalize_person_name("  Семёнов   ПЁТР\tАнатольевич ") == "семенов петр анатольевич"
    decomposed = "\u0421\u0435\u043c\u0435\u0308\u043d\u043e\u0432"  # "Семёнов" with е + U+0308
    assert v.normalize_person_name(decomposed) == "семенов"
    assert v.normalize_person_name("") == ""
    assert v.normalize_person_name(None) == ""


@FAST
@given(st.text())
def test_person_name_normal_form_is_stable(text):
    once = v.normalize_person_name(text)
    assert v.normalize_person_name(once) == once
    assert "ё" not in once and "  " not in once and once == once.strip()


# --- properties: generated numbers --------------------------------------------------------------

VALID_CASES = [
    (snils_numbers, v.normalize_snils, v.validate_snils),
    (inn_legal_numbers, v.normalize_inn_legal, v.validate_inn_legal),
    (inn_legal_numbers, v.normalize_inn, v.validate_inn_legal),
    (inn_person_numbers, v.normalize_inn_person, v.validate_inn_person),
    (inn_person_numbers, v.normalize_inn, v.validate_inn_person),
    (ogrn_numbers, v.normalize_ogrn, v.validate_ogrn),
    (ogrnip_numbers, v.normalize_ogrnip, v.validate_ogrnip),
    (registry_numbers, v.normalize_registry_number, v.validate_registry_number),
]


@pytest.mark.parametrize(("numbers", "normalize", "validate"), VALID_CASES)
def test_every_generated_number_is_valid_formatted_or_not(numbers, normalize, validate):
    @FAST
    @given(with_separators(numbers))
    def check(pair):
        digits, typed = pair
        assert normalize(digits) == digits
        assert normalize(typed) == digits
        assert validate(digits) is None

    check()


@FAST
@given(snils_numbers)
def test_formatted_snils_reads_back(snils):
    assert v.normalize_snils(v.format_snils(snils)) == snils


@FAST
@given(registry_numbers)
def test_formatted_registry_number_reads_back(number):
    assert v.normalize_registry_number(v.format_registry_number(number)) == number


@FAST
@given(st.text("0123456789", min_size=10, max_size=10) | st.text("0123456789", min_size=12, max_size=12))
def test_inn_agrees_with_stdnum(digits):
    # python-stdnum implements the same published INN rule; an independent second opinion.
    assert accepts(v.normalize_inn, digits) == stdnum_inn.is_valid(digits)


# --- properties: single-digit changes -----------------------------------------------------------
#
# Each check below is "(weighted sum mod p) squeezed into fewer values". A single-digit change
# moves the sum by w*delta with |delta| <= 9; p is prime and no weight is a multiple of p, so
# the remainder mod p always moves. The change goes unnoticed only when the squeeze maps the
# old and the new remainder to the same check value. The tests assert exactly that rule.


def snils_residue(body: str) -> int:
    return sum(w * int(d) for w, d in zip(SNILS_WEIGHTS, body, strict=True)) % 101


@FAST
@given(snils_numbers)
def test_snils_single_digit_changes(snils):
    # Check = (S mod 101) mod 100, so only remainders 100 and 0 share a check number ("00").
    # |w*delta| <= 81, so w*delta = +-1 mod 101 needs w = 1 and delta = +-1: only a +-1 change
    # of the ninth digit across that pair goes unnoticed. A changed body that falls to
    # 001-001-998 or below is not checked at all (docs/domain.md), so it passes too.
    for position, _old, _new, changed in single_digit_changes(snils):
        body = changed[:9]
        if int(body) <= v.SNILS_UNCHECKED_MAX:
            assert accepts(v.normalize_snils, changed)
        elif position < 9 and {snils_residue(snils[:9]), snils_residue(body)} == {0, 100}:
            assert position == 8
            assert accepts(v.normalize_snils, changed)
        else:
            raises(v.normalize_snils, changed, "checksum")


def test_snils_ninth_digit_collision_exists():
    # S = 101 -> 00 and S = 100 -> 00: the one blind spot described above, shown to be real.
    assert v.normalize_snils("030-214-884 00") and v.normalize_snils("030-214-883 00")


def inn_legal_residue(body9: str) -> int:
    return sum(w * int(d) for w, d in zip(INN_LEGAL_WEIGHTS, body9, strict=True)) % 11


@FAST
@given(inn_legal_numbers)
def test_inn_legal_single_digit_changes(inn):
    # Check = (S mod 11) mod 10: remainders 10 and 0 both give 0, so a body change that moves
    # the remainder between 10 and 0 is not caught. Changing the check digit always is.
    for position, _old, _new, changed in single_digit_changes(inn):
        if position < 9 and {inn_legal_residue(inn[:9]), inn_legal_residue(changed[:9])} == {0, 10}:
            assert accepts(v.normalize_inn_legal, changed)
        else:
            raises(v.normalize_inn_legal, changed, "checksum")


def test_inn_legal_collision_exists():
    assert v.normalize_inn_legal("8404941270") and v.normalize_inn_legal("3404941270")


@FAST
@given(inn_person_numbers)
def test_inn_person_catches_every_single_digit_change(inn):
    # Each check digit alone has the 10/0 blind spot, but a body change at position i slips past
    # d11 only if w11[i]*delta = +-1 (mod 11), and past d12 only if w12[i]*delta = +-1 too,
    # which needs w12[i] = +-w11[i] (mod 11); no position has that (7/3, 2/7, 4/2, 10/4, 3/10,
    # 5/3, 9/5, 4/9, 6/4, 8/6). A changed d11 no longer matches its own check. So all are caught.
    for _position, _old, _new, changed in single_digit_changes(inn):
        raises(v.normalize_inn_person, changed, "checksum")


@FAST
@given(ogrn_numbers)
def test_ogrn_single_digit_changes(ogrn):
    # Check = (N mod 11) mod 10; 10**k = +-1 (mod 11), so a change moves N mod 11 by +-delta and
    # only a +-1 change between remainders 10 and 0 goes unnoticed. A first digit other than 1 or
    # 5 is a format error before any checksum.
    for position, _old, new, changed in single_digit_changes(ogrn):
        if position == 0 and new not in "15":
            raises(v.normalize_ogrn, changed, "format")
        elif position < 12 and {int(ogrn[:12]) % 11, int(changed[:12]) % 11} == {0, 10}:
            assert accepts(v.normalize_ogrn, changed)
        else:
            raises(v.normalize_ogrn, changed, "checksum")


def test_ogrn_collision_exists():
    assert v.normalize_ogrn("1729921942310") and v.normalize_ogrn("1729921942320")


@FAST
@given(ogrnip_numbers)
def test_ogrnip_single_digit_changes(ogrnip):
    # Check = (N mod 13) mod 10: remainders 0/10, 1/11 and 2/12 share a check digit, so a
    # body change between such a pair goes unnoticed; this is the weakest of the schemes.
    for position, _old, _new, changed in single_digit_changes(ogrnip):
        if position == 0:
            raises(v.normalize_ogrnip, changed, "format")
        elif position < 14 and int(ogrnip[:14]) % 13 % 10 == int(changed[:14]) % 13 % 10:
            assert accepts(v.normalize_ogrnip, changed)
        else:
            raises(v.normalize_ogrnip, changed, "checksum")


def test_ogrnip_collision_exists():
    assert v.normalize_ogrnip("363666610361871") and v.normalize_ogrnip("333666610361871")


@FAST
@given(registry_numbers)
def test_registry_number_catches_every_single_digit_change_and_adjacent_swap(number):
    # The Damm quasigroup is weakly totally anti-symmetric: no exceptions, unlike the above.
    for _position, _old, _new, changed in single_digit_changes(number):
        with pytest.raises(ValidationError):
            v.normalize_registry_number(changed)
    for i in range(len(number) - 1):
        if number[i] != number[i + 1]:
            swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
            with pytest.raises(ValidationError):
                v.normalize_registry_number(swapped)


# --- properties: hostile input ------------------------------------------------------------------

anything = st.one_of(
    st.text(),
    st.binary(),
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**80), max_value=10**80),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=3),
    st.text(st.sampled_from("0123456789 -\u00a0\u2013\u2212MРPRмрЛлОO/AZaz"), max_size=70),
    st.text(st.characters(categories=["Nd", "No", "Zs", "Pd", "Cc", "Cf"]), max_size=20),
)


@pytest.mark.parametrize("func", NORMALIZERS + FIELD_VALIDATORS + [v.normalize_digits], ids=lambda f: f.__name__)
def test_any_input_raises_nothing_but_validation_error(func):
    call = (lambda value: v.normalize_digits(value, field="Поле")) if func is v.normalize_digits else func

    @FAST
    @given(anything)
    def check(value):
        try:
            result = call(value)
        except ValidationError as error:
            assert error.code in {"empty", "type", "length", "chars", "checksum", "format", "not_canonical"}
            assert error.messages and all(isinstance(m, str) and m for m in error.messages)
        else:
            assert result is None if func in FIELD_VALIDATORS else isinstance(result, str) and result

    check()


@FAST
@given(st.text(st.sampled_from("0123456789"), min_size=1, max_size=40), st.lists(st.sampled_from(SEPARATORS)))
def test_normalize_digits_keeps_exactly_the_digits(digits, separators):
    padded = (separators + [""] * len(digits))[: len(digits)]
    typed = "".join(sep + char for sep, char in zip(padded, digits, strict=True))
    assert v.normalize_digits(typed, field="Поле") == digits
