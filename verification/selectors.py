"""Read-side queries of the cabinet: the worker's record, their applications and corrections, CME progress."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Notification
from core import validators
from registry.models import (
    AdmissionStatus,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    QualificationCategory,
    Specialty,
)
from registry.selectors import worker_current_admission, worker_current_category, worker_main_employment
from registry.services import EMPLOYMENT_DISMISSED

from .models import ApplicationHistory, ChangeRequest, IdentityApplication, QualificationApplication, StoredDocument

CABINET_NOTIFICATIONS = 10


def worker_of(*, user) -> MedicalWorker | None:
    return MedicalWorker.objects.select_related("primary_specialty", "category", "region").filter(user=user).first()


def owned_or_404(*, model, user, pk):
    """An application of the logged-in worker; anyone else's (or a staff member's) is a 404."""
    return get_object_or_404(model.objects.select_related("worker"), pk=pk, worker__user=user)


def employment_of_worker_or_404(*, worker: MedicalWorker, pk: int) -> Employment:
    """One of the worker's own employment rows; anyone else's is a 404."""
    employment = (
        Employment.objects.select_related("organization", "position", "specialty").filter(pk=pk, worker=worker).first()
    )
    if employment is None:
        raise Http404("Место работы не найдено")
    return employment


def document_for(*, user, pk) -> StoredDocument:
    document = StoredDocument.objects.filter(pk=pk).select_related("owner").first()
    if document is None or not (user.is_staff or document.owner_id == user.pk):
        raise Http404
    return document


@dataclass(frozen=True)
class CmeProgress:
    cycle_start: dt.date
    cycle_end: dt.date
    hours: int
    required: int

    @property
    def missing(self) -> int:
        return max(self.required - self.hours, 0)

    @property
    def percent(self) -> int:
        return min(100, round(self.hours * 100 / self.required)) if self.required else 100


def cme_progress(*, worker: MedicalWorker, admission=None, today: dt.date | None = None) -> CmeProgress:
    """Hours gathered in the current 5-year cycle toward periodic accreditation.

    The cycle starts at the issue of the current admission document (the next accreditation is due
    when it expires), or 5 years back when there is none or it is older."""
    today = today or timezone.localdate()
    years = settings.CME_CYCLE_YEARS
    fallback = (
        today.replace(year=today.year - years)
        if not (today.month == 2 and today.day == 29)
        else (today.replace(year=today.year - years, day=28))
    )
    start = admission.issued_on if admission is not None and admission.issued_on > fallback else fallback
    end = admission.valid_until if admission is not None and admission.issued_on > fallback else today
    hours = (
        worker.cme_records.filter(completed_on__gte=start, completed_on__lte=today).aggregate(total=Sum("hours"))[
            "total"
        ]
        or 0
    )
    return CmeProgress(cycle_start=start, cycle_end=end, hours=hours, required=settings.CME_REQUIRED_HOURS)


def cabinet_context(*, worker: MedicalWorker, user) -> dict:
    """Everything the cabinet page shows, in a fixed number of queries."""
    today = timezone.localdate()
    employments = list(
        worker.employments.select_related("organization__region", "position", "specialty").order_by(
            "ended_on", "-started_on"
        )
    )
    documents = list(
        worker.admission_documents.select_related("specialty", "accreditation_kind").order_by("-valid_until")
    )
    admissions = []
    for document in documents:
        status = document.admission_status(today)
        admissions.append(
            {
                "document": document,
                "status": status,
                "days_left": (document.valid_until - today).days,
                "expiring": status == AdmissionStatus.EXPIRING,
            }
        )
    admission = worker_current_admission(worker=worker, documents=documents)
    categories = list(worker.category_assignments.select_related("category", "specialty").order_by("-awarded_on"))
    return {
        "worker": worker,
        "employments": employments,
        "educations": list(worker.educations.select_related("level", "specialty")),
        "admissions": admissions,
        "expiring": [a for a in admissions if a["expiring"]],
        "categories": categories,
        "cme": cme_progress(worker=worker, admission=admission, today=today),
        "cme_records": list(worker.cme_records.order_by("-completed_on")[:10]),
        "identity": IdentityApplication.objects.filter(worker=worker).order_by("-created_at", "-id").first(),
        "qualification": QualificationApplication.objects.filter(worker=worker).order_by("-created_at", "-id").first(),
        "changes": list(ChangeRequest.objects.filter(worker=worker).order_by("-created_at", "-id")[:5]),
        "notifications": list(Notification.objects.filter(user=user)[:CABINET_NOTIFICATIONS]),
        "unread": Notification.objects.filter(user=user, read_at__isnull=True).count(),
        "last_actualized": ChangeRequest.objects.filter(worker=worker, status=ChangeRequest.Status.APPROVED)
        .order_by("-decided_at")
        .values_list("decided_at", flat=True)
        .first(),
    }


def application_history(*, kind: str, application_id: int) -> list[ApplicationHistory]:
    return list(
        ApplicationHistory.objects.filter(kind=kind, application_id=application_id)
        .select_related("actor")
        .order_by("created_at", "id")
    )


# --- Applications and corrections ----------------------------------------------------------------------


def identity_application_current(*, worker: MedicalWorker) -> IdentityApplication | None:
    return IdentityApplication.objects.filter(worker=worker).order_by("-created_at", "-id").first()


def qualification_application_current(*, worker: MedicalWorker) -> QualificationApplication | None:
    return QualificationApplication.objects.filter(worker=worker).order_by("-created_at", "-id").first()


CHANGE_FIELDS = {
    "last_name": "Фамилия",
    "first_name": "Имя",
    "middle_name": "Отчество",
    "specialty": "Специальность",
    "category": "Квалификационная категория",
    "admission_number": "Номер документа о допуске",
    "admission_valid_until": "Документ о допуске действует до",
    "registry_number": "Регистровый номер",
    "phone": "Телефон",
    "email": "E-mail",
    "organization": "Место работы (ОГРН организации)",
    "employment_status": "Статус занятости",
}


def worker_editable_values(*, worker: MedicalWorker) -> dict:
    """The current value of every correctable field, as raw values the form uses."""
    employment = worker_main_employment(worker=worker)
    admission = worker_current_admission(worker=worker)
    category = worker_current_category(worker=worker)
    status = EMPLOYMENT_DISMISSED if employment is None else employment.kind
    return {
        "last_name": worker.last_name,
        "first_name": worker.first_name,
        "middle_name": worker.middle_name,
        "specialty": (employment.specialty_id if employment else None) or worker.primary_specialty_id,
        "category": category.category_id if category else None,
        "admission_number": admission.number if admission else "",
        "admission_valid_until": admission.valid_until if admission else None,
        "registry_number": worker.registry_number,
        "phone": worker.phone,
        "email": worker.email,
        "organization": employment.organization.ogrn if employment else "",
        "employment_status": status,
    }


def _display(field: str, value) -> str:
    if value in (None, ""):
        return "—"
    if field == "specialty":
        return str(Specialty.objects.filter(pk=value).first() or value)
    if field == "category":
        return str(QualificationCategory.objects.filter(pk=value).first() or value)
    if field == "admission_valid_until":
        return value.strftime("%d.%m.%Y") if hasattr(value, "strftime") else str(value)
    if field == "registry_number":
        return validators.format_registry_number(value)
    if field == "organization":
        org = MedicalOrganization.objects.filter(ogrn=value).first()
        return f"{org.short_name} (ОГРН {value})" if org else str(value)
    if field == "employment_status":
        return "Уволен (нет текущего места работы)" if value == EMPLOYMENT_DISMISSED else Employment.Kind(value).label
    return str(value)


def change_diff(*, worker: MedicalWorker, new_values: dict) -> dict:
    """What would change: {field: {"label", "old", "new", "value"}} for fields whose value differs."""
    current = worker_editable_values(worker=worker)
    diff = {}
    for field, label in CHANGE_FIELDS.items():
        if field not in new_values:
            continue
        new, old = new_values[field], current[field]
        if (new or None) == (old or None):
            continue
        raw = new.isoformat() if isinstance(new, dt.date) else new
        diff[field] = {"label": label, "old": _display(field, old), "new": _display(field, new), "value": raw}
    return diff
