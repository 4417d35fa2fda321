"""Partner tokens for the API: `Authorization: Bearer mr_<prefix>_<secret>`.

A request without the header is anonymous and gets the public scope; a wrong, malformed or
revoked token is refused (401), never silently downgraded to public.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import PartnerToken
from .services import partner_token_lookup

LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


class PartnerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header:
            return None
        if header[0].decode(errors="replace").lower() != self.keyword.lower() or len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Заголовок Authorization: ожидается «Bearer <токен>».", code="invalid_token"
            )
        token = partner_token_lookup(header[1].decode(errors="replace"))
        if token is None:
            raise exceptions.AuthenticationFailed("Токен недействителен или отозван.", code="invalid_token")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            # At most one write per token per few minutes, not one per request.
            PartnerToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return AnonymousUser(), token

    def authenticate_header(self, request):
        return 'Bearer realm="medreg"'


def request_token(request) -> PartnerToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, PartnerToken) else None


def has_scope(request, scope: str) -> bool:
    token = request_token(request)
    return token is not None and token.has_scope(scope)
