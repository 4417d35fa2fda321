"""REST API v1: thin views over api.selectors; public scope by default, partner scopes add fields.

Every response that carries protected data of workers is written to the audit journal, one
entry per worker, in one INSERT per page.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from core import validators
from core.http import client_ip
from core.models import AuditEntry
from registry import selectors as registry_selectors
from registry.models import MedicalOrganization, OrganizationLicense

from .. import selectors
from ..authentication import request_token
from ..pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, KeysetPagination
from .errors import form_errors
from .serializers import (
    PERSONAL_FIELDS,
    AdmissionDocumentSerializer,
    DirectoryEntrySerializer,
    DirectorySerializer,
    ErrorSerializer,
    LicenseSerializer,
    OrganizationDetailSerializer,
    OrganizationSerializer,
    WorkerDetailSerializer,
    WorkerSerializer,
)

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid parameter; `field` names it."),
    401: OpenApiResponse(ErrorSerializer, description="Invalid or revoked token."),
    404: OpenApiResponse(ErrorSerializer, description="Not found."),
    429: OpenApiResponse(ErrorSerializer, description="Rate limit exceeded."),
}
LIST_ERRORS = {k: v for k, v in ERRORS.items() if k != 404}
PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from the `next` link of the previous page."),
    OpenApiParameter("page_size", int, description=f"1 to {MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}."),
]


def paged(serializer_class, name: str):
    """The schema of a keyset page: `next` link (null on the last page) and `results`."""
    return inline_serializer(
        name=f"{name}Page",
        fields={"next": serializers.URLField(allow_null=True), "results": serializer_class(many=True)},
    )


WORKER_KEY = ("search_name", "id")
CHANGES_KEY = ("updated_at", "id")


def _context(request) -> dict:
    return {"request": request, "token": request_token(request), "today": timezone.localdate()}


def audit_partner_read(request, workers, *, fields: tuple[str, ...]) -> None:
    """Journal a partner's read of protected data: whose, which fields, by which token."""
    token = request_token(request)
    if token is None or not workers or not fields:
        return
    ip = client_ip(request)
    agent = request.headers.get("user-agent", "")[:300]
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                event=AuditEntry.Event.DATA_VIEWED,
                subject_id=worker.user_id,
                ip=ip,
                user_agent=agent,
                object_type="medical_worker",
                object_id=worker.registry_number,
                details={
                    "partner_token": token.pk,
                    "partner": token.name,
                    "fields": list(fields),
                    "path": request.path,
                },
            )
            for worker in workers
        ]
    )


def _personal_fields(request) -> tuple[str, ...]:

    token = request_token(request)
    return PERSONAL_FIELDS if token is not None and token.has_scope("personal") else ()


def _paged(request, qs, key, serializer_class):
    """(paginator, rows of this page, serialized rows) for a keyset page ordered by `key`."""
    paginator = KeysetPagination(key, related=selectors.WORKER_RELATED)
    page = paginator.paginate_queryset(qs, request)
    data = serializer_class(page, many=True, context=_context(request)).data
    return paginator, page, data


