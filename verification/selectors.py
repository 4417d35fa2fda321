"""Read-side queries of the cabinet: the worker's record, their applications, CME progress."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Notification
from registry.models import AdmissionStatus, MedicalWorker

from .models import ApplicationHistory, ChangeRequest, IdentityApplication, QualificationApplication, StoredDocument

CABINET_NOTIFICATIONS = 10


def worker_of(user) -> MedicalWorker | None:
    return (
        MedicalWorker.objects.select_related("primary_specialty", "category", "region")
        .filter(user=user)
        .first()
    )


def owned_or_404(model, *, user, pk):
    """An application of the logged-in worker; anyone else's (or a staff member's) is a 404."""
    return get_object_or_404(model.objects.select_related("worker"), pk=pk, worker__user=user)


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


def cme_progress(worker: MedicalWorker, *, admission=None, today: dt.date | None = None) -> CmeProgress:
    """Hours gathered in the current 5-year cycle toward periodic accreditation.

    The cycle starts at the issue of the current admission document (the next accreditation is due
    when it expires), or 5 years back when there is none or it is older."""
    today = today or timezone.localdate()
    years = settings.CME_CYCLE_YEARS
    fallback = today.replace(year=today.year - years) if not (today.month == 2 and today.day == 29) else (
        today.replace(year=today.year - years, day=28))
    start = admission.issued_on if admission is not None and admission.issued_on > fallback else fallback
    end = admission.valid_until if admission is not None and admission.issued_on > fallback else today
    hours = worker.cme_records.filter(completed_on__gte=start, completed_on__lte=today).aggregate(
        total=Sum("hours"))["total"] or 0
    return CmeProgress(cycle_start=start, cycle_end=end, hours=hours, required=settings.CME_REQUIRED_HOURS)


def cabinet_context(worker: MedicalWorker, user) -> dict:
    """Everything the cabinet page shows, in a fixed number of queries."""
    from .services import current_admission

    today = timezone.localdate()
    employments = list(worker.employments.select_related("organization__region", "position", "specialty")
                       .order_by("ended_on", "-started_on"))
    documents = list(worker.admission_documents.select_related("specialty", "accreditation_kind")
                     .order_by("-valid_until"))
    admissions = []
    for document in documents:
        status = document.admission_status(today)
        admissions.append({
            "document": document,
            "status": status,
            "days_left": (document.valid_until - today).days,
            "expiring": status == AdmissionStatus.EXPIRING,
        })
    admission = current_admission(worker, documents)
    categories = list(worker.category_assignments.select_related("category", "specialty").order_by("-awarded_on"))
    return {
        "worker": worker,
        "employments": employments,
        "educations": list(worker.educations.select_related("level", "specialty")),
        "admissions": admissions,
        "expiring": [a for a in admissions if a["expiring"]],
        "categories": categories,
        "cme": cme_progress(worker, admission=admission, today=today),
        "cme_records": list(worker.cme_records.order_by("-completed_on")[:10]),
        "identity": IdentityApplication.objects.filter(worker=worker).order_by("-created_at", "-id").first(),
        "qualification": QualificationApplication.objects.filter(worker=worker).order_by("-created_at", "-id").first(),
        "changes": list(ChangeRequest.objects.filter(worker=worker).order_by("-created_at", "-id")[:5]),
        "notifications": list(Notification.objects.filter(user=user)[:CABINET_NOTIFICATIONS]),
        "unread": Notification.objects.filter(user=user, read_at__isnull=True).count(),
        "last_actualized": ChangeRequest.objects.filter(worker=worker, status=ChangeRequest.Status.APPROVED)
        .order_by("-decided_at").values_list("decided_at", flat=True).first(),
    }


def application_history(kind: str, application_id: int) -> list[ApplicationHistory]:
    return list(ApplicationHistory.objects.filter(kind=kind, application_id=application_id)
                .select_related("actor").order_by("created_at", "id"))
