"""The registration form of a medical worker.

Every error message names its field («СНИЛС: …», «Телефон: …»), so the summary at the top of the
page reads on its own, including to a screen reader.
"""

from __future__ import annotations

import datetime as dt
import itertools
import unicodedata

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils import timezone

from core import validators

from ..consent import CURRENT_CONSENT_VERSION
from ..models import User
from ..registration import MSG_SNILS_TAKEN, snils_has_account

NAME_MAX_LENGTH = 100
MIN_AGE = 16
MAX_AGE = 100

# Typographic apostrophes people paste from documents; stored as the plain one.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})
_NAME_SEPARATORS = frozenset(" -'")


def _is_name_letter(char: str) -> bool:
    # Cyrillic (including the letters of the languages of Russia's republics) and Latin only:
    # digits, punctuation, markup and other scripts have no place in a name from a passport.
    if not char.isalpha():
        return False
    script = unicodedata.name(char, "")
    return script.startswith(("CYRILLIC ", "LATIN "))


def _describe_char(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return f"«{char}»"
    return f"U+{ord(char):04X}"


def clean_person_name(value: str, *, label: str) -> str:
    """A name part as typed, tidied (NFC, single spaces, plain apostrophes), or a ValidationError."""
    text = unicodedata.normalize("NFC", value).translate(_APOSTROPHES)
    text = " ".join(text.split())
    if not text:
        return ""
    if len(text) > NAME_MAX_LENGTH:
        raise ValidationError(
            "%(label)s: не больше %(limit)s символов (сейчас %(length)s).",
            code="too_long",
            params={"label": label, "limit": NAME_MAX_LENGTH, "length": len(text)},
        )
    for char in text:
        if char not in _NAME_SEPARATORS and not _is_name_letter(char):
            raise ValidationError(
                "%(label)s: недопустимый символ %(char)s. Можно использовать только русские или латинские "
                "буквы, пробел, дефис и апостроф.",
                code="invalid_char",
                params={"label": label, "char": _describe_char(char)},
            )
    for word in text.replace("-", " ").replace("'", " ").split():
        scripts = {unicodedata.name(char).split()[0] for char in word}
        if len(scripts) > 1:
            # Usually a keyboard layout switched mid-word («Ивaнов» with a Latin «a»).
            raise ValidationError(
                "%(label)s: в слове «%(word)s» смешаны русские и латинские буквы.",
                code="mixed_scripts",
                params={"label": label, "word": word},
            )
    if (
        text[0] in _NAME_SEPARATORS
        or text[-1] in _NAME_SEPARATORS
        or any(a in _NAME_SEPARATORS and b in _NAME_SEPARATORS for a, b in itertools.pairwise(text))
    ):
        raise ValidationError(
            "%(label)s: дефис и апостроф ставятся только между буквами.",
            code="invalid_separator",
            params={"label": label},
        )
    return text


def _age_on(birth_date: dt.date, today: dt.date) -> int:
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def _field_messages(label: str) -> dict[str, str]:
    """Django's own messages for these codes, rewritten to name the field."""
    return {
        "required": f"{label}: не заполнено.",
        "max_length": f"{label}: не больше %(limit_value)d символов (сейчас %(show_value)d).",
        "null_characters_not_allowed": f"{label}: недопустимый символ U+0000.",
    }


class RegistrationForm(forms.Form):
    snils = forms.CharField(
        label="СНИЛС",
        max_length=validators.MAX_INPUT_LENGTH,
        error_messages=_field_messages("СНИЛС"),
        help_text="11 цифр, как в страховом свидетельстве: 112-233-445 95. Это ваш логин для входа.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "inputmode": "numeric", "spellcheck": "false"}),
    )
    last_name = forms.CharField(
        label="Фамилия",
        error_messages=_field_messages("Фамилия"),
        widget=forms.TextInput(attrs={"autocomplete": "family-name", "maxlength": NAME_MAX_LENGTH}),
    )
    first_name = forms.CharField(
        label="Имя",
        error_messages=_field_messages("Имя"),
        widget=forms.TextInput(attrs={"autocomplete": "given-name", "maxlength": NAME_MAX_LENGTH}),
    )
    middle_name = forms.CharField(
        label="Отчество",
        required=False,
        error_messages=_field_messages("Отчество"),
        help_text="Если отчества нет, оставьте поле пустым.",
        widget=forms.TextInput(attrs={"autocomplete": "additional-name", "maxlength": NAME_MAX_LENGTH}),
    )
    birth_date = forms.DateField(
        label="Дата рождения",
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        error_messages={
            **_field_messages("Дата рождения"),
            "invalid": "Дата рождения: укажите дату в формате ДД.ММ.ГГГГ.",
        },
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date", "autocomplete": "bday"}),
    )
    phone = forms.CharField(
        label="Мобильный телефон",
        max_length=validators.MAX_INPUT_LENGTH,
        error_messages=_field_messages("Телефон"),
        help_text="Например, +7 912 345-67-89. При первом входе подтвердите его кодом из SMS.",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    email = forms.EmailField(
        label="Электронная почта",
        max_length=254,
        error_messages={
            **_field_messages("Электронная почта"),
            "invalid": "Электронная почта: укажите адрес в виде name@example.ru.",
        },
        help_text="Понадобится, чтобы восстановить доступ.",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    password1 = forms.CharField(
        label="Пароль",
        strip=False,
        error_messages=_field_messages("Пароль"),
        help_text=(
            "Не меньше 12 символов. Цифры и заглавные буквы не обязательны: надёжнее всего фраза из "
            "нескольких слов. Распространённые и утёкшие пароли не подойдут."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Пароль ещё раз",
        strip=False,
        error_messages=_field_messages("Повтор пароля"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    consent = forms.BooleanField(
        label="Я прочитал(а) текст согласия и даю согласие на обработку моих персональных данных",
        error_messages={"required": "Без согласия на обработку персональных данных регистрация невозможна."},
    )
    # The version of the consent text the page showed: the consent is recorded for the text the
    # person actually read, so a text changed between showing and sending has to be agreed to again.
    consent_version = forms.CharField(widget=forms.HiddenInput, initial=CURRENT_CONSENT_VERSION, required=False)

    FIELDSETS = (
        ("Личные данные", ("snils", "last_name", "first_name", "middle_name", "birth_date")),
        ("Контакты", ("phone", "email")),
        ("Пароль", ("password1", "password2")),
    )

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The fields in the groups the page shows them in (the consent is rendered apart)."""
        return [(legend, [self[name] for name in names]) for legend, names in self.FIELDSETS]

    def clean_snils(self) -> str:
        try:
            snils = validators.normalize_snils(self.cleaned_data["snils"])
        except ValidationError as exc:
            raise ValidationError(exc.messages, code=exc.error_list[0].code) from None
        # Registration has to say that the SNILS is taken (the person must go to login or
        # recovery); the login form, by contrast, never reveals which SNILS have accounts.
        if snils_has_account(snils):
            raise ValidationError(MSG_SNILS_TAKEN, code="snils_taken")
        return snils

    def clean_last_name(self) -> str:
        return clean_person_name(self.cleaned_data["last_name"], label="Фамилия")

    def clean_first_name(self) -> str:
        return clean_person_name(self.cleaned_data["first_name"], label="Имя")

    def clean_middle_name(self) -> str:
        return clean_person_name(self.cleaned_data.get("middle_name", ""), label="Отчество")

    def clean_birth_date(self) -> dt.date:
        birth_date = self.cleaned_data["birth_date"]
        today = timezone.localdate()
        if birth_date >= today:
            raise ValidationError("Дата рождения: дата должна быть в прошлом.", code="future")
        age = _age_on(birth_date, today)
        if age < MIN_AGE:
            raise ValidationError(
                "Дата рождения: зарегистрироваться можно с %(min_age)s лет.",
                code="too_young",
                params={"min_age": MIN_AGE},
            )
        if age > MAX_AGE:
            raise ValidationError(
                "Дата рождения: проверьте год — получается больше %(max_age)s лет.",
                code="too_old",
                params={"max_age": MAX_AGE},
            )
        return birth_date

    def clean_phone(self) -> str:
        try:
            return validators.normalize_mobile_phone(self.cleaned_data["phone"])
        except ValidationError:
            # One message for every malformed number: it shows the format to use.
            raise ValidationError(
                "Телефон: укажите мобильный номер в формате +7 9XX XXX-XX-XX", code="phone_format"
            ) from None

    def clean_consent_version(self) -> str:
        return self.cleaned_data.get("consent_version") or CURRENT_CONSENT_VERSION

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("consent") and cleaned.get("consent_version") != CURRENT_CONSENT_VERSION:
            self.add_error(
                "consent",
                ValidationError(
                    "Текст согласия обновился. Прочитайте его и подтвердите согласие ещё раз.", code="consent_outdated"
                ),
            )
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1:
            try:
                # A user built from the form, so the similarity check compares with the person's
                # SNILS, names and e-mail.
                password_validation.validate_password(password1, user=self._user_for_password_check())
            except ValidationError as exc:
                self.add_error("password1", exc)
        if password1 and password2 and password1 != password2:
            self.add_error(
                "password2",
                ValidationError("Повтор пароля: пароли не совпадают. Введите тот же пароль ещё раз.", code="mismatch"),
            )
        return cleaned

    def _user_for_password_check(self) -> User:
        data = self.cleaned_data
        snils = data.get("snils") or ""
        return User(
            username=snils,
            snils=snils or None,
            last_name=data.get("last_name") or "",
            first_name=data.get("first_name") or "",
            middle_name=data.get("middle_name") or "",
            email=data.get("email") or "",
        )

    def registration_data(self) -> dict:
        """Keyword arguments for `account_register`, from a valid form."""
        data = self.cleaned_data
        return {
            "snils": data["snils"],
            "last_name": data["last_name"],
            "first_name": data["first_name"],
            "middle_name": data["middle_name"],
            "birth_date": data["birth_date"],
            "phone": data["phone"],
            "email": data["email"],
            "password": data["password1"],
            "consent_text_version": data["consent_version"],
        }
