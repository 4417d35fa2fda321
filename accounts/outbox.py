"""Outgoing e-mail and SMS through the database (a transactional outbox).

The message row is written in the transaction of the change it reports and its task is published
after commit. A publish that is lost — Redis down, or the process killed between commit and publish —
leaves the row "queued", and core.reconcile enqueues it again. The task claims the row before
sending, so a duplicate delivery sends nothing; a worker killed while sending leaves the row
"sending", retaken after SEND_LEASE. Delivery is at least once: a worker killed after the gateway
accepted a message and before the row was marked sent sends it again.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.mail import EmailMultiAlternatives
from django.db.models import F
from django.utils import timezone

from core import reconcile
from core.claims import claim_row

from . import sms
from .models import OutboundMessage

logger = logging.getLogger(__name__)

SEND_LEASE = dt.timedelta(minutes=10)  # longer than the task's time limit
# A queued row older than this was lost by the broker (the longest retry backoff is 15 minutes).
LOST_AFTER = dt.timedelta(minutes=20)
KEEP_SENT = dt.timedelta(days=30)  # sent messages hold addresses and texts: not kept for ever


class DeliveryError(Exception):
    """The gateway did not take the message; the task retries."""


def send_email(*, to: str, subject: str, body: str, html: str = "") -> OutboundMessage | None:
    """Queue an e-mail (a text part and, given `html`, an HTML part with the same text; see
    accounts.emails); sent after the current transaction commits (nothing if it rolls back)."""
    return _queue(OutboundMessage.Channel.EMAIL, to, subject, body, html)


def send_sms(*, to: str, text: str) -> OutboundMessage | None:
    """Queue an SMS; sent after the current transaction commits (nothing if it rolls back)."""
    return _queue(OutboundMessage.Channel.SMS, to, "", text)


def _queue(channel: str, to: str, subject: str, body: str, html: str = "") -> OutboundMessage | None:
    if not to:
        return None
    message = OutboundMessage.objects.create(channel=channel, to=to, subject=subject[:300], body=body, html_body=html)
    reconcile.enqueue_on_commit("accounts.send_message", str(message.pk))
    return message


def claim(message_id: int, *, now: dt.datetime | None = None) -> OutboundMessage | None:
    """Take a queued message (or one whose sender died) for sending; None when another has it or it is done."""
    taken = claim_row(
        OutboundMessage,
        pk=message_id,
        state_field="state",
        queued=OutboundMessage.State.QUEUED,
        running=OutboundMessage.State.SENDING,
        lease=SEND_LEASE,
        now=now or timezone.now(),
        attempts=F("attempts") + 1,
    )
    return OutboundMessage.objects.get(pk=message_id) if taken else None


def deliver(message: OutboundMessage) -> None:
    """Hand the message to the mail server or the SMS gateway; DeliveryError when they refuse."""
    try:
        if message.channel == OutboundMessage.Channel.EMAIL:
            email = EmailMultiAlternatives(message.subject, message.body, None, [message.to])
            if message.html_body:
                email.attach_alternative(message.html_body, "text/html")
            email.send()
        else:
            sms.send_sms(phone=message.to, text=message.body)
    except (OSError, sms.SmsDeliveryError) as exc:
        raise DeliveryError(type(exc).__name__) from exc


def mark(message: OutboundMessage, state: str) -> None:
    """Release a claimed message: sent, failed for good, or queued again for a retry."""
    fields = {"state": state, "started_at": None}
    if state == OutboundMessage.State.SENT:
        fields["sent_at"] = timezone.now()
    elif state == OutboundMessage.State.QUEUED:
        fields["queued_at"] = timezone.now()
    OutboundMessage.objects.filter(pk=message.pk, state=OutboundMessage.State.SENDING).update(**fields)


def purge_sent(*, now: dt.datetime | None = None) -> int:
    """Delete messages sent more than KEEP_SENT ago; returns how many."""
    cutoff = (now or timezone.now()) - KEEP_SENT
    deleted, _ = OutboundMessage.objects.filter(state=OutboundMessage.State.SENT, sent_at__lt=cutoff).delete()
    return deleted
