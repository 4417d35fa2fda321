"""Deadline sweeps (docs/domain.md, Workflows): 24-hour escalation of qualification checks, 7-day
closure of qualification applications not fixed, 30-day expiry of rejected identity
applications, and admission-document expiry reminders 90, 30 and 7 days ahead.

Run by Celery beat (settings.CELERY_BEAT_SCHEDULE) and by `manage.py run_deadlines` in the
embedded set-up. Every sweep is idempotent and safe to run twice at once: state moves are
conditional UPDATEs, and reminders are claimed by inserting a unique DeadlineNotice key, so the
loser of a race sends nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.notifications import notification_send
from registry.models import AdmissionDocument

from . import services
from .models import DeadlineNotice

REMINDER_DAYS = (90, 30, 7)


def _claim_notice(key: str) -> bool:
    try:
        with transaction.atomic():
            DeadlineNotice.objects.create(key=key)
    except IntegrityError:
        return False
    return True


def admission_expiry_reminders(*, today: dt.date | None = None) -> int:
    """Remind the owner of an admission document that expires in 90, 30 or 7 days (or fewer, for
    a stage a missed run skipped: the latest stage reached is sent once)."""
    today = today or timezone.localdate()
    sent = 0
    documents = (
        AdmissionDocument.objects.filter(
            status=AdmissionDocument.Status.VALID,
            valid_until__gte=today,
            valid_until__lte=today + dt.timedelta(days=max(REMINDER_DAYS)),
            worker__user__isnull=False,
        )
        .select_related("worker__user", "specialty")
        .order_by("valid_until", "id")
    )
    for document in documents.iterator(chunk_size=500):
        days_left = (document.valid_until - today).days
        stage = min(d for d in REMINDER_DAYS if days_left <= d)
        key = f"admission:{document.pk}:{document.valid_until.isoformat()}:{stage}"
        if not _claim_notice(key):
            continue
        with transaction.atomic():
            notification_send(
                user=document.worker.user,
                kind="admission_expiring",
                template="verification/emails/admission_expiring",
                context={"worker": document.worker, "document": document, "days_left": days_left, "stage": stage},
                important=stage <= 30,
                link=reverse("verification:cabinet"),
            )
        sent += 1
    return sent


def run_all(*, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    return {
        "escalated": services.qualification_applications_escalate(now=now)
        + services.identity_applications_escalate_stuck(now=now),
        "closed": services.qualification_applications_expire(now=now),
        "expired": services.identity_applications_expire(now=now),
        "reminders": admission_expiry_reminders(today=timezone.localdate(now)),
    }
