"""The weekly expiry digest: each organization's active HR officers get one e-mail a week with the
forecast of orgs.forecast (documents expiring within 90 and 30 days, posts held with an expired
document, licences that need attention).

Idempotent per organization and week: the claim row ExpiryDigest (unique organization + week) is
written in the same transaction as the outbox messages, so a second run, a redelivered task or two
beat instances at once send nothing more, and a run that fails half-way leaves neither the claim nor
any message, so the retry sends the whole digest. An organization with nothing to report is claimed
too (no e-mail), so the check is not repeated all week.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import outbox
from accounts.emails import email_render
from registry.models import MedicalOrganization

from .forecast import HORIZON_DAYS, SOON_DAYS, organization_forecast
from .models import ExpiryDigest, OrgMembership

logger = logging.getLogger(__name__)

DIGEST_LIMIT = 20  # rows per section in the e-mail; the page has the rest
TEMPLATE = "orgs/emails/expiry_digest"


def week_of(day: dt.date) -> dt.date:
    """The Monday of the day's week: the digest's key."""
    return day - dt.timedelta(days=day.weekday())


def digest_organizations() -> list[int]:
    """Active organizations with at least one active HR officer who can receive e-mail (the membership's
    organization index)."""
    return sorted(
        set(
            OrgMembership.objects.filter(
                role=OrgMembership.Role.HR,
                is_active=True,
                user__is_active=True,
                organization__status=MedicalOrganization.Status.ACTIVE,
            )
            .exclude(user__email="")
            .values_list("organization_id", flat=True)
        )
    )


def expiry_digest_run(*, today: dt.date | None = None) -> int:
    """Send this week's digest to every organization that has not had it; returns e-mails queued."""
    today = today or timezone.localdate()
    sent = 0
    for organization_id in digest_organizations():
        sent += expiry_digest_send(organization_id=organization_id, today=today)
    return sent


def expiry_digest_send(*, organization_id: int, today: dt.date) -> int:
    """One organization's digest for the week of `today`; 0 when it was already claimed or is empty."""
    week = week_of(today)
    try:
        with transaction.atomic():
            claim = ExpiryDigest.objects.create(organization_id=organization_id, week=week)
            forecast = organization_forecast(organization_id=organization_id, today=today, limit=DIGEST_LIMIT)
            recipients = _recipients(organization_id)
            if forecast.is_empty or not recipients:
                return 0
            organization = MedicalOrganization.objects.only("short_name", "ogrn").get(pk=organization_id)
            context = {
                "organization": organization,
                "forecast": forecast,
                "horizon": HORIZON_DAYS,
                "soon": SOON_DAYS,
                "link": settings.SITE_URL.rstrip("/") + reverse("orgs:expiry"),
            }
            # Rendered once for all the officers: a text and an HTML part (accounts.emails), queued in
            # this transaction with the claim.
            email = email_render(TEMPLATE, context)
            for to in recipients:
                outbox.send_email(to=to, subject=f"{email.subject} — Медрег", body=email.text, html=email.html)
            claim.recipients = len(recipients)
            claim.save(update_fields=["recipients"])
            return len(recipients)
    except IntegrityError:
        # Claimed by an earlier or a concurrent run this week: its transaction holds the messages.
        return 0


def _recipients(organization_id: int) -> list[str]:
    return sorted(
        set(
            OrgMembership.objects.filter(
                organization_id=organization_id, role=OrgMembership.Role.HR, is_active=True, user__is_active=True
            )
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
