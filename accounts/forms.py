from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from registry import validators

from .models import User


class LoginForm(AuthenticationForm):
    """SNILS + password for medical workers, staff login + password for support staff.

    The error for an unknown SNILS and for a wrong password is the same on purpose: the form
    must not tell an attacker which SNILS have accounts.
    """

    kind = forms.ChoiceField(
        label="Тип пользователя",
        choices=User.Kind.choices,
        initial=User.Kind.WORKER,
        widget=forms.RadioSelect,
    )
    username = forms.CharField(
        label="СНИЛС или логин сотрудника",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True, "inputmode": "text"}),
        help_text="СНИЛС можно вводить с дефисами и пробелами или без них: 112-233-445 95.",
    )

    error_messages = {
        "invalid_login": "Неверный СНИЛС (логин) или пароль. Проверьте раскладку клавиатуры и попробуйте ещё раз.",
        "inactive": "Учётная запись заблокирована. Обратитесь в службу поддержки.",
    }

    field_order = ["kind", "username", "password"]

    def clean(self):
        kind = self.cleaned_data.get("kind")
        login = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not (kind and login and password):
            return self.cleaned_data
        if kind == User.Kind.WORKER:
            try:
                login = validators.normalize_snils(login)
            except ValidationError as exc:
                raise ValidationError({"username": exc.messages}) from None
        self.user_cache = authenticate(self.request, username=login, password=password)
        if self.user_cache is None or self.user_cache.kind != kind:
            # Same message for both; see the class docstring.
            self.user_cache = None
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
