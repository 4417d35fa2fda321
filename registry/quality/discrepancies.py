"""Discrepancy checks and their alerts: a check raises an alert per problem it sees (keyed by a
fingerprint, so a re-run raises nothing new), resolves the alerts it no longer sees, and the daily
digest e-mails what is new. Set-based (GROUP BY, EXISTS), so it runs on three million workers."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import emails
from accounts.models import User

from ..models import (
    AdmissionDocument,
    DiscrepancyAlert,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    OrganizationLicense,
)
from ..selectors import current_employment_condition, shared_document_numbers, stale_status_condition

logger = logging.getLogger(__name__)

ALERTS_PER_KIND = 5000  # a check raises at most this many alerts of one kind per run
DIGEST_LINES = 50


def alert_fingerprint(kind: str, key: str) -> str:
    return hashlib.sha256(f"{kind}|{key}".encode()).hexdigest()


def alert_raise(
    *, kind: str, key: str, message: str, object_type: str = "", object_id: str = "", region_id: int | None = None
) -> None:
    """Record a discrepancy once: the same (kind, key) found again only moves ``last_seen_at``
    (and reopens it if it had been resolved); it is never e-mailed twice."""
    now = timezone.now()
    DiscrepancyAlert.objects.bulk_create(
        [
            DiscrepancyAlert(
                kind=kind,
                fingerprint=alert_fingerprint(kind, key),
                message=message[:1000],
                object_type=object_type,
                object_id=str(object_id)[:64],
                region_id=region_id,
                first_seen_at=now,
                last_seen_at=now,
            )
        ],
        update_conflicts=True,
        unique_fields=["fingerprint"],
        update_fields=["last_seen_at", "message"],
    )
    DiscrepancyAlert.objects.filter(fingerprint=alert_fingerprint(kind, key), resolved_at__isnull=False).update(
        resolved_at=None
    )


def alerts_raise_many(alerts: list[dict]) -> int:
    """alert_raise for many problems at once (an import batch): a few queries whatever the count.
    Each dict holds alert_raise's keyword arguments. Returns how many were given."""
    if not alerts:
        return 0
    now = timezone.now()
    rows = {}
    for alert in alerts:
        fingerprint = alert_fingerprint(alert["kind"], alert["key"])
        rows[fingerprint] = DiscrepancyAlert(
            kind=alert["kind"],
            fingerprint=fingerprint,
            message=alert["message"][:1000],
            object_type=alert.get("object_type", ""),
            object_id=str(alert.get("object_id", ""))[:64],
            region_id=alert.get("region_id"),
            first_seen_at=now,
            last_seen_at=now,
        )
    fingerprints = list(rows)
    for start in range(0, len(fingerprints), 5000):
        chunk = fingerprints[start : start + 5000]
        DiscrepancyAlert.objects.bulk_create(
            [rows[f] for f in chunk],
            update_conflicts=True,
            unique_fields=["fingerprint"],
            update_fields=["last_seen_at", "message"],
        )
        DiscrepancyAlert.objects.filter(fingerprint__in=chunk, resolved_at__isnull=False).update(resolved_at=None)
    return len(alerts)


def alerts_resolve_unseen(*, kind: str, since: dt.datetime) -> int:
    """Alerts of ``kind`` that the last full check did not find again are resolved."""
    return DiscrepancyAlert.objects.filter(kind=kind, resolved_at__isnull=True, last_seen_at__lt=since).update(
        resolved_at=timezone.now()
    )


def alerts_digest_send() -> int:
    """E-mail staff the alerts not yet reported; each alert is in exactly one digest."""
    recipients = list(getattr(settings, "DQ_ALERT_EMAILS", []) or [])
    if not recipients:
        recipients = list(
            User.objects.filter(is_staff=True, is_active=True).exclude(email="").values_list("email", flat=True)
        )
    with transaction.atomic():
        pending = list(
            DiscrepancyAlert.objects.select_for_update(skip_locked=True)
            .filter(notified_at__isnull=True, resolved_at__isnull=True)
            .order_by("kind", "first_seen_at")
        )
        if not pending:
            return 0
        DiscrepancyAlert.objects.filter(id__in=[a.id for a in pending]).update(notified_at=timezone.now())
        if recipients:
            context = {
                "total": len(pending),
                "counts": Counter(a.get_kind_display() for a in pending).most_common(),
                "first": [a.message for a in pending[:DIGEST_LINES]],
            }
            # One outbox row per address, written with the notified_at marks: sent once, after commit.
            for recipient in recipients:
                emails.email_send(
                    to=recipient, template="registry/emails/discrepancy_digest", context=context, subject_suffix=""
                )
    return len(pending)