def _since(request):
    raw = request.query_params.get("updated_since", "").strip()
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
        if value is None and len(raw) == 10:
            day = parse_date(raw)
            value = dt.datetime.combine(day, dt.time.min) if day else None
        if value is None:
            raise ValueError(raw)
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 and Python accept.
        return value.astimezone(dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise exceptions.ValidationError(
            {
                "updated_since": [
                    exceptions.ErrorDetail(
                        "Изменено после: дата-время в формате ISO 8601, например 2026-01-31T12:00:00+03:00.",
                        code="invalid",
                    )
                ]
            }
        ) from exc


WORKER_PAGE = paged(WorkerSerializer, "Worker")
ORGANIZATION_PAGE = paged(OrganizationSerializer, "Organization")
LICENSE_PAGE = paged(LicenseSerializer, "License")
DIRECTORYENTRY_PAGE = paged(DirectoryEntrySerializer, "DirectoryEntry")

SEARCH_PARAMETERS = [
    OpenApiParameter("q", str, description="Words of the full name or specialty, as on /registry/."),
    OpenApiParameter("specialty", str, description="Specialty code (directory 1.2.643.5.1.13.13.11.1066)."),
    OpenApiParameter("region", str, description="Two-digit region code."),
    OpenApiParameter("organization", int, description="Organization id: its current staff."),
    OpenApiParameter("status", str, enum=["active", "expiring", "expired", "suspended", "none"]),
    OpenApiParameter("category", str, description="Qualification category code."),
    OpenApiParameter("registered_from", OpenApiTypes.DATE),
    OpenApiParameter("registered_to", OpenApiTypes.DATE),
    OpenApiParameter("confirmed", bool),
    *PAGE_PARAMETERS,
]


@extend_schema(
    operation_id="workers_search",
    summary="Search workers",
    parameters=SEARCH_PARAMETERS,
    responses={200: WORKER_PAGE, **LIST_ERRORS},
    description="The public register search with the same parameters and validation. Sorted by name; "
    "`fuzzy` is true when nothing matched exactly and the typo-tolerant match was used.",
)
@api_view(["GET"])
def worker_list(request):
    qs, _fuzzy, form = selectors.worker_search(request.query_params, name_ordered=True)
    if qs is None:
        raise form_errors(form)
    paginator, page, data = _paged(request, qs, WORKER_KEY, WorkerSerializer)
    audit_partner_read(request, page, fields=_personal_fields(request))
    return paginator.get_paginated_response(data)


@extend_schema(
    operation_id="workers_changes",
    summary="Changes feed of workers",
    parameters=[
        OpenApiParameter(
            "updated_since", OpenApiTypes.DATETIME, description="Rows changed at or after this moment, oldest first."
        ),
        *PAGE_PARAMETERS,
    ],
    responses={200: WORKER_PAGE, **LIST_ERRORS},
    description="Ordered by (updated_at, id). Keep the last `updated_at` you processed and ask again from "
    "it (a small overlap is harmless: rows are identified by registry_number).",
)
@api_view(["GET"])
def worker_changes(request):
    paginator, page, data = _paged(
        request, selectors.workers_changed_since(_since(request)), CHANGES_KEY, WorkerSerializer
    )
    audit_partner_read(request, page, fields=_personal_fields(request))
    return paginator.get_paginated_response(data)


def _worker_or_404(registry_number: str):
    worker = selectors.worker_by_number(registry_number)
    if worker is None:
        raise exceptions.NotFound()
    return worker


# Ten digits: /workers/changes/ is the changes feed, never a worker (the schema says so, so clients and
# contract tests do not take "changes" for a registry number).
REGISTRY_NUMBER = OpenApiParameter(
    "registry_number", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=r"^\d{10}$",
    description="Registry number, 10 digits.",
)
ORGANIZATION_ID = OpenApiParameter("pk", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=r"^\d{1,18}$")


@extend_schema(
    operation_id="workers_retrieve",
    summary="Worker by registry number",
    parameters=[REGISTRY_NUMBER],
    responses={200: WorkerDetailSerializer, **ERRORS},
)
@api_view(["GET"])
def worker_detail(request, registry_number: str):
    worker = _worker_or_404(registry_number)
    worker.api_admissions = registry_selectors.worker_admissions(worker=worker)
    worker.api_workplaces = list(selectors.worker_current_employments([worker.pk]))
    data = WorkerDetailSerializer(worker, context=_context(request)).data
    audit_partner_read(request, [worker], fields=_personal_fields(request))
    return Response(data)


@extend_schema(
    operation_id="workers_admission_documents",
    summary="Admission documents of a worker",
    parameters=[REGISTRY_NUMBER],
    responses={200: AdmissionDocumentSerializer(many=True), **ERRORS},
    description="Public: per specialty, the document that decides admission (as on the public profile). "
    "With the `documents` scope: every certificate and accreditation record with its number and issue date.",
)
@api_view(["GET"])
def worker_documents(request, registry_number: str):
    worker = _worker_or_404(registry_number)
    token = request_token(request)
    if token is not None and token.has_scope("documents"):
        documents = list(selectors.worker_documents(worker))
        audit_partner_read(request, [worker], fields=("admission_documents.number", "admission_documents.issued_on"))
    else:
        # Public: what the profile shows, the document that decides admission in each specialty.
        documents = [a.document for a in registry_selectors.worker_admissions(worker=worker) if a.document]
    return Response(AdmissionDocumentSerializer(documents, many=True, context=_context(request)).data)


@extend_schema(
    operation_id="organizations_search",
    summary="Search organizations",
    parameters=[
        OpenApiParameter("q", str, description="Words of the short name."),
        OpenApiParameter("region", str),
        OpenApiParameter("status", str, enum=list(MedicalOrganization.Status.values)),
        OpenApiParameter("ogrn", str),
        OpenApiParameter("inn", str),
        *PAGE_PARAMETERS,
    ],
    responses={200: ORGANIZATION_PAGE, **LIST_ERRORS},
)
@api_view(["GET"])
def organization_list(request):
    _check_choice(request, "status", MedicalOrganization.Status.values)
    qs = selectors.organization_search(request.query_params)
    paginator, _, data = _paged(request, qs, ("search_name", "id"), OrganizationSerializer)
    return paginator.get_paginated_response(data)


@extend_schema(
    operation_id="organizations_changes",
    summary="Changes feed of organizations",
    parameters=[OpenApiParameter("updated_since", OpenApiTypes.DATETIME), *PAGE_PARAMETERS],
    responses={200: ORGANIZATION_PAGE, **LIST_ERRORS},
)
@api_view(["GET"])
def organization_changes(request):
    qs = MedicalOrganization.objects.select_related("org_type", "region")
    since = _since(request)
    if since:
        qs = qs.filter(updated_at__gte=since)
    paginator, _, data = _paged(request, qs, CHANGES_KEY, OrganizationSerializer)
    return paginator.get_paginated_response(data)


@extend_schema(
    operation_id="organizations_retrieve",
    summary="Organization with its licenses",
    parameters=[ORGANIZATION_ID],
    responses={200: OrganizationDetailSerializer, **ERRORS},
)
@api_view(["GET"])
def organization_detail(request, pk: str):
    if not validators.is_digits(pk, max_length=18):
        raise exceptions.NotFound()
    org = (
        MedicalOrganization.objects.select_related("org_type", "region")
        .prefetch_related("licenses")
        .filter(pk=pk)
        .first()
    )
    if org is None:
        raise exceptions.NotFound()
    return Response(OrganizationDetailSerializer(org, context=_context(request)).data)


def _check_choice(request, name, allowed):
    value = request.query_params.get(name)
    if value and value not in allowed:
        raise exceptions.ValidationError(
            {
                name: [
                    exceptions.ErrorDetail(
                        f"{name}: допустимые значения — {', '.join(allowed)}.", code="invalid_choice"
                    )
                ]
            }
        )


def _check_int(request, name):
    value = request.query_params.get(name)
    if value and not (validators.is_digits(value, max_length=18) and int(value) > 0):
        raise exceptions.ValidationError(
            {name: [exceptions.ErrorDetail(f"{name}: целое положительное число.", code="invalid")]}
        )


@extend_schema(
    operation_id="licenses_list",
    summary="Licenses of organizations",
    parameters=[
        OpenApiParameter("organization", int),
        OpenApiParameter("status", str, enum=list(OrganizationLicense.Status.values)),
        OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description="Changes feed, oldest first."),
        *PAGE_PARAMETERS,
    ],
    responses={200: LICENSE_PAGE, **LIST_ERRORS},
)
@api_view(["GET"])
def license_list(request):
    _check_choice(request, "status", OrganizationLicense.Status.values)
    _check_int(request, "organization")
    qs = selectors.licenses(request.query_params)
    key = ("id",)
    if "updated_since" in request.query_params:  # the changes feed of licenses
        since = _since(request)
        qs = qs.filter(updated_at__gte=since) if since else qs
        key = CHANGES_KEY
    paginator, _, data = _paged(request, qs, key, LicenseSerializer)
    return paginator.get_paginated_response(data)


