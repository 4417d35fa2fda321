from csp.decorators import csp_update
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import employment, views

app_name = "api"

urlpatterns = [
    path("v1/", views.api_root, name="root"),
    path("v1/workers/", views.worker_list, name="worker-list"),
    path("v1/workers/changes/", views.worker_changes, name="worker-changes"),
    path("v1/workers/<str:registry_number>/", views.worker_detail, name="worker-detail"),
    path("v1/workers/<str:registry_number>/admission-documents/", views.worker_documents, name="worker-documents"),
    path("v1/organizations/", views.organization_list, name="organization-list"),
    path("v1/organizations/changes/", views.organization_changes, name="organization-changes"),
    path("v1/organizations/<str:pk>/", views.organization_detail, name="organization-detail"),
    path("v1/organizations/<str:pk>/employments/", employment.employment_hire, name="employment-hire"),
    path("v1/employments/<str:pk>/transfer/", employment.employment_transfer, name="employment-transfer"),
    path("v1/employments/<str:pk>/rate/", employment.employment_rate, name="employment-rate"),
    path("v1/employments/<str:pk>/dismiss/", employment.employment_dismiss, name="employment-dismiss"),
    path("v1/licenses/", views.license_list, name="license-list"),
    path("v1/directories/", views.directory_list, name="directory-list"),
    path("v1/directories/<str:name>/", views.directory_entries, name="directory-entries"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up code as a script file, so the page needs no inline
    # script under our CSP; Swagger UI sets inline styles, allowed on this page only. (ReDoc is not
    # offered: its page loads Google fonts and injects style elements.)
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),
]
