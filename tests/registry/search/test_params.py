"""The validation layer (registry.search.params): what each kind of parameter accepts, that the schema it writes
says exactly that, and the rules every parameter shares (control characters, repeats, empty values)."""

import datetime as dt
import re
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict
from hypothesis import given, settings
from hypothesis import strategies as st

from core import validators
from registry.search import params
from tests.factories import RegionFactory, WorkerFactory

SEPARATED = st.sampled_from(sorted(validators._SEPARATORS))


def test_spaces_are_every_whitespace_that_is_not_a_control_character():
    computed = {chr(c) for c in range(0x110000) if chr(c).isspace() and unicodedata.category(chr(c)) != "Cc"}
    assert set(params.SPACES) == computed


@pytest.mark.parametrize("value", ["\x00", "a\x00b", "\x1f", "\x7f", "\x85", "иван\x9f", "\t", "\n"])
def test_a_control_character_is_refused_naming_the_parameter(value):
    with pytest.raises(params.ParamErrors) as caught:
        params.WORKER_SEARCH.clean(QueryDict(mutable=True) | {"q": value})
    (error,) = caught.value.errors
    assert error.name == "q" and error.code == "control_character"
    assert error.message.startswith("ФИО: недопустимый управляющий символ U+")


def test_a_parameter_given_twice_is_refused():
    data = QueryDict("status=active&status=expired")
    with pytest.raises(params.ParamErrors) as caught:
        params.WORKER_SEARCH.clean(data)
    assert [(e.name, e.code) for e in caught.value.errors] == [("status", "repeated")]


def test_an_empty_value_is_no_value_and_unknown_parameters_are_reported_as_ignored():
    cleaned = params.WORKER_SEARCH.clean(QueryDict("status=&registered_from=&confirmed=&q=&extra=1"))
    assert cleaned.values == {} and cleaned.ignored == ["extra"]


def test_every_error_is_reported_not_only_the_first():
    with pytest.raises(params.ParamErrors) as caught:
        params.WORKER_SEARCH.clean(QueryDict("status=x&confirmed=maybe&registered_to=вчера&organization=0"))
    assert {e.name for e in caught.value.errors} == {"status", "confirmed", "registered_to", "organization"}


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False)])
def test_booleans_are_true_or_false(text, value):
    assert params.Boolean(name="b", label="Б").clean(text) is value


@pytest.mark.parametrize("text", ["0", "1", "no", "yes", "-1", "maybe", "True", "on", " true"])
def test_other_spellings_of_a_boolean_are_refused(text):
    with pytest.raises(params.ParamError, match="true или false"):
        params.Boolean(name="b", label="Б").clean(text)


def test_the_html_checkbox_value_is_accepted_from_the_public_form_only():
    flag = params.Boolean(name="b", label="Б")
    assert flag.clean("on", form=True) is True
    with pytest.raises(params.ParamError):
        flag.clean("0", form=True)


@pytest.mark.parametrize("text", ["01", "+1", "1.0", "1e3", "1_000", "٣", "³", " 5", "5 ", "0x10", "9" * 30])
def test_integers_are_plain_decimals(text):
    with pytest.raises(params.ParamError):
        params.Integer(name="n", label="Н", minimum=1, maximum=200).clean(text)


def test_integer_range_is_checked():
    number = params.Integer(name="n", label="Н", minimum=1, maximum=200)
    assert number.clean("200") == 200
    for text in ("0", "201", "-1"):
        with pytest.raises(params.ParamError, match="от 1 до 200"):
            number.clean(text)


def test_dates_are_iso_and_the_public_form_also_takes_the_russian_order():
    day = params.Date(name="d", label="Д")
    assert day.clean("2025-02-28") == dt.date(2025, 2, 28)
    assert day.clean("28.02.2025", form=True) == dt.date(2025, 2, 28)
    for text in ("28.02.2025", "2025-02-30", "20250228", "2025-W09-5", "０２０２５-01-01", "0000-01-01"):
        with pytest.raises(params.ParamError):
            day.clean(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31T12:00:00+03:00", dt.datetime(2026, 1, 31, 9, tzinfo=dt.UTC)),
        ("2026-01-31t09:00:00z", dt.datetime(2026, 1, 31, 9, tzinfo=dt.UTC)),
        ("2026-01-31T09:00:00.1234567Z", dt.datetime(2026, 1, 31, 9, 0, 0, 123456, tzinfo=dt.UTC)),
        # Offsets PostgreSQL would refuse are applied here.
        ("0299-01-21T09:17:13+19:06", dt.datetime(299, 1, 20, 14, 11, 13, tzinfo=dt.UTC)),
        # A leap second is the last microsecond of its minute.
        ("2016-12-31T23:59:60Z", dt.datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)),
        # Outside Python's range once in UTC: the first or last moment, not an OverflowError.
        ("0001-01-01T00:00:00+05:00", dt.datetime.min.replace(tzinfo=dt.UTC)),
        ("9999-12-31T23:00:00-05:00", dt.datetime.max.replace(tzinfo=dt.UTC)),
        ("0000-02-29T00:00:00Z", dt.datetime.min.replace(tzinfo=dt.UTC)),
    ],
)
def test_rfc3339_date_times(text, expected):
    assert params.parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-31",
        "2026-01-31T12:00:00",
        "2026-01-31 12:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-31T24:00:00Z",
        "2026-01-31T12:00:00+24:00",
        "2026-01-31T12:00Z",
        "٢٠٢٦-01-31T12:00:00Z",
    ],
)
def test_not_rfc3339(text):
    assert params.parse_rfc3339(text) is None


