from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

admin.site.site_header = "Медрег — служба поддержки"
admin.site.site_title = "Медрег"
admin.site.index_title = "Администрирование регистра"

portal_patterns = (
    [
        path("", views.landing, name="landing"),
    ],
    "portal",
)

urlpatterns = [
    path("", include(portal_patterns)),
    # The admin's own login form checks only a password; staff go through the two-factor login.
    path("admin/login/", views.admin_login_redirect),
    # Staff change their own password on the security page, where it is journaled and ends other sessions.
    path("admin/password_change/", RedirectView.as_view(pattern_name="accounts:security")),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("support/", include("support.urls")),
    path("registry/", include("registry.urls")),
    path("cabinet/", include("verification.urls")),
    path("org/", include("orgs.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("api.rest.urls")),
    path("fhir/", include("api.fhir.urls")),
    path("", include("api.extracts.urls")),
]

# The 500 page shows the request id (core.middleware.RequestIdMiddleware). Under /api/ and /fhir/ these
# handlers answer JSON (an error envelope, an OperationOutcome).
handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler500 = "portal.views.server_error"