@extend_schema(
    operation_id="directories_list",
    summary="Directories (НСИ) with their OIDs",
    responses={200: DirectorySerializer(many=True)},
)
@api_view(["GET"])
def directory_list(request):
    data = [
        {
            "name": name,
            "title": str(model._meta.verbose_name_plural),
            "oid": model.OID,
            "url": request.build_absolute_uri(f"{request.path}{name}/"),
        }
        for name, model in selectors.DIRECTORIES.items()
    ]
    return Response(DirectorySerializer(data, many=True).data)


@extend_schema(
    operation_id="directories_entries",
    summary="Entries of one directory",
    parameters=PAGE_PARAMETERS,
    responses={200: DIRECTORYENTRY_PAGE, **ERRORS},
)
@api_view(["GET"])
def directory_entries(request, name: str):
    model = selectors.DIRECTORIES.get(name)
    if model is None:
        raise exceptions.NotFound()
    paginator, _, data = _paged(request, model.objects.all(), ("code",), DirectoryEntrySerializer)
    return paginator.get_paginated_response(data)


@extend_schema(exclude=True)
@api_view(["GET"])
def not_found(request, path=""):
    """Any other path under /api/: a JSON 404 like every API error, not the HTML page."""
    raise exceptions.NotFound()


@extend_schema(exclude=True)
@api_view(["GET"])
def api_root(request):
    return Response(
        {
            "workers": request.build_absolute_uri("workers/"),
            "worker_changes": request.build_absolute_uri("workers/changes/"),
            "organizations": request.build_absolute_uri("organizations/"),
            "organization_changes": request.build_absolute_uri("organizations/changes/"),
            "licenses": request.build_absolute_uri("licenses/"),
            "directories": request.build_absolute_uri("directories/"),
            "schema": request.build_absolute_uri("/api/schema/"),
            "docs": request.build_absolute_uri("/api/docs/"),
            "fhir": request.build_absolute_uri("/fhir/metadata"),
        }
    )
