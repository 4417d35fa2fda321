"""Delivery of notifications (not one-time codes: those must arrive now or be re-requested).

A slow or failing gateway neither delays the request that caused the message (at lockout that
delay would even tell a real account from an unknown SNILS) nor loses the message: the worker
retries with backoff. Delivery is at-least-once; a retried SMS may in rare cases arrive twice.
"""

import logging

from celery import shared_task
from django.core.mail import send_mail

from . import sms

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
