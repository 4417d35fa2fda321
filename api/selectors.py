"""Reads for the API and the FHIR view; list queries are one SELECT with their joins."""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.db.models import Q, QuerySet

from core import validators
from registry.models import (
    DIRECTORY_MODELS,
    AdmissionDocument,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    OrganizationLicense,
)
from registry.search import engine as search

# The public search form's own parameters; paging is the API's cursor instead.
SEARCH_PARAMS = (
    "q",
    "specialty",
    "region",
    "organization",
    "status",
    "category",
    "registered_from",
    "registered_to",
    "confirmed",
)
DIRECTORIES = {model._meta.model_name: model for model in DIRECTORY_MODELS}
WORKER_RELATED = ("primary_specialty", "region", "category")


def worker_search(
    params, *, name_ordered: bool = False
) -> tuple[QuerySet[MedicalWorker] | search.NameOrderedResult | None, bool, forms.Form]:
    """The public register search (registry.search.engine) with the same parameters and validation.

    `name_ordered`: the caller pages in name order and filters nothing further, so a name search may
    come back as the fast self-paging source (registry.search.engine.NameOrderedResult, see KeysetPagination).
    """
    data = {name: params.get(name) for name in SEARCH_PARAMS if params.get(name) not in (None, "")}
    form = search.SearchForm(data)
    if not form.is_valid():
        return None, False, form
    result = search.worker_search(form.cleaned_data)
    if name_ordered and result.by_name is not None:
        # Name order through the name indexes (the page the public search uses), not LIKE over 3M rows.
        return result.by_name, bool(result.corrected), form
    return result.queryset.select_related(*WORKER_RELATED), bool(result.corrected), form


def workers_changed_since(since: dt.datetime | None) -> QuerySet[MedicalWorker]:
    qs = MedicalWorker.objects.select_related(*WORKER_RELATED)
    return qs.filter(updated_at__gte=since) if since else qs


def worker_by_number(registry_number: str) -> MedicalWorker | None:
    if not validators.is_digits(registry_number, length=10):
        return None
    return MedicalWorker.objects.select_related(*WORKER_RELATED).filter(registry_number=registry_number).first()


def worker_current_employments(worker_ids) -> QuerySet[Employment]:
    return (
        Employment.objects.filter(worker_id__in=worker_ids, ended_on__isnull=True)
        .select_related("organization", "organization__region", "position", "specialty")
        .order_by("worker_id", "kind", "-rate", "id")
    )


def worker_documents(worker: MedicalWorker) -> QuerySet[AdmissionDocument]:
    return worker.admission_documents.select_related("specialty", "accreditation_kind").order_by("-valid_until", "id")


def organization_search(params) -> QuerySet[MedicalOrganization]:
    qs = MedicalOrganization.objects.select_related("org_type", "region")
    for token in search.query_tokens(params.get("q", "")):
        qs = qs.filter(Q(search_name__startswith=token) | Q(search_name__contains=f" {token}"))
    if params.get("region"):
        qs = qs.filter(region__code=params["region"])
    if params.get("status"):
        qs = qs.filter(status=params["status"])
    if params.get("ogrn"):
        qs = qs.filter(ogrn=re.sub(r"\D", "", params["ogrn"]))
    if params.get("inn"):
        qs = qs.filter(inn=re.sub(r"\D", "", params["inn"]))
    return qs


def licenses(params) -> QuerySet[OrganizationLicense]:
    qs = OrganizationLicense.objects.all()
    if params.get("organization"):
        qs = qs.filter(organization_id=params["organization"])
    if params.get("status"):
        qs = qs.filter(status=params["status"])
    return qs
