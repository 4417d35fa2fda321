"""REST API v1: thin views over api.selectors; public scope by default, partner scopes add fields.

Every parameter is cleaned by the validation layer (api.parameters over registry.search.params), which also
writes the parameters into the OpenAPI schema (api.rest.schema.apply_parameters).

Every response that carries protected data of workers is written to the audit journal, one
entry per worker, in one INSERT per page.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from core.http import client_ip
from core.models import AuditEntry
from registry import selectors as registry_selectors
from registry.models import MedicalOrganization, WorkerTombstone
from registry.search import params

from .. import parameters, selectors
from ..authentication import request_token
from ..pagination import KeysetPagination, next_link
from .errors import check_query_length, param_errors
from .serializers import (
    PERSONAL_FIELDS,
    AdmissionDocumentSerializer,
    DirectoryEntrySerializer,
    DirectorySerializer,
    ErrorSerializer,
    LicenseSerializer,
    OrganizationDetailSerializer,
    OrganizationSerializer,
    WarningSerializer,
    WorkerDetailSerializer,
    WorkerSerializer,
    WorkerTombstoneSerializer,
    change_representations,
)

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid parameter; `field` names it."),
    401: OpenApiResponse(ErrorSerializer, description="Invalid or revoked token."),
    404: OpenApiResponse(ErrorSerializer, description="Not found."),
    414: OpenApiResponse(ErrorSerializer, description="Query string over 16 KiB."),
    429: OpenApiResponse(ErrorSerializer, description="Rate limit exceeded."),
    500: OpenApiResponse(ErrorSerializer, description="Server error; the message gives the request id."),
    503: OpenApiResponse(ErrorSerializer, description="Database unavailable for a moment; retry later."),
}
LIST_ERRORS = {k: v for k, v in ERRORS.items() if k != 404}
WARNINGS_HELP = (
    "Present when a parameter is well formed but can match nothing (an identifier whose check digit "
    "does not match): the page is then empty."
)
CURSOR_HELP = (
    "Position after the last row of this page, also when `next` is null: pass it as `cursor` to resume "
    "the feed later without reading anything twice."
)


def paged(serializer, name: str, *, feed: bool = False):
    """The schema of a keyset page: `next` link (null on the last page), `results`, optional `warnings`;
    a changes feed adds the resumable `cursor`."""
    fields = {
        "next": serializers.URLField(allow_null=True),
        "warnings": WarningSerializer(many=True, required=False, help_text=WARNINGS_HELP),
        "results": serializer,
    }
    if feed:
        fields["cursor"] = serializers.CharField(help_text=CURSOR_HELP)
    return inline_serializer(name=f"{name}Page", fields=fields)


WORKER_PAGE = paged(WorkerSerializer(many=True), "Worker")
WORKER_CHANGES_PAGE = paged(
    PolymorphicProxySerializer(
        component_name="WorkerChange",
        serializers=[WorkerSerializer, WorkerTombstoneSerializer],
        resource_type_field_name=None,
        many=True,
    ),
    "WorkerChanges",
    feed=True,
)
ORGANIZATION_PAGE = paged(OrganizationSerializer(many=True), "Organization")
ORGANIZATION_CHANGES_PAGE = paged(OrganizationSerializer(many=True), "OrganizationChanges", feed=True)
LICENSE_PAGE = paged(LicenseSerializer(many=True), "License", feed=True)
DIRECTORYENTRY_PAGE = paged(DirectoryEntrySerializer(many=True), "DirectoryEntry")


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


def _clean(request, operation: str) -> params.Cleaned:
    check_query_length(request)
    try:
        return parameters.OPERATIONS[operation].clean(request.query_params)
    except params.ParamErrors as exc:
        raise param_errors(exc) from exc


def _warnings(cleaned: params.Cleaned) -> dict:
    return {"warnings": [{"code": w.code, "field": w.name, "message": w.message} for w in cleaned.warnings]}


def _page(request, operation: str, cleaned: params.Cleaned, qs, ordering, serializer_class):
    """(paginator, rows of this page, serialized rows) for a keyset page ordered by `ordering`."""
    cursor = parameters.OPERATIONS[operation]["cursor"]
    paginator = KeysetPagination(ordering, cursor, related=selectors.WORKER_RELATED)
    if cleaned.matches_nothing:
        qs = qs.none()
    size = cleaned.values.get("page_size", parameters.DEFAULT_PAGE_SIZE)
    rows = paginator.paginate(qs, request, after=cleaned.values.get("cursor"), size=size)
    return paginator, rows, serializer_class(rows, many=True, context=_context(request)).data


def _list_response(paginator, data, cleaned: params.Cleaned, **extra):
    if cleaned.warnings:
        extra.update(_warnings(cleaned))
    return paginator.get_paginated_response(data, **extra)


def _feed_cursor(paginator: KeysetPagination, rows: list, cleaned: params.Cleaned) -> str:
    """The resumable position: after the last row, or where the client already was."""
    if rows:
        return paginator.position(rows[-1])
    if "cursor" in cleaned.values:
        return paginator.cursor.encode(cleaned.values["cursor"])
    return paginator.cursor.encode([cleaned.values.get("updated_since") or selectors.FEED_START[0], 0])


@extend_schema(
    operation_id="workers_search",
    summary="Search workers",
    responses={200: WORKER_PAGE, **LIST_ERRORS},
    description="The public register search with the same parameters and validation. Sorted by name.",
)
@api_view(["GET"])
def worker_list(request):
    cleaned = _clean(request, "workers_search")
    qs, _fuzzy = selectors.worker_search(values=cleaned.values, name_ordered=True)
    paginator, page, data = _page(request, "workers_search", cleaned, qs, parameters.NAME_ORDER, WorkerSerializer)
    audit_partner_read(request, page, fields=_personal_fields(request))
    return _list_response(paginator, data, cleaned)


@extend_schema(
    operation_id="workers_changes",
    summary="Changes feed of workers",
    responses={200: WORKER_CHANGES_PAGE, **LIST_ERRORS},
    description="Workers changed at or after `updated_since`, oldest first, and workers that left the register "
    "(merged into another record or deleted) as tombstones with `deleted: true`. Keep the `cursor` of the "
    "last page and ask again with it: nothing is read twice, even among thousands of rows changed at the "
    "same moment.",
)
@api_view(["GET"])
def worker_changes(request):
    cleaned = _clean(request, "workers_changes")
    cursor = parameters.OPERATIONS["workers_changes"]["cursor"]
    size = cleaned.values.get("page_size", parameters.DEFAULT_PAGE_SIZE)
    rows, position, more = selectors.worker_changes_page(
        since=cleaned.values.get("updated_since"), after=cleaned.values.get("cursor"), size=size
    )
    data = change_representations(rows, _context(request))
    workers = [row for row in rows if not isinstance(row, WorkerTombstone)]
    audit_partner_read(request, workers, fields=_personal_fields(request))
    resume = cursor.encode(position)
    next_url = next_link(request, cursor.name, resume) if more else None
    return Response({"next": next_url, "cursor": resume, "results": data})


def _worker_or_404(registry_number: str):
    worker = selectors.worker_by_number(registry_number=registry_number)
    if worker is None:
        raise exceptions.NotFound()
    return worker


@extend_schema(
    operation_id="workers_retrieve",
    summary="Worker by registry number",
    responses={200: WorkerDetailSerializer, **ERRORS},
)
@api_view(["GET"])
def worker_detail(request, registry_number: str):
    worker = _worker_or_404(registry_number)
    worker.api_admissions = registry_selectors.worker_admissions(worker=worker)
    worker.api_workplaces = list(selectors.worker_current_employments(worker_ids=[worker.pk]))
    data = WorkerDetailSerializer(worker, context=_context(request)).data
    audit_partner_read(request, [worker], fields=_personal_fields(request))
    return Response(data)


@extend_schema(
    operation_id="workers_admission_documents",
    summary="Admission documents of a worker",
    responses={200: AdmissionDocumentSerializer(many=True), **ERRORS},
    description="Public: per specialty, the document that decides admission (as on the public profile). "
    "With the `documents` scope: every certificate and accreditation record with its number and issue date.",
)
@api_view(["GET"])
def worker_documents(request, registry_number: str):
    worker = _worker_or_404(registry_number)
    token = request_token(request)
    if token is not None and token.has_scope("documents"):
        documents = list(selectors.worker_documents(worker=worker))
        audit_partner_read(request, [worker], fields=("admission_documents.number", "admission_documents.issued_on"))
    else:
        # Public: what the profile shows, the document that decides admission in each specialty.
        documents = [a.document for a in registry_selectors.worker_admissions(worker=worker) if a.document]
    return Response(AdmissionDocumentSerializer(documents, many=True, context=_context(request)).data)


@extend_schema(
    operation_id="organizations_search",
    summary="Search organizations",
    responses={200: ORGANIZATION_PAGE, **LIST_ERRORS},
)
@api_view(["GET"])
def organization_list(request):
    cleaned = _clean(request, "organizations_search")
    qs = selectors.organization_search(values=cleaned.values)
    paginator, _, data = _page(
        request, "organizations_search", cleaned, qs, parameters.NAME_ORDER, OrganizationSerializer
    )
    return _list_response(paginator, data, cleaned)


@extend_schema(
    operation_id="organizations_changes",
    summary="Changes feed of organizations",
    responses={200: ORGANIZATION_CHANGES_PAGE, **LIST_ERRORS},
    description="Organizations changed at or after `updated_since`, oldest first; resume with `cursor`.",
)
@api_view(["GET"])
def organization_changes(request):
    cleaned = _clean(request, "organizations_changes")
    qs = selectors.organizations_changed_since(since=cleaned.values.get("updated_since"))
    paginator, rows, data = _page(
        request, "organizations_changes", cleaned, qs, parameters.CHANGES_ORDER, OrganizationSerializer
    )
    return _list_response(paginator, data, cleaned, cursor=_feed_cursor(paginator, rows, cleaned))


@extend_schema(
    operation_id="organizations_retrieve",
    summary="Organization with its licenses",
    responses={200: OrganizationDetailSerializer, **ERRORS},
)
@api_view(["GET"])
def organization_detail(request, pk: str):
    organization_id = params.clean_path(parameters.ORGANIZATION_ID, pk)
    org = (
        MedicalOrganization.objects.select_related("org_type", "region")
        .prefetch_related("licenses")
        .filter(pk=organization_id)
        .first()
        if organization_id is not None
        else None
    )
    if org is None:
        raise exceptions.NotFound()
    return Response(OrganizationDetailSerializer(org, context=_context(request)).data)


@extend_schema(
    operation_id="licenses_list",
    summary="Licenses of organizations",
    responses={200: LICENSE_PAGE, **LIST_ERRORS},
    description="Oldest change first, so the list is also the changes feed of licenses (`updated_since`, "
    "resume with `cursor`).",
)
@api_view(["GET"])
def license_list(request):
    cleaned = _clean(request, "licenses_list")
    qs = selectors.licenses(values=cleaned.values)
    paginator, rows, data = _page(request, "licenses_list", cleaned, qs, parameters.CHANGES_ORDER, LicenseSerializer)
    return _list_response(paginator, data, cleaned, cursor=_feed_cursor(paginator, rows, cleaned))


@extend_schema(
    operation_id="directories_list",
    summary="Directories (НСИ) with their OIDs",
    responses={200: DirectorySerializer(many=True), 429: ERRORS[429], 500: ERRORS[500], 503: ERRORS[503]},
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
        for name, model in parameters.DIRECTORIES.items()
    ]
    return Response(DirectorySerializer(data, many=True).data)


@extend_schema(
    operation_id="directories_entries",
    summary="Entries of one directory",
    responses={200: DIRECTORYENTRY_PAGE, **ERRORS},
)
@api_view(["GET"])
def directory_entries(request, name: str):
    model = parameters.DIRECTORIES.get(name)
    if model is None:
        raise exceptions.NotFound()
    cleaned = _clean(request, "directories_entries")
    paginator, _, data = _page(
        request, "directories_entries", cleaned, model.objects.all(), ("code",), DirectoryEntrySerializer
    )
    return _list_response(paginator, data, cleaned)


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
