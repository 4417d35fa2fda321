"""The organization cabinet's forms. They collect text and codes; orgs.services checks them (the same
checks as the import and the API), and its refusals come back onto the field they name."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from core import validators
from core.widgets import QuickSelect
from registry.models import AdmissionStatus, DismissalReason, Employment, MedicalWorker, Position, Specialty

from . import services
from .selectors import SORTS, StaffFilters

DATE_INPUT = {"type": "date"}


def _required(label: str) -> dict:
    return {"required": f"{label}: не заполнено."}


def _date(label: str, **kwargs) -> forms.DateField:
    return forms.DateField(
        label=label,
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs=DATE_INPUT, format="%Y-%m-%d"),
        error_messages={**_required(label), "invalid": f"{label}: дата в формате ДД.ММ.ГГГГ."},
        **kwargs,
    )


class _CodeChoice(forms.ModelChoiceField):
    """A directory entry chosen by its code (what the services take), active entries only."""

    def __init__(self, model, label: str, *, required: bool = True):
        super().__init__(
            queryset=model.objects.filter(is_active=True).order_by("sort_order", "name"),
            to_field_name="code",
            label=label,
            required=required,
            empty_label="—" if not required else "Выберите",
            error_messages={**_required(label), "invalid_choice": f"{label}: выберите значение из справочника."},
        )


class OrgFormMixin:
    """Puts a service's refusal on the field it names (or on the whole form)."""

    def add_service_error(self, exc: services.OrgError) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, exc.message)  # type: ignore[attr-defined]


class PostForm(OrgFormMixin, forms.Form):
    position = _CodeChoice(Position, "Должность")
    specialty = _CodeChoice(Specialty, "Специальность", required=False)
    department = forms.CharField(label="Подразделение", max_length=300, required=False)
    rate = forms.CharField(
        label="Ставка", max_length=10, initial="1", help_text="От 0,25 до 1,5.", error_messages=_required("Ставка")
    )
    kind = forms.ChoiceField(label="Вид занятости", choices=Employment.Kind.choices, initial=Employment.Kind.MAIN)
    started_on = _date("Дата начала")

    def post(self) -> services.PostInput:
        data = self.cleaned_data
        return services.PostInput(
            position=data["position"].code,
            specialty=data["specialty"].code if data.get("specialty") else "",
            department=data.get("department") or "",
            rate=data["rate"],
            kind=data["kind"],
            started_on=data["started_on"],
        )


class HireForm(PostForm):
    """Hire a worker of the register, found by SNILS."""

    snils = forms.CharField(label="СНИЛС работника", max_length=20, error_messages=_required("СНИЛС"))
    field_order = ["snils", "position", "specialty", "department", "rate", "kind", "started_on"]

    def clean_snils(self) -> str:
        try:
            return validators.normalize_snils(self.cleaned_data["snils"])
        except ValidationError as exc:
            raise ValidationError(exc.messages[0]) from None


class HireNewForm(PostForm):
    """Hire a person who is not yet in the register: the record is created with the post."""

    snils = forms.CharField(label="СНИЛС", max_length=20, error_messages=_required("СНИЛС"))
    last_name = forms.CharField(label="Фамилия", max_length=100, error_messages=_required("Фамилия"))
    first_name = forms.CharField(label="Имя", max_length=100, error_messages=_required("Имя"))
    middle_name = forms.CharField(label="Отчество (если есть)", max_length=100, required=False)
    sex = forms.ChoiceField(label="Пол", choices=MedicalWorker.Sex.choices, error_messages=_required("Пол"))
    birth_date = _date("Дата рождения")
    inn = forms.CharField(label="ИНН (если известен)", max_length=20, required=False, help_text="12 цифр.")
    phone = forms.CharField(label="Мобильный телефон", max_length=20, required=False)
    email = forms.CharField(label="E-mail", max_length=254, required=False)
    confirm_not_duplicate = forms.BooleanField(
        label="Это другой человек — всё равно внести",
        required=False,
        help_text="Отметьте, если система предупредила о возможном дубликате и вы проверили записи.",
    )
    field_order = [
        "snils",
        "last_name",
        "first_name",
        "middle_name",
        "sex",
        "birth_date",
        "inn",
        "phone",
        "email",
        "position",
        "specialty",
        "department",
        "rate",
        "kind",
        "started_on",
        "confirm_not_duplicate",
    ]

    def person(self) -> services.PersonInput:
        data = self.cleaned_data
        return services.PersonInput(
            last_name=data["last_name"],
            first_name=data["first_name"],
            middle_name=data.get("middle_name") or "",
            sex=data["sex"],
            birth_date=data["birth_date"],
            inn=data.get("inn") or "",
            phone=data.get("phone") or "",
            email=data.get("email") or "",
        )


