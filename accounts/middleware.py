"""Session clocks: 30 minutes idle, 12 hours absolute, whatever the cookie says."""

import time

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.views import redirect_to_login

from core.audit import audit_record
from core.models import AuditEntry

from . import services

# Writing the session on every request would turn each page view into a database write;
# the last-seen time only needs minute precision for a 30-minute limit.
LAST_SEEN_RESOLUTION = 60


class SessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            session = request.session
            auth_at = session.get(services.SESSION_AUTH_AT, now)
            last_seen = session.get(services.SESSION_LAST_SEEN, now)
            idle = now - last_seen > settings.SESSION_IDLE_TIMEOUT
            if idle or now - auth_at > settings.SESSION_COOKIE_AGE:
                audit_record(
                    event=AuditEntry.Event.SESSION_EXPIRED,
                    subject=user,
                    actor=user,
                    request=request,
                    details={"reason": "idle" if idle else "absolute"},
                )
                auth.logout(request)
                messages.info(request, "Сеанс завершён из-за долгого бездействия. Войдите снова.")
                return redirect_to_login(request.get_full_path())
            if now - last_seen >= LAST_SEEN_RESOLUTION:
                session[services.SESSION_LAST_SEEN] = now
        return self.get_response(request)
