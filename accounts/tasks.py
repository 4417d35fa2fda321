"""Delivery of notifications (not one-time codes: those must arrive now or be re-requested).

A slow or failing gateway neither delays the request that caused the message (at lockout that
delay would even tell a real account from an unknown SNILS) nor loses the message: the worker
retries with backoff. Messages are rows of the outbox (accounts.outbox, send_message); deliver_sms
and deliver_email carry their text in the task itself and remain for tasks queued before the outbox.
"""

import logging

from celery import shared_task
from django.core.mail import send_mail

from . import outbox, sms
from .models import OutboundMessage

logger = logging.getLogger(__name__)

MAX_RETRIES = 6


def _backoff(retries: int) -> int:
    return min(900, 30 * 2**retries)


DELIVERY = {"bind": True, "max_retries": MAX_RETRIES, "acks_late": True, "time_limit": 60, "soft_time_limit": 50}


@shared_task(name="accounts.deliver_sms", **DELIVERY)
def deliver_sms(self, phone: str, text: str) -> None:
    try:
        sms.send_sms(phone=phone, text=text)
    except sms.SmsDeliveryError as exc:
        if self.request.is_eager:  # no worker to retry later: the page must not fail
            logger.warning("notification SMS not delivered (inline mode)")
            return
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(name="accounts.deliver_email", **DELIVERY)
def deliver_email(self, to: str, subject: str, body: str) -> None:
    try:
        send_mail(subject, body, None, [to])
    except OSError as exc:
        if self.request.is_eager:
            logger.warning("notification e-mail not delivered (inline mode)")
            return
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(name="accounts.send_message", **DELIVERY)
def send_message(self, message_id: str) -> str:
    """Send one outbox message (accounts.outbox): claimed first, so a duplicate delivery sends nothing."""

    message = outbox.claim(int(message_id))
    if message is None:
        return "skipped"
    try:
        outbox.deliver(message)
    except outbox.DeliveryError as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            # Inline mode has no worker to retry later: the page must not fail. Out of retries: failed
            # for good (staff see it in admin); inline it stays queued for the reconciler.
            state = OutboundMessage.State.QUEUED if self.request.is_eager else OutboundMessage.State.FAILED
            outbox.mark(message, state)
            logger.warning("%s %s not delivered: %s", message.channel, message.pk, exc)
            return "failed"
        outbox.mark(message, OutboundMessage.State.QUEUED)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    outbox.mark(message, OutboundMessage.State.SENT)
    return "sent"


@shared_task(name="accounts.purge_sent_messages")
def purge_sent_messages() -> int:

    return outbox.purge_sent()