class TransferForm(PostForm):
    started_on = _date("Дата перевода")


class RateForm(OrgFormMixin, forms.Form):
    rate = forms.CharField(
        label="Новая ставка", max_length=10, help_text="От 0,25 до 1,5.", error_messages=_required("Ставка")
    )


class DismissForm(OrgFormMixin, forms.Form):
    ended_on = _date("Последний рабочий день")
    reason = _CodeChoice(DismissalReason, "Основание увольнения")


class StaffFilterForm(forms.Form):
    """The staff list's query string. Bad values fall back to defaults: a filter never errors."""

    STATE_CHOICES = [("current", "Работают"), ("past", "Уволены"), ("all", "Все")]
    EXPIRING_CHOICES = [("", "—"), ("30", "30 дней"), ("90", "90 дней")]
    SORT_CHOICES = [
        ("name", "ФИО (А–Я)"),
        ("-name", "ФИО (Я–А)"),
        ("-started", "Дата начала (новые)"),
        ("started", "Дата начала (старые)"),
        ("-ended", "Дата увольнения (новые)"),
        ("admission", "Допуск до (раньше)"),
    ]

    q = forms.CharField(label="ФИО, СНИЛС или регистровый номер", max_length=200, required=False)
    state = forms.ChoiceField(label="Сотрудники", choices=STATE_CHOICES, required=False, widget=QuickSelect)
    department = forms.CharField(label="Подразделение", max_length=300, required=False)
    position = forms.TypedChoiceField(
        label="Должность", coerce=int, required=False, empty_value=None, widget=QuickSelect
    )
    specialty = forms.TypedChoiceField(
        label="Специальность", coerce=int, required=False, empty_value=None, widget=QuickSelect
    )
    admission_status = forms.ChoiceField(
        label="Допуск", choices=[("", "Любой"), *AdmissionStatus.choices], required=False, widget=QuickSelect
    )
    expiring = forms.ChoiceField(
        label="Допуск истекает в течение", choices=EXPIRING_CHOICES, required=False, widget=QuickSelect
    )
    sort = forms.ChoiceField(label="Сортировка", choices=SORT_CHOICES, required=False, widget=QuickSelect)

    def __init__(self, *args, choices: dict | None = None, **kwargs):
        """``choices``: the organization's own departments, positions and specialties
        (orgs.selectors.org_filter_choices), so the selects list what the list can find."""
        super().__init__(*args, **kwargs)
        choices = choices or {}
        self.fields["position"].choices = [("", "Любая"), *choices.get("positions", [])]
        self.fields["specialty"].choices = [("", "Любая"), *choices.get("specialties", [])]
        self.departments = choices.get("departments", [])

    def filters(self) -> StaffFilters:
        data = self.cleaned_data if self.is_valid() else {}
        sort = data.get("sort") or "name"
        return StaffFilters(
            q=data.get("q") or "",
            state=data.get("state") or "current",
            department=data.get("department") or "",
            position=data.get("position"),
            specialty=data.get("specialty"),
            admission_status=data.get("admission_status") or "",
            expiring_within=int(data["expiring"]) if data.get("expiring") else None,
            sort=sort if sort in SORTS else "name",
        )