# --- Checks that raise alerts ----------------------------------------------------------------------


def discrepancy_checks_run(*, today: dt.date | None = None) -> dict[str, int]:
    """Find conflicts in the whole register and raise (deduplicated) alerts; resolve those gone."""
    today = today or timezone.localdate()
    started = timezone.now()
    found: dict[str, int] = {}
    for kind, check in DISCREPANCY_CHECKS.items():
        alerts = check(today=today)[:ALERTS_PER_KIND]
        for alert in alerts:
            alert_raise(kind=kind, **alert)
        found[kind] = len(alerts)
        if len(alerts) < ALERTS_PER_KIND:  # a capped run did not see everything: resolve nothing
            alerts_resolve_unseen(kind=kind, since=started)
    return found


def shared_documents_check(*, today: dt.date) -> list[dict]:
    """One admission document number held by several workers (one alert per number)."""
    docs = (
        AdmissionDocument.objects.filter(number__in=shared_document_numbers())
        .values_list("number", "worker__region_id")
        .order_by("number")
    )
    first_region: dict[str, int | None] = {}
    for number, region in docs:
        first_region.setdefault(number, region)
    return [
        {
            "key": number,
            "message": f"Документ о допуске № {number} указан у нескольких работников",
            "object_type": "admission_document",
            "object_id": number,
            "region_id": region,
        }
        for number, region in first_region.items()
    ]


def closed_organization_check(*, today: dt.date) -> list[dict]:
    """A worker still employed by an organization that has been closed."""
    rows = (
        Employment.objects.filter(
            current_employment_condition(today=today), organization__status=MedicalOrganization.Status.CLOSED
        )
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=F("organization__closed_on")))
        .values_list(
            "worker_id",
            "worker__registry_number",
            "organization__ogrn",
            "organization__short_name",
            "organization__region_id",
        )[:ALERTS_PER_KIND]
    )
    return [
        {
            "key": f"{worker_id}:{ogrn}",
            "message": f"Работник {number} числится работающим в ликвидированной организации {name}",
            "object_type": "worker",
            "object_id": str(worker_id),
            "region_id": region,
        }
        for worker_id, number, ogrn, name, region in rows
    ]


def expired_license_check(*, today: dt.date) -> list[dict]:
    """A licence past its end date still marked active."""
    rows = OrganizationLicense.objects.filter(
        status=OrganizationLicense.Status.ACTIVE, valid_until__lt=today
    ).values_list("number", "organization__short_name", "organization__region_id")[:ALERTS_PER_KIND]
    return [
        {
            "key": number,
            "message": f"Лицензия {number} ({name}) истекла, но отмечена действующей",
            "object_type": "license",
            "object_id": number,
            "region_id": region,
        }
        for number, name, region in rows
    ]


def stale_admission_check(*, today: dt.date) -> list[dict]:
    """A worker shown as admitted whose document has run out."""
    rows = MedicalWorker.objects.filter(stale_status_condition(today=today)).values_list(
        "id", "registry_number", "region_id"
    )[:ALERTS_PER_KIND]
    return [
        {
            "key": f"worker:{worker_id}",
            "message": f"У работника {number} документ о допуске истёк, а допуск отмечен действующим",
            "object_type": "worker",
            "object_id": str(worker_id),
            "region_id": region,
        }
        for worker_id, number, region in rows
    ]


DISCREPANCY_CHECKS = {
    DiscrepancyAlert.Kind.DOCUMENT_SHARED: shared_documents_check,
    DiscrepancyAlert.Kind.CLOSED_ORGANIZATION: closed_organization_check,
    DiscrepancyAlert.Kind.LICENSE_EXPIRED_ACTIVE: expired_license_check,
    DiscrepancyAlert.Kind.EXPIRED_ACTIVE: stale_admission_check,
}
