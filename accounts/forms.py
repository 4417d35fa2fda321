from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from core import validators

from . import services
from .models import User


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


class RecoverForm(forms.Form):
    CHANNELS = [("sms", "Код по SMS на привязанный телефон"), ("email", "Ссылка на электронную почту")]

    username = forms.CharField(
        label="СНИЛС",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
        help_text="Сотрудники службы поддержки вводят свой логин.",
    )
    channel = forms.ChoiceField(label="Как получить код", choices=CHANNELS, initial="sms", widget=forms.RadioSelect)

    def clean_username(self):
        raw = self.cleaned_data["username"]
        if any(ch.isalpha() for ch in raw):
            return raw.strip()  # a staff login
        return validators.normalize_snils(raw)


class NewPasswordMixin(forms.Form):
    new_password1 = forms.CharField(
        label="Новый пароль",
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Не меньше 12 символов. Подойдёт фраза из нескольких слов.",
    )
    new_password2 = forms.CharField(
        label="Новый пароль ещё раз",
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    password_user: User | None = None

    def clean_new_password2(self):
        p1, p2 = self.cleaned_data.get("new_password1"), self.cleaned_data.get("new_password2")
        if p1 and p2 and p1 != p2:
            raise ValidationError("Пароли не совпадают: введите один и тот же пароль дважды.")
        if p2:
            password_validation.validate_password(p2, self.password_user)
        return p2


class RecoverCodeForm(CodeForm, NewPasswordMixin):
    pass


class SetNewPasswordForm(NewPasswordMixin):
    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.password_user = user


class PasswordChangeForm(NewPasswordMixin):
    old_password = forms.CharField(
        label="Текущий пароль",
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["old_password", "new_password1", "new_password2"]

    def __init__(self, *args, user=None, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.password_user = user
        self.request = request

    def clean_old_password(self):
        return _checked_current_password(self.request, self.password_user, self.cleaned_data["old_password"])


class ConfirmPasswordForm(forms.Form):
    """Asks for the current password before a security-sensitive change."""

    password = forms.CharField(
        label="Текущий пароль",
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user=None, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.request = user, request

    def clean_password(self):
        return _checked_current_password(self.request, self.user, self.cleaned_data["password"])


def _checked_current_password(request, user, password: str) -> str:
    try:
        ok = services.current_password_check(request=request, user=user, password=password)
    except services.AccountLocked as exc:
        raise ValidationError(exc.message) from None
    if not ok:
        raise ValidationError("Текущий пароль введён неверно.")
    return password
