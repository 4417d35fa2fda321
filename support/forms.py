import re

from django import forms
from django.core.exceptions import ValidationError

from core import validators

from .models import Topic
from .services import MAX_MESSAGE_LENGTH

NAME_RE = re.compile(r"^[A-Za-zА-Яа-яЁё][A-Za-zА-Яа-яЁё' .\-]*$")
NUMBER_RE = re.compile(r"^SUP-\d{4}-\d{6,9}$")


def clean_ticket_number(raw: str, label: str) -> str:
    number = (raw or "").strip().upper().replace(" ", "")
    if number and not NUMBER_RE.match(number):
        raise ValidationError(f"{label}: номер выглядит так: SUP-2026-000123.")
    return number


class TicketForm(forms.Form):
    full_name = forms.CharField(label="ФИО", max_length=300, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    inn_or_snils = forms.CharField(
        label="ИНН или СНИЛС",
        max_length=32,
        help_text="СНИЛС — 11 цифр (112-233-445 95), ИНН — 12 цифр. По ним мы найдём вашу запись в регистре.",
    )
    account_number = forms.CharField(
        label="Номер учётной записи или регистровый номер",
        max_length=40,
        required=False,
        help_text="Если знаете: например, МР 123456789-4.",
    )
    topic = forms.ChoiceField(label="Тема обращения", choices=[("", "— выберите тему —"), *Topic.choices])
    description = forms.CharField(
        label="Опишите проблему",
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Что вы делали, что ожидали увидеть и что произошло. Не указывайте пароль и коды из SMS.",
    )
    screenshot = forms.FileField(
        label="Скриншот (необязательно)",
        required=False,
        help_text="PNG или JPEG, не больше 5 МБ.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    follows_number = forms.CharField(
        label="Номер предыдущего обращения (если это продолжение)",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "SUP-2026-000123"}),
    )
    contact_email = forms.EmailField(
        label="E-mail для ответа", required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    contact_phone = forms.CharField(
        label="Телефон для ответа",
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def __init__(self, *args, logged_in: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.logged_in = logged_in
        if logged_in:
            # Replies reach a logged-in user in the cabinet and by the account's contacts.
            del self.fields["contact_email"]
            del self.fields["contact_phone"]

    def clean_full_name(self):
        name = " ".join(self.cleaned_data["full_name"].split())
        if not NAME_RE.match(name):
            raise ValidationError("ФИО: допустимы буквы, пробелы, дефисы и апострофы.")
        return name

    def clean_inn_or_snils(self):
        raw = self.cleaned_data["inn_or_snils"]
        digits = "".join(ch for ch in raw if "0" <= ch <= "9")
        if len(digits) == 11:
            return validators.normalize_snils(raw)
        if len(digits) == 12:
            return validators.normalize_inn_person(raw)
        raise ValidationError("ИНН или СНИЛС: укажите СНИЛС (11 цифр) или ИНН (12 цифр).")

    def clean_follows_number(self):
        return clean_ticket_number(self.cleaned_data["follows_number"], "Номер предыдущего обращения")

    def clean_contact_phone(self):
        raw = self.cleaned_data.get("contact_phone", "")
        return validators.normalize_mobile_phone(raw, field="Телефон для ответа") if raw.strip() else ""

    def clean_screenshot(self):
        upload = self.cleaned_data.get("screenshot")
        if upload and upload.size > 5 * 1024 * 1024:
            raise ValidationError(f"Скриншот: файл больше 5 МБ ({upload.size / 1024 / 1024:.1f} МБ).")
        return upload

    def clean(self):
        data = super().clean()
        if not self.logged_in and not (data.get("contact_email") or data.get("contact_phone")):
            raise ValidationError("Укажите e-mail или телефон: без них мы не сможем ответить.")
        return data


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Ваше сообщение",
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": "Сообщение: введите текст.",
            "max_length": f"Сообщение: не больше {MAX_MESSAGE_LENGTH} символов.",
        },
    )


class LookupForm(forms.Form):
    number = forms.CharField(
        label="Номер обращения", max_length=20, widget=forms.TextInput(attrs={"placeholder": "SUP-2026-000123"})
    )
    contact = forms.CharField(
        label="E-mail или телефон, указанный в обращении",
        max_length=254,
    )

    def clean_number(self):
        number = clean_ticket_number(self.cleaned_data["number"], "Номер обращения")
        if not number:
            raise ValidationError("Номер обращения: не заполнено.")
        return number


class ChatForm(forms.Form):
    body = forms.CharField(
        label="Сообщение",
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={
            "required": "Сообщение: введите текст.",
            "max_length": f"Сообщение: не больше {MAX_MESSAGE_LENGTH} символов.",
        },
    )
