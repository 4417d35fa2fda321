"""Request ids and the security headers Django has no setting for."""

from __future__ import annotations

import ipaddress
import re
import uuid

from django.conf import settings
from django.core.signals import request_finished

from .logging import request_id_var

# Accepted from the reverse proxy (nginx's $request_id is 32 hex digits) so one id follows a request
# through proxy, web and worker logs; anything else is replaced, never echoed back, so a client
# cannot inject text into our logs or headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

DEFAULT_PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), fullscreen=(self), "
    "geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), "
    "picture-in-picture=(), publickey-credentials-get=(), usb=(), interest-cohort=()"
)


def request_id_from(request) -> str:
    candidate = request.headers.get("x-request-id", "")
    if candidate and _VALID_REQUEST_ID.match(candidate):
        return candidate
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives every request an id: in request.request_id, in each log record made while it is served
    (core.logging.RequestIdFilter), in the X-Request-ID response header and on the error pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request)
        # Not reset on the way out: Django logs 4xx/5xx responses (django.request) after the
        # middleware chain has returned; request_finished clears it once the response is sent.
        request_id_var.set(request.request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def _forget_request_id(**kwargs) -> None:
    request_id_var.set("-")


request_finished.connect(_forget_request_id, dispatch_uid="core.middleware.forget_request_id")


class SecurityHeadersMiddleware:
    """Permissions-Policy (no browser feature the portal does not use) and a same-origin
    Cross-Origin-Resource-Policy; Referrer-Policy, COOP and X-Frame-Options come from Django."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.permissions_policy = getattr(settings, "PERMISSIONS_POLICY", DEFAULT_PERMISSIONS_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", self.permissions_policy)
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        return response


class TrustedProxyMiddleware:
    """REMOTE_ADDR is the reverse proxy's address behind nginx (gunicorn does not rewrite it), so
    per-address rate limits and the journal would see one address for everybody. When the request
    comes from a proxy listed in settings.TRUSTED_PROXIES (addresses or networks), REMOTE_ADDR is
    replaced with the right-most X-Forwarded-For address that is not itself a trusted proxy. From
    anywhere else the header is ignored: a client cannot choose its own address."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.networks = [ipaddress.ip_network(item, strict=False) for item in getattr(settings, "TRUSTED_PROXIES", [])]

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, request):
        if self.networks and self._trusted(request.META.get("REMOTE_ADDR", "")):
            forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
            for address in reversed(forwarded):
                if not self._trusted(address):
                    try:
                        request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(address))
                    except ValueError:
                        pass  # garbage in the header: keep the proxy's address
                    break
        return self.get_response(request)
