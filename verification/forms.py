"""Cabinet forms. Error messages name the field, in Russian; identifiers are normalized here."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError

from core import validators
from registry.models import Employment, MedicalOrganization, QualificationCategory, Specialty
from registry.services import EMPLOYMENT_DISMISSED

from .documents import MAX_BYTES

ACCEPT = "application/pdf,image/jpeg,image/png"
FILE_HELP = "PDF, JPEG или PNG, не больше 10 МБ."


def _file(label: str, *, required: bool = True) -> forms.FileField:
    return forms.FileField(
        label=label,
        required=required,
        help_text=FILE_HELP,
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
        error_messages={
            "required": f"{label}: приложите файл.",
            "empty": f"{label}: файл пустой.",
            "invalid": f"{label}: файл не получен, выберите его ещё раз.",
        },
    )


def _name(label: str, *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label, max_length=100, required=required, error_messages={"required": f"{label}: не заполнено."}
    )


class _FileSizeMixin:
    def clean(self):
        data = super().clean()
        for name, field in self.fields.items():
            upload = data.get(name)
            if isinstance(field, forms.FileField) and upload and upload.size > MAX_BYTES:
                self.add_error(name, f"{field.label}: файл больше 10 МБ ({upload.size / 1024 / 1024:.1f} МБ).")
        return data


def _clean_name(value: str, label: str) -> str:
    value = " ".join((value or "").split())
    if value and not all(ch.isalpha() or ch in " -'" for ch in value):
        raise ValidationError(f"{label}: допустимы буквы, пробел, дефис и апостроф.")
    return value


class IdentityForm(_FileSizeMixin, forms.Form):
    snils = forms.CharField(label="СНИЛС", max_length=20, error_messages={"required": "СНИЛС: не заполнено."})
    inn = forms.CharField(
        label="ИНН", max_length=20, help_text="12 цифр.", error_messages={"required": "ИНН: не заполнено."}
    )
    last_name = _name("Фамилия")
    first_name = _name("Имя")
    middle_name = _name("Отчество (если есть)", required=False)
    birth_date = forms.DateField(
        label="Дата рождения",
        input_formats=["%d.%m.%Y", "%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": "Дата рождения: не заполнено.",
            "invalid": "Дата рождения: укажите дату в формате ДД.ММ.ГГГГ.",
        },
    )
    passport_document = _file("Паспорт (страница с фотографией)")
    qualification_document = _file("Документ о квалификации (сертификат или свидетельство об аккредитации)")
    employer_id_document = _file("Служебное удостоверение (если есть)", required=False)

    def __init__(self, *args, resubmit: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if resubmit:
            # Files already sent stay; a new file replaces the old one.
            for name in ("passport_document", "qualification_document"):
                self.fields[name].required = False
                self.fields[name].help_text = FILE_HELP + " Необязательно: без нового файла останется прежний."

    def clean_snils(self):
        return validators.normalize_snils(self.cleaned_data["snils"])

    def clean_inn(self):
        return validators.normalize_inn_person(self.cleaned_data["inn"])

    def clean_last_name(self):
        return _clean_name(self.cleaned_data["last_name"], "Фамилия")

    def clean_first_name(self):
        return _clean_name(self.cleaned_data["first_name"], "Имя")

    def clean_middle_name(self):
        return _clean_name(self.cleaned_data["middle_name"], "Отчество")

    def clean_birth_date(self):
        value = self.cleaned_data["birth_date"]
        if value < dt.date(1900, 1, 1) or value > dt.date.today():
            raise ValidationError("Дата рождения: проверьте год.")
        return value


class QualificationForm(_FileSizeMixin, forms.Form):
    diploma_number = forms.CharField(
        label="Номер диплома", max_length=30, error_messages={"required": "Номер диплома: не заполнено."}
    )
    admission_number = forms.CharField(
        label="Номер сертификата специалиста или свидетельства об аккредитации",
        max_length=40,
        error_messages={"required": "Номер сертификата или свидетельства: не заполнено."},
    )
    diploma_document = _file("Диплом об образовании", required=False)
    residency_document = _file("Документ об окончании ординатуры или интернатуры", required=False)
    admission_document = _file("Сертификат специалиста или свидетельство об аккредитации", required=False)
    no_sanctions_document = _file("Справка об отсутствии дисциплинарных взысканий", required=False)

    def clean_diploma_number(self):
        return "".join(self.cleaned_data["diploma_number"].split())

    def clean_admission_number(self):
        return "".join(self.cleaned_data["admission_number"].split())


EMPLOYMENT_STATUS_CHOICES = [*Employment.Kind.choices, (EMPLOYMENT_DISMISSED, "Уволен (нет текущего места работы)")]


class CorrectionForm(_FileSizeMixin, forms.Form):
    last_name = _name("Фамилия")
    first_name = _name("Имя")
    middle_name = _name("Отчество", required=False)
    specialty = forms.ModelChoiceField(
        label="Специальность",
        queryset=Specialty.objects.filter(is_active=True),
        required=False,
        empty_label="— не указана —",
    )
    category = forms.ModelChoiceField(
        label="Квалификационная категория",
        queryset=QualificationCategory.objects.filter(is_active=True),
        required=False,
        empty_label="нет категории",
    )
    admission_number = forms.CharField(label="Номер документа о допуске", max_length=40, required=False)
    admission_valid_until = forms.DateField(
        label="Документ о допуске действует до",
        required=False,
        input_formats=["%d.%m.%Y", "%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Документ о допуске действует до: укажите дату в формате ДД.ММ.ГГГГ."},
    )
    registry_number = forms.CharField(
        label="Регистровый номер", max_length=20, error_messages={"required": "Регистровый номер: не заполнено."}
    )
    phone = forms.CharField(
        label="Телефон",
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    email = forms.EmailField(label="E-mail", required=False, error_messages={"invalid": "E-mail: проверьте адрес."})
    organization = forms.CharField(
        label="Место работы: ОГРН организации",
        max_length=20,
        required=False,
        help_text="13 цифр, как в реестре медицинских организаций.",
    )
    employment_status = forms.ChoiceField(label="Статус занятости", choices=EMPLOYMENT_STATUS_CHOICES)
    proof = _file("Подтверждающий документ")
    comment = forms.CharField(
        label="Комментарий для проверяющего (необязательно)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean_last_name(self):
        return _clean_name(self.cleaned_data["last_name"], "Фамилия")

    def clean_first_name(self):
        return _clean_name(self.cleaned_data["first_name"], "Имя")

    def clean_middle_name(self):
        return _clean_name(self.cleaned_data["middle_name"], "Отчество")

    def clean_registry_number(self):
        return validators.normalize_registry_number(self.cleaned_data["registry_number"])

    def clean_phone(self):
        raw = self.cleaned_data["phone"]
        return validators.normalize_mobile_phone(raw) if raw.strip() else ""

    def clean_admission_number(self):
        return "".join(self.cleaned_data["admission_number"].split())

    def clean_organization(self):
        raw = self.cleaned_data["organization"]
        if not raw.strip():
            return ""
        ogrn = validators.normalize_ogrn(raw)
        if not MedicalOrganization.objects.filter(ogrn=ogrn, status=MedicalOrganization.Status.ACTIVE).exists():
            raise ValidationError("Место работы: действующей организации с таким ОГРН нет в реестре.")
        return ogrn

    def new_values(self) -> dict:
        """Cleaned values in the shape of services.worker_editable_values."""
        data = self.cleaned_data
        values = {
            k: data[k]
            for k in (
                "last_name",
                "first_name",
                "middle_name",
                "admission_number",
                "admission_valid_until",
                "registry_number",
                "phone",
                "email",
                "organization",
                "employment_status",
            )
        }
        values["specialty"] = data["specialty"].pk if data.get("specialty") else None
        values["category"] = data["category"].pk if data.get("category") else None
        return values


class DisputeForm(_FileSizeMixin, forms.Form):
    """«Оспорить» an employment row an employer entered."""

    comment = forms.CharField(
        label="Что в записи неверно",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Например: «не работала в этой организации» или «уволена 31.05, а не 31.03». Сотрудник "
        "поддержки проверит запись вместе с организацией.",
        error_messages={"required": "Что в записи неверно: опишите, пожалуйста."},
    )
    proof = _file("Подтверждающий документ (необязательно)", required=False)