@pytest.mark.django_db
def test_date_only_updated_since_at_the_first_day_is_not_an_overflow(settings):
    settings.TIME_ZONE = "Europe/Moscow"  # midnight of 0001-01-01 in Moscow is before the first UTC moment
    since = params.DateTime(name="s", label="С", allow_date=True)
    assert since.clean("0001-01-01") == dt.datetime.min.replace(tzinfo=dt.UTC)


@pytest.mark.django_db
def test_directory_codes_are_looked_up_and_listed_in_the_schema():
    region = RegionFactory(code="77", name="Москва")
    param = params.WORKER_SEARCH["region"]
    assert param.clean("77") == region
    with pytest.raises(params.ParamError, match="Регион: неизвестный код «999»"):
        param.clean("999")
    assert "77" in param.json_schema()["enum"]


REGISTRY = params.registry_number()


@pytest.mark.parametrize(
    "text",
    [
        "0000000013",
        "000000001-3",
        "МР 000000001-3",
        "мр000 000 001-3",
        "MR 000000001 3",
        "  mp 000-000-001-3  ",
        "\u00a0МР\u2007000000001\u20113",
    ],
)
def test_registry_numbers_in_any_printed_form(text):
    assert REGISTRY.clean(text) == "0000000013"
    assert REGISTRY.matches(text)


def test_a_registry_number_with_a_wrong_check_digit_is_a_warning_not_an_error():
    with pytest.raises(params.ParamWarning) as caught:
        REGISTRY.clean("МР 000000001-4")
    assert caught.value.code == "checksum" and "Ничего не найдено" in caught.value.message


@pytest.mark.parametrize("text", ["abc", "000000001", "МР", "00000000013", "0000000013x", "٠٠٠٠٠٠٠٠١٣"])
def test_what_is_not_a_registry_number_is_an_error(text):
    with pytest.raises(params.ParamError) as caught:
        REGISTRY.clean(text)
    assert not isinstance(caught.value, params.ParamWarning)
    assert not REGISTRY.matches(text)


IDENTIFIERS = [
    params.registry_number(),
    params.Identifier(name="ogrn", label="ОГРН", normalize=validators.normalize_ogrn, digits=13, first="15"),
    params.Identifier(name="inn", label="ИНН", normalize=validators.normalize_inn_legal, digits=10),
]


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, len(IDENTIFIERS) - 1),
    text=st.one_of(
        st.text(max_size=30),
        st.lists(
            st.one_of(st.sampled_from("0123456789МРMPRмрmpr"), SEPARATED, st.sampled_from(params.SPACES)), max_size=30
        ).map("".join),
    ),
)
def test_the_schema_pattern_of_an_identifier_is_exactly_what_its_normalizer_accepts(index, text):
    """Checksums aside: a value the pattern admits is never refused for its shape, and one it does not
    admit is refused (or has a control character, refused before the normalizer runs)."""
    param = IDENTIFIERS[index]
    admitted = re.fullmatch(param.pattern(), text) is not None and len(text) <= validators.MAX_INPUT_LENGTH
    try:
        param.clean(text)
        shape_ok = True
    except params.ParamWarning:
        shape_ok = True
    except params.ParamError:
        shape_ok = False
    assert shape_ok == admitted, (text, param.name)


KEYS = [("text", "int"), ("datetime", "int"), ("int",), ("text",), ("datetime", "int", "datetime", "int")]


@pytest.mark.parametrize("key", KEYS)
def test_a_cursor_round_trips(key):
    cursor = params.Cursor(name="cursor", label="К", key=key)
    sample = {
        "text": "иванова анна ёлкина",
        "int": 9_000_000_001,
        "datetime": dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC),
    }
    values = [sample[kind] for kind in key]
    encoded = cursor.encode(values)
    assert re.fullmatch(cursor.pattern(), encoded)
    assert cursor.clean(encoded) == values


@settings(max_examples=200, deadline=None)
@given(data=st.data(), key=st.sampled_from(KEYS))
def test_every_string_of_the_cursor_pattern_is_a_position(data, key):
    """The schema admits any string of the pattern, so the server must read any such string."""
    cursor = params.Cursor(name="cursor", label="К", key=key)
    text = data.draw(st.from_regex(cursor.pattern(), fullmatch=True))
    if text == "":
        return  # an empty value is no value
    values = cursor.clean(text)
    assert len(values) == len(key)
    for kind, value in zip(key, values, strict=True):
        if kind == "text":
            assert "\x00" not in value
        elif kind == "int":
            assert 0 <= value <= params.BIGINT_MAX
        else:
            assert value.tzinfo is not None


@pytest.mark.django_db
def test_the_public_form_shares_the_layer(client):
    WorkerFactory()
    page = client.get("/registry/", {"confirmed": "0", "region": "\x00"}).content.decode()
    assert "Только с подтверждёнными документами: допустимые значения — true или false." in page
    assert "Регион: недопустимый управляющий символ U+0000." in page
    twice = client.get("/registry/?status=active&status=none").content.decode()
    assert "Статус допуска: параметр указан несколько раз" in twice


def test_validators_module_is_the_source_of_separators():
    # The patterns are built from the normalizer's own separator set, so the two cannot drift apart.
    assert validators._SEPARATORS
    with pytest.raises(ValidationError):
        validators.normalize_registry_number("МР 000000001-4")
