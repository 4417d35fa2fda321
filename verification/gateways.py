"""Gateways to the state registries that confirm a person: the tax service (ФНС) by INN and the
social fund (СФР) by SNILS.

`StateRegistryGateway` is the interface the checks use. Two implementations:

* `ReferenceTableGateway` — the default, a STAND-IN for the real services: it answers from the
  `StateRegistryReference` table that `seed_demo` and `manage.py import_state_registry` fill.
  It exists so the whole verification flow works on a laptop and in tests; it proves nothing
  about a real person.
* `HttpStateRegistryGateway` — the production extension point: a JSON-over-HTTPS client with a
  timeout and retries with backoff (settings.STATE_REGISTRY_URL, STATE_REGISTRY_TOKEN). The
  adapter in front of СМЭВ answers `GET {url}/tax/{inn}` and `GET {url}/social-fund/{snils}` with
  `{"last_name", "first_name", "middle_name", "birth_date": "YYYY-MM-DD", "linked_key"}` or 404.

A gateway that cannot answer raises `GatewayUnavailable`; the caller retries later and, after
the last retry, hands the application to staff. It never counts as a pass.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from .models import StateRegistryReference

logger = logging.getLogger(__name__)


class GatewayUnavailable(Exception):
    """The registry did not answer (timeout, network error, 5xx, malformed answer)."""


@dataclass(frozen=True)
class PersonRecord:
    last_name: str
    first_name: str
    middle_name: str
    birth_date: dt.date
    linked_key: str = ""


class StateRegistryGateway(Protocol):
    def tax_lookup(self, *, inn: str) -> PersonRecord | None: ...

    def social_fund_lookup(self, *, snils: str) -> PersonRecord | None: ...


class ReferenceTableGateway:
    """Stand-in for ФНС and СФР: reads the StateRegistryReference table (see module docstring)."""

    def _lookup(self, source: str, key: str) -> PersonRecord | None:

        row = StateRegistryReference.objects.filter(source=source, key=key).first()
        if row is None:
            return None
        return PersonRecord(row.last_name, row.first_name, row.middle_name, row.birth_date, row.linked_key)

    def tax_lookup(self, *, inn: str) -> PersonRecord | None:
        return self._lookup("tax", inn)

    def social_fund_lookup(self, *, snils: str) -> PersonRecord | None:
        return self._lookup("social_fund", snils)


class HttpStateRegistryGateway:
    """Production client: every call has a timeout; network errors and 5xx are retried with
    exponential backoff, then raise GatewayUnavailable. 404 means "no such person"."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        backoff: float | None = None,
    ):
        self.base_url = (base_url if base_url is not None else settings.STATE_REGISTRY_URL).rstrip("/")
        self.token = token if token is not None else settings.STATE_REGISTRY_TOKEN
        self.timeout = timeout if timeout is not None else settings.STATE_REGISTRY_TIMEOUT
        self.retries = retries if retries is not None else settings.STATE_REGISTRY_RETRIES
        self.backoff = backoff if backoff is not None else 0.5
        if not self.base_url.startswith(("https://", "http://")):
            raise GatewayUnavailable("STATE_REGISTRY_URL must be an http(s) URL")

    def _get(self, path: str) -> dict | None:
        # The scheme is checked in __init__ (http/https only).
        request = urllib.request.Request(f"{self.base_url}{path}", headers={"Accept": "application/json"})  # noqa: S310
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        last_error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - scheme checked in __init__
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                if exc.code < 500:
                    raise GatewayUnavailable(f"state registry refused the request: HTTP {exc.code}") from exc
                last_error = exc
            except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
                last_error = exc
            logger.warning("state registry %s attempt %s failed: %s", path, attempt + 1, last_error)
        raise GatewayUnavailable(f"state registry unavailable: {last_error}")

    def _record(self, data: dict | None) -> PersonRecord | None:
        if data is None:
            return None
        try:
            return PersonRecord(
                last_name=str(data["last_name"]),
                first_name=str(data["first_name"]),
                middle_name=str(data.get("middle_name") or ""),
                birth_date=dt.date.fromisoformat(data["birth_date"]),
                linked_key=str(data.get("linked_key") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayUnavailable(f"malformed answer from the state registry: {exc}") from exc

    def tax_lookup(self, *, inn: str) -> PersonRecord | None:
        return self._record(self._get(f"/tax/{inn}"))

    def social_fund_lookup(self, *, snils: str) -> PersonRecord | None:
        return self._record(self._get(f"/social-fund/{snils}"))


def get_gateway() -> StateRegistryGateway:
    """The gateway named by settings.VERIFICATION_GATEWAY (a dotted class path)."""
    return import_string(settings.VERIFICATION_GATEWAY)()
