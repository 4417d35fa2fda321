"""Reads of the staff desk: how much work waits in each queue and how old the oldest item is.

Every figure is one aggregate over the rows a partial or composite index already isolates (open
statuses, unresolved alerts, running jobs), never a count of a whole table: at 3,000,000 workers the
page costs one indexed query per model, whatever the size of the register.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Min, Q
from django.utils import timezone

from registry.models import DiscrepancyAlert, DuplicateCandidate, ExportJob, ImportJob
from support.models import Ticket
from verification import services as verification_services
from verification.models import ChangeRequest, IdentityApplication, QualificationApplication

# The review SLA of the admin queues and the support SLA: 24 hours (docs/domain.md, Workflows).
REVIEW_DEADLINE = dt.timedelta(hours=verification_services.QUALIFICATION_CHECK_HOURS)
IDENTITY_FIX_DEADLINE = dt.timedelta(days=verification_services.IDENTITY_FIX_DAYS)
QUALIFICATION_FIX_DEADLINE = dt.timedelta(days=verification_services.QUALIFICATION_FIX_DAYS)


@dataclass(frozen=True)
class QueueFigures:
    """One queue: `count` items, `overdue` of them past `deadline` (None: the queue has no deadline),
    the oldest waiting since `oldest_at`; `waiting_staff` of them wait for a person (None: all do)."""

    count: int
    oldest_at: dt.datetime | None
    deadline: dt.timedelta | None = None
    overdue: int | None = None
    waiting_staff: int | None = None

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.oldest_at is None else max(now - self.oldest_at, dt.timedelta(0))


def _open_applications(model, *, review_status: str, fix_status: str, fix_days: dt.timedelta, now: dt.datetime):
    """Open and to-be-fixed applications of one kind in one query on the (status, ...) indexes."""
    open_q = Q(status__in=model.OPEN_STATUSES)
    fix_q = Q(status=fix_status)
    row = model.objects.filter(open_q | fix_q).aggregate(
        open=Count("id", filter=open_q),
        open_overdue=Count("id", filter=open_q & Q(submitted_at__lte=now - REVIEW_DEADLINE)),
        open_review=Count("id", filter=Q(status=review_status)),
        open_oldest=Min("submitted_at", filter=open_q),
        fix=Count("id", filter=fix_q),
        fix_overdue=Count("id", filter=fix_q & Q(fix_deadline__lte=now)),
        fix_first_deadline=Min("fix_deadline", filter=fix_q),
    )
    first_deadline = row["fix_first_deadline"]
    return (
        QueueFigures(
            count=row["open"],
            oldest_at=row["open_oldest"],
            deadline=REVIEW_DEADLINE,
            overdue=row["open_overdue"],
            waiting_staff=row["open_review"],
        ),
        QueueFigures(
            count=row["fix"],
            # The fix period starts at the decision: the earliest deadline belongs to the oldest item.
            oldest_at=first_deadline - fix_days if first_deadline else None,
            deadline=fix_days,
            overdue=row["fix_overdue"],
        ),
    )


def _change_requests(now: dt.datetime) -> QueueFigures:
    pending = ChangeRequest.Status.PENDING
    row = ChangeRequest.objects.filter(status=pending).aggregate(
        n=Count("id"), overdue=Count("id", filter=Q(created_at__lte=now - REVIEW_DEADLINE)), oldest=Min("created_at")
    )
    return QueueFigures(count=row["n"], oldest_at=row["oldest"], deadline=REVIEW_DEADLINE, overdue=row["overdue"])


def _tickets(now: dt.datetime) -> tuple[QueueFigures, QueueFigures]:
    new_q, reply_q = Q(status=Ticket.Status.NEW), Q(status=Ticket.Status.IN_PROGRESS)
    late_q = Q(first_response_at__isnull=True, created_at__lt=now - Ticket.SLA)
    row = Ticket.objects.filter(new_q | reply_q).aggregate(
        new=Count("id", filter=new_q),
        new_overdue=Count("id", filter=new_q & late_q),
        new_oldest=Min("created_at", filter=new_q),
        reply=Count("id", filter=reply_q),
        reply_overdue=Count("id", filter=reply_q & late_q),
        reply_oldest=Min("created_at", filter=reply_q),
    )
    return (
        QueueFigures(row["new"], row["new_oldest"], Ticket.SLA, row["new_overdue"]),
        QueueFigures(row["reply"], row["reply_oldest"], Ticket.SLA, row["reply_overdue"]),
    )


def _open_discrepancies() -> QueueFigures:
    # alert_open_seen_idx: a partial index on the unresolved alerts answers both figures.
    row = DiscrepancyAlert.objects.filter(resolved_at__isnull=True).aggregate(
        n=Count("id"), oldest=Min("first_seen_at")
    )
    return QueueFigures(count=row["n"], oldest_at=row["oldest"])


def _open_duplicates() -> QueueFigures:
    row = DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN).aggregate(
        n=Count("id"), oldest=Min("detected_at")
    )
    return QueueFigures(count=row["n"], oldest_at=row["oldest"])


def _running_jobs(model) -> QueueFigures:
    row = model.objects.filter(status__in=[model.Status.QUEUED, model.Status.RUNNING]).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    return QueueFigures(count=row["n"], oldest_at=row["oldest"])


def desk_queues(*, now: dt.datetime | None = None) -> dict[str, QueueFigures]:
    """Every queue of the desk by key, in eight indexed queries."""
    now = now or timezone.now()
    identity_open, identity_fix = _open_applications(
        IdentityApplication,
        review_status=IdentityApplication.Status.MANUAL_REVIEW,
        fix_status=IdentityApplication.Status.REJECTED,
        fix_days=IDENTITY_FIX_DEADLINE,
        now=now,
    )
    qualification_open, qualification_fix = _open_applications(
        QualificationApplication,
        review_status=QualificationApplication.Status.ESCALATED,
        fix_status=QualificationApplication.Status.NEEDS_FIX,
        fix_days=QUALIFICATION_FIX_DEADLINE,
        now=now,
    )
    tickets_new, tickets_reply = _tickets(now)
    return {
        "identity_open": identity_open,
        "qualification_open": qualification_open,
        "change_requests": _change_requests(now),
        "qualification_fix": qualification_fix,
        "identity_fix": identity_fix,
        "tickets_new": tickets_new,
        "tickets_reply": tickets_reply,
        "discrepancies": _open_discrepancies(),
        "duplicates": _open_duplicates(),
        "imports": _running_jobs(ImportJob),
        "exports": _running_jobs(ExportJob),
    }
