"""Registration of a medical worker account: form, service and page."""

import datetime as dt
from unittest import mock

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.consent import CURRENT_CONSENT_VERSION
from accounts.models import Consent, User
from accounts.registration import RegistrationError, account_register
from core.models import AuditEntry
from tests.factories import StaffFactory, UserFactory

SNILS = "112-233-445 95"
SNILS_DIGITS = "11223344595"
PASSWORD = "гранит вечер кактус 47 лодка"

pytestmark = pytest.mark.django_db


def _data(**overrides) -> dict:
    data = {
        "snils": SNILS,
        "last_name": "Кривошеева",
        "first_name": "Анна",
        "middle_name": "Сергеевна",
        "birth_date": "1985-04-12",
        "phone": "+7 (912) 345-67-89",
        "email": "anna.k@example.ru",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "consent": "on",
        "consent_version": CURRENT_CONSENT_VERSION,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _post(client, **overrides):
    return client.post(reverse("accounts:register"), _data(**overrides))


def _counts() -> tuple[int, int, int]:
    return User.objects.count(), Consent.objects.count(), AuditEntry.objects.count()


def _refused(client, field: str, **overrides) -> list[str]:
    """Post, check that the page came back with an error on `field` and nothing was written."""
    before = _counts()
    response = _post(client, **overrides)
    assert response.status_code == 200
    assert _counts() == before
    errors = response.context["form"].errors
    assert field in errors, errors
    return errors[field]


# --- Success ---------------------------------------------------------------------------------------


def test_registration_creates_worker_with_unconfirmed_phone_consent_and_audit_entry(client):
    before = timezone.now()
    response = _post(client)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    user = User.objects.get(snils=SNILS_DIGITS)
    assert user.kind == User.Kind.WORKER
    assert user.username == SNILS_DIGITS
    assert (user.last_name, user.first_name, user.middle_name) == ("Кривошеева", "Анна", "Сергеевна")
    assert user.birth_date == dt.date(1985, 4, 12)
    assert user.phone == "+79123456789"
    assert user.phone_confirmed_at is None
    assert user.email == "anna.k@example.ru"
    assert user.check_password(PASSWORD)

    consent = Consent.objects.get(user=user)
    assert consent.kind == "personal_data"
    assert consent.text_version == CURRENT_CONSENT_VERSION == "2026-11"
    assert before <= consent.given_at <= timezone.now()
    assert consent.ip == "127.0.0.1"

    entry = AuditEntry.objects.get(event=AuditEntry.Event.REGISTERED)
    assert entry.subject == user
    assert entry.details == {"consent_version": CURRENT_CONSENT_VERSION}


def test_success_message_tells_to_log_in_and_confirm_the_phone(client):
    response = client.post(reverse("accounts:register"), _data(), follow=True)
    assert response.redirect_chain == [(reverse("accounts:login"), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Учётная запись создана. Войдите по СНИЛС и паролю — при первом входе подтвердите телефон кодом из SMS."
    ]
    assert "Учётная запись создана" in response.content.decode()


def test_new_worker_logs_in_with_snils_and_password_and_goes_on_to_confirm_the_phone(client):
    _post(client)
    response = Client().post(reverse("accounts:login"), {"kind": "worker", "username": SNILS, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login_phone")


def test_page_shows_consent_text_autocomplete_hints_and_links(client):
    response = client.get(reverse("accounts:register"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<details" in html and "152-ФЗ" in html and CURRENT_CONSENT_VERSION in html
    for hint in ("new-password", "email", "tel", "bday", "family-name", "given-name", "additional-name"):
        assert f'autocomplete="{hint}"' in html
    assert 'type="date"' in html
    assert reverse("accounts:login") in html
    assert reverse("accounts:recover") in html
    assert 'role="alert"' not in html


@pytest.mark.parametrize(
    ("last_name", "stored"),
    [
        ("Салтыкова-Щедрина", "Салтыкова-Щедрина"),
        ("д’Артаньян", "д'Артаньян"),
        ("O'Brien", "O'Brien"),
        ("  Мамин   Сибиряк ", "Мамин Сибиряк"),
        ("Гарипов", "Гарипов"),
    ],
)
def test_names_with_hyphens_apostrophes_spaces_and_latin_letters_are_accepted(client, last_name, stored):
    assert _post(client, last_name=last_name).status_code == 302
    assert User.objects.get(snils=SNILS_DIGITS).last_name == stored


def test_middle_name_is_optional(client):
    assert _post(client, middle_name="").status_code == 302
    assert User.objects.get(snils=SNILS_DIGITS).middle_name == ""


def test_phone_in_eight_prefixed_form_is_stored_normalized(client):
    _post(client, phone="8 912 345-67-89")
    assert User.objects.get(snils=SNILS_DIGITS).phone == "+79123456789"


# --- SNILS ----------------------------------------------------------------------------------------


def test_snils_with_wrong_checksum_is_refused_and_the_error_names_snils(client):
    errors = _refused(client, "snils", snils="112-233-445 96")
    assert errors[0].startswith("СНИЛС")
    assert "контрольное число" in errors[0]


@pytest.mark.parametrize("snils", ["", "123", "abc-def-ghi 00", "1" * 500])
def test_malformed_snils_is_refused_with_the_field_named(client, snils):
    errors = _refused(client, "snils", snils=snils)
    assert errors[0].startswith("СНИЛС")


def test_snils_that_already_has_an_account_is_refused(client):
    UserFactory(snils=SNILS_DIGITS, username=SNILS_DIGITS)
    errors = _refused(client, "snils", snils="112 233 445 95")
    assert errors == ["Учётная запись с этим СНИЛС уже существует. Войдите или восстановите пароль."]


def test_second_registration_of_the_same_snils_is_refused(client):
    assert _post(client).status_code == 302
    errors = _refused(Client(), "snils", email="other@example.ru")
    assert "уже существует" in errors[0]


def test_concurrent_registration_of_the_same_snils_becomes_a_field_error():
    # The other registration commits between our existence check and our insert.
    UserFactory(snils=SNILS_DIGITS, username=SNILS_DIGITS)
    before = _counts()
    request = RequestFactory().post("/accounts/register/")
    with (
        mock.patch("accounts.registration.snils_has_account", side_effect=[False, True]),
        pytest.raises(RegistrationError) as exc,
    ):
        account_register(
            snils=SNILS_DIGITS,
            last_name="Кривошеева",
            first_name="Анна",
            middle_name="",
            birth_date=dt.date(1985, 4, 12),
            phone="+79123456789",
            email="anna.k@example.ru",
            password=PASSWORD,
            consent_text_version=CURRENT_CONSENT_VERSION,
            request=request,
        )
    assert exc.value.field == "snils"
    assert _counts() == before


def test_staff_login_made_of_the_same_digits_blocks_the_snils(client):
    StaffFactory(username=SNILS_DIGITS)
    _refused(client, "snils")


# --- Password ---------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["password1234", "Qwertyuiop123", "qwerty uiop 123"])
def test_common_password_is_refused(client, password):
    errors = _refused(client, "password1", password1=password, password2=password)
    assert "Пароль слишком распространён" in errors[0]


def test_short_password_is_refused_with_its_length(client):
    errors = _refused(client, "password1", password1="кактус лодк", password2="кактус лодк")
    assert "Пароль должен содержать не меньше 12 символов (сейчас 11)." in errors


def test_password_similar_to_the_surname_is_refused(client):
    errors = _refused(client, "password1", password1="Кривошеева1985", password2="Кривошеева1985")
    assert any("пароль" in e.lower() and "похож" in e for e in errors)


def test_password_mismatch_is_reported_on_the_repeat_field(client):
    errors = _refused(client, "password2", password2=PASSWORD + "!")
    assert errors == ["Повтор пароля: пароли не совпадают. Введите тот же пароль ещё раз."]


def test_passwords_are_not_echoed_back(client):
    response = _post(client, password2=PASSWORD + "!")
    assert PASSWORD not in response.content.decode()


# --- Consent ----------------------------------------------------------------------------------


def test_registration_without_consent_is_refused(client):
    errors = _refused(client, "consent", consent=None)
    assert errors == ["Без согласия на обработку персональных данных регистрация невозможна."]


def test_consent_given_for_an_older_text_must_be_given_again(client):
    errors = _refused(client, "consent", consent_version="2020-01")
    assert "Текст согласия обновился" in errors[0]


# --- Phone, e-mail, birth date -----------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    ["+7 495 123-45-67", "912345678", "+7 912 345-67-8900", "телефон", "+1 912 345 67 89", "", "+7 9l2 345 67 89"],
)
def test_bad_phone_is_refused_with_the_format_to_use(client, phone):
    errors = _refused(client, "phone", phone=phone)
    if phone:
        assert errors == ["Телефон: укажите мобильный номер в формате +7 9XX XXX-XX-XX"]
    else:
        assert errors == ["Телефон: не заполнено."]


@pytest.mark.parametrize("email", ["anna", "anna@", "@example.ru", "anna@example..ru"])
def test_bad_email_is_refused_with_the_field_named(client, email):
    errors = _refused(client, "email", email=email)
    assert errors[0].startswith("Электронная почта")


def test_future_birth_date_is_refused(client):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    errors = _refused(client, "birth_date", birth_date=tomorrow.isoformat())
    assert errors == ["Дата рождения: дата должна быть в прошлом."]


def test_today_as_birth_date_is_refused(client):
    _refused(client, "birth_date", birth_date=timezone.localdate().isoformat())


def test_person_under_16_is_refused(client):
    today = timezone.localdate()
    almost_16 = today.replace(year=today.year - 16) + dt.timedelta(days=1)
    errors = _refused(client, "birth_date", birth_date=almost_16.isoformat())
    assert "с 16 лет" in errors[0]


def test_age_over_100_is_refused(client):
    errors = _refused(client, "birth_date", birth_date="1900-01-01")
    assert "больше 100 лет" in errors[0]


@pytest.mark.parametrize("value", ["12.04.1985"])
def test_birth_date_typed_in_russian_format_is_accepted(client, value):
    assert _post(client, birth_date=value).status_code == 302


@pytest.mark.parametrize("value", ["31.02.1985", "вчера", "1985-13-01", "99999-01-01"])
def test_invalid_birth_date_is_refused_with_the_field_named(client, value):
    errors = _refused(client, "birth_date", birth_date=value)
    assert errors[0].startswith("Дата рождения")


# --- Names and hostile input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "Robert'); DROP TABLE accounts_user;--",
        "' OR '1'='1",
        "{{ 7*7 }}",
        "Иванов\x00",
        "Иванов\u202e",
        "Иванов1",
        "Ivanov@example.ru",
        "Ἀλέξανδρος",
    ],
)
def test_injection_and_foreign_characters_in_names_are_refused_cleanly(client, hostile):
    response = _post(client, first_name=hostile)
    assert response.status_code == 200
    assert User.objects.count() == 0
    errors = response.context["form"].errors["first_name"]
    assert errors[0].startswith("Имя")
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.parametrize("name", ["-Анна", "Анна-", "Анна--Мария", "Анна -Мария", "'"])
def test_separators_only_between_letters(client, name):
    errors = _refused(client, "first_name", first_name=name)
    assert errors[0].startswith("Имя")


def test_name_mixing_cyrillic_and_latin_letters_in_one_word_is_refused(client):
    errors = _refused(client, "last_name", last_name="Кривошеевa")  # the last letter is Latin
    assert errors == ["Фамилия: в слове «Кривошеевa» смешаны русские и латинские буквы."]


def test_name_longer_than_100_characters_is_refused(client):
    errors = _refused(client, "last_name", last_name="А" * 101)
    assert errors == ["Фамилия: не больше 100 символов (сейчас 101)."]


def test_required_fields_missing_are_each_named(client):
    before = _counts()
    response = client.post(reverse("accounts:register"), {})
    assert response.status_code == 200
    assert _counts() == before
    errors = response.context["form"].errors
    assert errors["snils"] == ["СНИЛС: не заполнено."]
    assert errors["last_name"] == ["Фамилия: не заполнено."]
    assert errors["password1"] == ["Пароль: не заполнено."]
    assert "consent" in errors


def test_errors_are_summarised_at_the_top_and_shown_at_each_field(client):
    response = _post(client, snils="112-233-445 96", phone="123")
    html = response.content.decode()
    summary_start = html.index('role="alert"')
    form_fields_start = html.index('name="snils"')
    assert summary_start < form_fields_start
    assert 'href="#id_snils"' in html and 'href="#id_phone"' in html
    assert 'id="id_snils_error"' in html and 'id="id_phone_error"' in html
    assert 'aria-invalid="true"' in html
    assert html.count("Телефон: укажите мобильный номер") == 2


# --- Access -----------------------------------------------------------------------------------


def test_registration_requires_csrf_token():
    client = Client(enforce_csrf_checks=True)
    before = _counts()
    response = _post(client)
    assert response.status_code == 403
    assert _counts() == before


def test_logged_in_worker_is_sent_away(client, worker_user):
    client.force_login(worker_user)
    response = client.get(reverse("accounts:register"))
    assert response.status_code == 302
    before = _counts()
    assert _post(client).status_code == 302
    assert _counts() == before


def test_only_get_and_post_are_allowed(client):
    assert client.put(reverse("accounts:register")).status_code == 405
