"""Forms that set or confirm a password: recovery, change, confirmation of a sensitive step."""

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from core import validators

from .. import services
from ..models import User
from .login import CodeForm


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
