import gzip

import pytest
from django.contrib.auth.password_validation import get_default_password_validators, validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError

from accounts.models import User
from accounts.password_validation import (
    DEFAULT_PASSWORD_LIST,
    CommonPasswordListValidator,
    MaximumLengthValidator,
    MinimumLengthValidator,
    load_password_list,
)

# Random words, not a known phrase: accepted by the policy.
PASSPHRASE = "гранит вечер кактус 47 лодка"


def _messages(password: str, user=None) -> list[str]:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        return exc.messages
    return []


def test_shipped_list_has_at_least_100000_lower_case_entries():
    with gzip.open(DEFAULT_PASSWORD_LIST, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    assert len(lines) >= 100_000
    assert len(set(lines)) == len(lines)
    assert all(line == line.strip().lower() and line for line in lines[:1000])
    assert len(load_password_list()) == len(lines)


def test_settings_use_the_list_and_drop_composition_rules():
    names = {type(v).__name__ for v in get_default_password_validators()}
    assert "CommonPasswordListValidator" in names
    assert "MaximumLengthValidator" in names
    assert "NumericPasswordValidator" not in names
    assert "CommonPasswordValidator" not in names


@pytest.mark.parametrize("password", ["password1234", "qwertyuiop123", "Password1234", "QWERTYUIOP123"])
def test_common_passwords_are_refused_whatever_the_case(password):
    assert password.lower() in load_password_list()
    messages = _messages(password)
    assert messages == ["Пароль слишком распространён: он встречается в утечках паролей. Придумайте другой."]


def test_listed_password_padded_with_spaces_is_refused():
    assert "qwertyuiop12" in load_password_list()
    with pytest.raises(ValidationError) as exc:
        CommonPasswordListValidator().validate("qwerty uiop 12")
    assert exc.value.error_list[0].code == "password_too_common"


def test_random_passphrase_is_accepted():
    assert _messages(PASSPHRASE) == []


def test_long_all_digit_password_not_in_the_list_is_accepted():
    # No composition rules: digits only is fine if it is long and not a known password.
    assert _messages("730519264831") == []


def test_eleven_characters_are_refused_with_the_length_named():
    messages = _messages("кактусгрнт1")
    assert "Пароль должен содержать не меньше 12 символов (сейчас 11)." in messages


def test_twelve_characters_are_enough():
    assert _messages("кактусгрнт1ж") == []


@pytest.mark.parametrize("length", [64, 128])
def test_long_passwords_are_accepted(length):
    password = (PASSPHRASE + " ") * 10
    assert _messages(password[:length]) == []


def test_129_characters_are_refused():
    password = ((PASSPHRASE + " ") * 10)[:129]
    assert _messages(password) == ["Пароль не может быть длиннее 128 символов."]


@pytest.mark.django_db
def test_password_similar_to_the_users_own_data_is_refused():
    user = User(username="11223344595", snils="11223344595", last_name="Кривошеева", email="krivosheeva@example.ru")
    messages = _messages("Кривошеева2024", user)
    assert any("похож" in m for m in messages)


def test_help_texts_are_russian():
    for validator in (CommonPasswordListValidator(), MinimumLengthValidator(12), MaximumLengthValidator(128)):
        help_text = validator.get_help_text()
        assert any("а" <= ch <= "я" for ch in help_text.lower())
    assert "12 символов" in MinimumLengthValidator(12).get_help_text()


def test_missing_list_is_a_configuration_error_not_a_silent_pass(tmp_path):
    validator = CommonPasswordListValidator(password_list_path=tmp_path / "absent.txt.gz")
    with pytest.raises(ImproperlyConfigured):
        validator.validate("гранит вечер кактус")


def test_custom_list_path(tmp_path):
    path = tmp_path / "list.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("медрегмедрег2026\n")
    validator = CommonPasswordListValidator(password_list_path=path)
    with pytest.raises(ValidationError):
        validator.validate("МедрегМедрег2026")
    validator.validate(PASSPHRASE)
