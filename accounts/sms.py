"""Pluggable SMS delivery, shaped like Django's e-mail backends.

settings.SMS_BACKEND names the class. Console prints, Database keeps an outbox that staff read
in admin (development and demo), Locmem keeps messages in `outbox` (tests), HttpGateway posts
JSON to an SMS provider with a timeout (production).
"""

from __future__ import annotations

import json
import logging
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from .models import SmsOutbox

logger = logging.getLogger(__name__)


class SmsDeliveryError(Exception):
    """The message could not be handed to the provider; the caller decides whether to retry."""


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str


class BaseBackend:
    def send(self, message: SmsMessage) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    def send(self, message: SmsMessage) -> None:
        sys.stdout.write(f"SMS to {message.phone}: {message.text}\n")
        sys.stdout.flush()


class DatabaseBackend(BaseBackend):
    """Development and demo: keep the message in the SmsOutbox table (staff see it in admin)
    and print it, so a developer can log in without a real SMS gateway."""

    def send(self, message: SmsMessage) -> None:

        SmsOutbox.objects.create(phone=message.phone, text=message.text)
        ConsoleBackend().send(message)


outbox: list[SmsMessage] = []


class LocmemBackend(BaseBackend):
    def send(self, message: SmsMessage) -> None:
        outbox.append(message)


class HttpGatewayBackend(BaseBackend):
    """POST {"phone", "text"} with a bearer token to SMS_GATEWAY_URL."""

    timeout_seconds = 10

    def send(self, message: SmsMessage) -> None:
        url = settings.SMS_GATEWAY_URL
        if not url.startswith(("https://", "http://")):
            raise SmsDeliveryError("SMS_GATEWAY_URL is not an http(s) URL")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url,
            data=json.dumps({"phone": message.phone, "text": message.text}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {settings.SMS_GATEWAY_TOKEN}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                if response.status >= 300:
                    raise SmsDeliveryError(f"gateway answered {response.status}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            # The text holds a one-time code: log the failure, never the message.
            logger.warning("SMS gateway unreachable: %s", type(exc).__name__)
            raise SmsDeliveryError(str(exc)) from exc


def get_backend() -> BaseBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(*, phone: str, text: str) -> None:
    get_backend().send(SmsMessage(phone=phone, text=text))
