import logging
import sys

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.views.login import login_next_pop
from api.fhir.views import server_error_outcome
from api.rest.errors import server_error_response
from orgs import selectors as org_selectors
from portal.celery import app
from registry import selectors

logger = logging.getLogger(__name__)


def admin_login_redirect(request):
    target = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("admin:index")
    return redirect_to_login(target)


def _staff_landing(request, user, next_url: str | None) -> str | None:
    if not user.is_staff:
        return None
    # Staff sent to the login from an admin page go back to it; anywhere else, the desk.
    admin_root = reverse("admin:index")
    return next_url if next_url and next_url.startswith(admin_root) else admin_root


def _org_landing(request, user, next_url: str | None) -> str | None:
    """A person acting for an organization lands in its cabinet; serving several, they choose one."""
    memberships = org_selectors.memberships_of(user=user)
    if not memberships:
        return None
    if next_url:
        return next_url
    if len(memberships) == 1:
        request.session[org_selectors.SESSION_KEY] = memberships[0].organization_id
        return reverse("orgs:staff")
    return reverse("orgs:choose")


def _worker_landing(request, user, next_url: str | None) -> str | None:
    return next_url or reverse("verification:cabinet")


# Tried in order; the first rule that answers decides. A new kind of user gets a rule above the worker's.
LANDING_RULES = (_staff_landing, _org_landing, _worker_landing)


def after_login_url(request, user) -> str:
    """Where a finished login (one-time code or certificate) lands: settings.LOGIN_LANDING."""
    next_url = login_next_pop(request)
    for rule in LANDING_RULES:
        target = rule(request, user, next_url)
        if target:
            return target
    return reverse("portal:landing")


@require_GET
def landing(request):
    return render(request, "portal/landing.html", {"stats": selectors.registry_stats()})


@never_cache
@require_GET
def healthz(request):
    """Liveness and readiness for the load balancer: the database and, if configured, the broker."""
    checks: dict[str, str] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception:  # any driver error means "not ready"; details go to the log only
        logger.exception("healthz: database check failed")
        checks["database"] = "error"
        healthy = False
    if settings.CELERY_BROKER_URL:
        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception:
            logger.exception("healthz: broker check failed")
            checks["broker"] = "error"
            healthy = False
    else:
        checks["broker"] = "inline"
    try:
        cache.set("healthz", "1", 5)
        checks["cache"] = "ok" if cache.get("healthz") == "1" else "error"
    except Exception:
        logger.exception("healthz: cache check failed")
        checks["cache"] = "error"
    healthy = healthy and checks["cache"] == "ok"
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)


def _machine_error(request, status: int, exc: BaseException | None = None):
    """The API's JSON envelope or FHIR's OperationOutcome for an error raised outside their views (in a
    middleware, or by Django itself); None for the other pages."""
    path = getattr(request, "path", "")
    if path.startswith("/api/"):
        return server_error_response(request, exc, status=status)
    if path.startswith("/fhir/"):
        return server_error_outcome(request, exc, status=status)
    return None


def bad_request(request, exception):
    return _machine_error(request, 400) or defaults.bad_request(request, exception)


def permission_denied(request, exception):
    return _machine_error(request, 403) or defaults.permission_denied(request, exception)


def server_error(request):
    """The 500 page with the request id, so a user can quote it to support. Rendered without the
    request context: nothing here may touch the database or the session, which may be what failed.
    Under /api/ and /fhir/ the answer is their JSON (a database that cannot be reached: 503)."""
    # Django calls this handler inside its except block, so the exception is still the current one.
    machine = _machine_error(request, 500, sys.exc_info()[1])
    if machine is not None:
        return machine
    request_id = getattr(request, "request_id", "")
    return HttpResponseServerError(loader.get_template("500.html").render({"request_id": request_id}))
