"""The expiry forecast of one organization: admission documents of its current staff that expire
within 90 and 30 days, expired ones of workers still in a post that needs them, and the
organization's licences. Read by the /org/expiry/ page and the weekly digest (orgs.digest).

Every query starts from the organization's current employments (employment_current_idx: the
organization's rows with no end date) and reaches the documents by (worker, specialty)
(admission_worker_spec_idx), so the cost follows the organization's staff, not the register.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery, Window
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from core.audit import audit_record
from core.models import AuditEntry
from registry.models import AdmissionDocument, Employment, OrganizationLicense

from .views import org_view

HORIZON_DAYS = 90
SOON_DAYS = 30
LIST_LIMIT = 100  # rows per section on the page (the staff list filters the rest); the counts are exact


@dataclass
class Forecast:
    today: dt.date
    expiring: list = field(default_factory=list)  # documents, soonest first, each with .employment_list
    expiring_total: int = 0
    soon_total: int = 0  # within SOON_DAYS
    expired: list = field(default_factory=list)  # employments whose post's document has expired
    expired_total: int = 0
    licenses: list[LicenseRow] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.expiring_total or self.expired_total or any(lic.attention for lic in self.licenses))


def current_employments(*, organization_id: int, today: dt.date) -> QuerySet[Employment]:
    """The organization's current posts: no end date, or one still ahead (as the staff list counts them)."""
    return Employment.objects.filter(Q(ended_on__isnull=True) | Q(ended_on__gte=today), organization_id=organization_id)


def expiring_documents(*, organization_id: int, today: dt.date, days: int = HORIZON_DAYS) -> QuerySet:
    """Valid documents of the current staff that end within `days`, not yet replaced by a later
    valid document of the same worker and specialty."""
    staff = current_employments(organization_id=organization_id, today=today).filter(worker_id=OuterRef("worker_id"))
    later = AdmissionDocument.objects.filter(
        worker_id=OuterRef("worker_id"),
        specialty_id=OuterRef("specialty_id"),
        status=AdmissionDocument.Status.VALID,
        valid_until__gt=OuterRef("valid_until"),
    )
    return (
        AdmissionDocument.objects.filter(
            Exists(staff),
            status=AdmissionDocument.Status.VALID,
            valid_until__gte=today,
            valid_until__lte=today + dt.timedelta(days=days),
        )
        .exclude(Exists(later))
        .select_related("worker", "specialty")
        .order_by("valid_until", "worker__last_name", "id")
    )


def expired_posts(*, organization_id: int, today: dt.date) -> QuerySet[Employment]:
    """Current posts with a specialty whose holder's documents for it have all expired (the
    latest valid one ended before today): the worker may not practise in that post."""
    last = (
        AdmissionDocument.objects.filter(
            worker_id=OuterRef("worker_id"),
            specialty_id=OuterRef("specialty_id"),
            status=AdmissionDocument.Status.VALID,
        )
        .values("worker_id")
        .annotate(last=Max("valid_until"))
        .values("last")
    )
    return (
        current_employments(organization_id=organization_id, today=today)
        .filter(specialty__isnull=False)
        .annotate(document_until=Subquery(last))
        .filter(document_until__lt=today)
        .select_related("worker", "specialty", "position")
        .order_by("document_until", "worker__last_name", "id")
    )


@dataclass
class LicenseRow:
    license: OrganizationLicense
    expired: bool  # its end date has passed
    expiring: bool  # it ends within the horizon

    @property
    def attention(self) -> bool:
        return self.expired or self.expiring or self.license.status != OrganizationLicense.Status.ACTIVE


def organization_licenses(*, organization_id: int, today: dt.date) -> list[LicenseRow]:
    """Every licence, marked when it has ended, ends within the horizon or is not active."""
    horizon = today + dt.timedelta(days=HORIZON_DAYS)
    return [
        LicenseRow(
            license=lic,
            expired=lic.valid_until is not None and lic.valid_until < today,
            expiring=lic.valid_until is not None and today <= lic.valid_until <= horizon,
        )
        for lic in OrganizationLicense.objects.filter(organization_id=organization_id).order_by("-issued_on")
    ]


def organization_forecast(*, organization_id: int, today: dt.date | None = None, limit: int = LIST_LIMIT) -> Forecast:
    """Everything the page and the digest show, in a fixed number of queries."""
    today = today or timezone.localdate()
    documents = expiring_documents(organization_id=organization_id, today=today)
    soon = today + dt.timedelta(days=SOON_DAYS)
    counts = documents.order_by().aggregate(total=Count("id"), soon=Count("id", filter=Q(valid_until__lte=soon)))
    # The total rides on every row (a window over the whole result, computed before the LIMIT): one query.
    expired = list(
        expired_posts(organization_id=organization_id, today=today).annotate(total=Window(Count("id")))[:limit]
    )
    forecast = Forecast(
        today=today,
        expiring=list(documents[:limit]),
        expiring_total=counts["total"] or 0,
        soon_total=counts["soon"] or 0,
        expired=expired,
        expired_total=expired[0].total if expired else 0,
        licenses=organization_licenses(organization_id=organization_id, today=today),
    )
    for document in forecast.expiring:
        document.days_left = (document.valid_until - today).days
        document.soon = document.valid_until <= soon
    return forecast


@org_view()
@require_http_methods(["GET"])
def expiry_page(request):
    """/org/expiry/: the forecast of the chosen organization. It names the staff's documents (protected
    data of workers employed there), so the view is journaled."""
    membership = request.membership
    forecast = organization_forecast(organization_id=membership.organization_id)
    audit_record(
        event=AuditEntry.Event.DATA_VIEWED,
        actor=request.user,
        request=request,
        object_type="organization",
        object_id=str(membership.organization_id),
        details={"page": "expiry", "documents": len(forecast.expiring), "posts": len(forecast.expired)},
    )
    context = {"membership": membership, "forecast": forecast, "horizon": HORIZON_DAYS, "soon": SOON_DAYS}
    return render(request, "orgs/expiry.html", context)
