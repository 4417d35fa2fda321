"""Forms of the login steps: SNILS (or staff login) and password, the one-time code, the phone."""

from django import forms
from django.core.exceptions import ValidationError

from core import validators

from .. import services
from ..models import User


def _login_digits(kind: str, raw: str) -> str:
    if kind == User.Kind.WORKER:
        return validators.normalize_snils(raw)
    return raw.strip()


class LoginForm(forms.Form):
    """Step 1: SNILS + password (workers) or staff login + password.

    The error for an unknown SNILS and for a wrong password is the same on purpose: the form
    must not tell an attacker which SNILS have accounts.
    """

    kind = forms.ChoiceField(
        label="Тип пользователя", choices=User.Kind.choices, initial=User.Kind.WORKER, widget=forms.RadioSelect
    )
    username = forms.CharField(
        label="СНИЛС или логин сотрудника",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
        help_text="СНИЛС можно вводить с дефисами и пробелами или без них: 112-233-445 95.",
    )
    password = forms.CharField(
        label="Пароль",
        max_length=256,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = None
        self.error_code = ""

    def clean(self):
        data = super().clean()
        kind, login, password = data.get("kind"), data.get("username"), data.get("password")
        if not (kind and login and password):
            return data
        try:
            login = _login_digits(kind, login)
        except ValidationError as exc:
            raise ValidationError({"username": exc.messages}) from None
        try:
            self.user = services.password_check(request=self.request, login=login, password=password, kind=kind)
        except services.AuthError as exc:
            self.error_code = exc.code
            raise ValidationError(exc.message, code=exc.code) from None
        return data


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Код",
        min_length=6,
        max_length=7,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*", "autofocus": True}
        ),
        error_messages={
            "required": "Код: введите 6 цифр.",
            "min_length": "Код: должно быть 6 цифр.",
            "max_length": "Код: должно быть 6 цифр.",
        },
    )

    def clean_code(self):
        code = self.cleaned_data["code"].replace(" ", "")
        if not validators.is_digits(code, length=6):
            raise ValidationError("Код: должно быть 6 цифр.")
        return code


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label="Мобильный телефон",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "autofocus": True}),
        help_text="Например: +7 916 123-45-67. На этот номер придёт код подтверждения.",
    )

    def clean_phone(self):
        return validators.normalize_mobile_phone(self.cleaned_data["phone"])
