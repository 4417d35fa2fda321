"""Per-token (and, without a token, per-IP) request limits, counted in the Django cache."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from core import ratelimit

from .authentication import request_token

PERIOD = 60


class PartnerRateThrottle(BaseThrottle):
    """Fixed one-minute window: a token's own rate_per_minute, else API_ANON_RATE_PER_MINUTE per IP."""

    wait_seconds: int | None = None

    def allow_request(self, request, view):
        token = request_token(request)
        if token is not None:
            limit, ident = token.rate_per_minute, f"token:{token.pk}"
        else:
            limit, ident = settings.API_ANON_RATE_PER_MINUTE, f"ip:{self.get_ident(request)}"
        if not limit:
            return True
        self.wait_seconds = ratelimit.hit(scope="api", ident=ident, limit=limit, period=PERIOD)
        return self.wait_seconds is None

    def wait(self):
        return self.wait_seconds
