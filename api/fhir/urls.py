from django.urls import path, re_path

from . import views as fhir

app_name = "fhir"

urlpatterns = [
    path("metadata", fhir.metadata, name="metadata"),
    path("Practitioner", fhir.practitioner_search, name="practitioner-search"),
    path("Practitioner/<str:registry_number>", fhir.practitioner_read, name="practitioner-read"),
    path("PractitionerRole", fhir.practitioner_role_search, name="practitioner-role-search"),
    path("PractitionerRole/<str:pk>", fhir.practitioner_role_read, name="practitioner-role-read"),
    path("Organization", fhir.organization_search, name="organization-search"),
    path("Organization/<str:pk>", fhir.organization_read, name="organization-read"),
    path("CodeSystem", fhir.code_system_search, name="codesystem-search"),
    path("CodeSystem/<str:name>", fhir.code_system_read, name="codesystem-read"),
    re_path(r"^(?P<path>.*)$", fhir.not_supported, name="not-supported"),
]
