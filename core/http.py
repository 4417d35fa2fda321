"""The client's address as the request carries it."""

from __future__ import annotations


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites it;
    # core.middleware.TrustedProxyMiddleware puts the real address into REMOTE_ADDR behind a known proxy.
    return request.META.get("REMOTE_ADDR") if request is not None else None
