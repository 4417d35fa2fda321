"""A read-only FHIR R4 view of the register: Practitioner, PractitionerRole, Organization,
the directories as CodeSystem, and the CapabilityStatement at /fhir/metadata.

Public by default, like the public page; a partner token with the `personal` scope also gets the
SNILS identifier, gender and birth date, may search by SNILS, and each such read is journaled.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, renderer_classes
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import validators
from registry import selectors as registry_selectors
from registry.models import (
    AdmissionDocument,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    OrganizationType,
    Position,
    Specialty,
)

from .. import selectors
from ..authentication import request_token
from ..pagination import KeysetPagination
from ..rest.views import audit_partner_read

FHIR_VERSION = "4.0.1"
SNILS_SYSTEM = "urn:oid:1.2.643.100.3"
INN_SYSTEM = "urn:oid:1.2.643.100.4"  # ИНН (OID of the tax number in Russian qualified certificates)
OGRN_SYSTEM = "urn:oid:1.2.643.100.1"
KPP_SYSTEM = "urn:oid:1.2.840.113549.1.9.2"
ADMISSION_STATUS_EXT = "admission-status"
DEFAULT_COUNT = 20
MAX_COUNT = 200


class FhirRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


def _base() -> str:
    return settings.SITE_URL.rstrip("/") + "/fhir"


def registry_system() -> str:
    return f"{_base()}/sid/registry-number"


def _oid(oid: str) -> str:
    return f"urn:oid:{oid}"


def _coding(entry, oid: str) -> dict:
    return {"system": _oid(oid), "code": entry.code, "display": entry.name}


def _concept(entry, oid: str) -> dict:
    return {"coding": [_coding(entry, oid)], "text": entry.name}


def _instant(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def _outcome(status: int, code: str, message: str, expression: str | None = None) -> Response:
    issue = {"severity": "error", "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return Response(
        {"resourceType": "OperationOutcome", "issue": [issue]}, status=status, content_type="application/fhir+json"
    )


class FhirError(exceptions.APIException):
    def __init__(self, status: int, code: str, message: str, expression: str | None = None):
        super().__init__(message)
        self.status_code, self.fhir_code, self.expression = status, code, expression


def fhir_exception_handler(exc, context):
    if isinstance(exc, FhirError):
        return _outcome(exc.status_code, exc.fhir_code, str(exc.detail), exc.expression)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = {401: "login", 403: "forbidden", 404: "not-found", 429: "throttled"}.get(response.status_code, "invalid")
    message = "Не найдено." if response.status_code == 404 else str(getattr(exc, "detail", exc))
    return _outcome(response.status_code, code, message)


def fhir_view(func):
    # Not part of the OpenAPI schema of /api/: FHIR has its own contract (CapabilityStatement).
    view = extend_schema(exclude=True)(api_view(["GET"])(renderer_classes([FhirRenderer, JSONRenderer])(func)))
    view.cls.get_exception_handler = lambda self: fhir_exception_handler
    return view


def _personal(request) -> bool:
    token = request_token(request)
    return token is not None and token.has_scope("personal")


def _documents(request) -> bool:
    token = request_token(request)
    return token is not None and token.has_scope("documents")


def _audit_fields(request) -> tuple[str, ...]:
    fields = ("snils", "inn", "gender", "birthDate") if _personal(request) else ()
    return fields + (("qualification.identifier", "qualification.period.start") if _documents(request) else ())


# --- Resources -------------------------------------------------------------------------------


def practitioner(worker: MedicalWorker, *, personal: bool, admissions=None, documents: bool = False) -> dict:
    given = [p for p in (worker.first_name, worker.middle_name) if p]
    resource = {
        "resourceType": "Practitioner",
        "id": worker.registry_number,
        "meta": {"lastUpdated": _instant(worker.updated_at)},
        "identifier": [{"use": "official", "system": registry_system(), "value": worker.registry_number}],
        "active": True,
        "name": [{"use": "official", "text": worker.full_name, "family": worker.last_name, "given": given}],
    }
    if personal:
        resource["identifier"].append({"use": "official", "system": SNILS_SYSTEM, "value": worker.snils})
        if worker.inn:
            resource["identifier"].append({"use": "secondary", "system": INN_SYSTEM, "value": worker.inn})
        resource["gender"] = "male" if worker.sex == MedicalWorker.Sex.MALE else "female"
        resource["birthDate"] = worker.birth_date.isoformat()
    qualifications = []
    for adm in admissions or []:
        item = {
            "code": _concept(adm.specialty, Specialty.OID),
            "extension": [
                {
                    "url": f"{_base()}/StructureDefinition/{ADMISSION_STATUS_EXT}",
                    "valueCoding": {
                        "system": f"{_base()}/CodeSystem/admission-status",
                        "code": adm.status.value,
                        "display": adm.status.label,
                    },
                }
            ],
        }
        if adm.document is not None:
            # The expiry is public (as on the profile); number and issue date need the documents scope.
            item["period"] = {"end": adm.valid_until.isoformat()}
            if documents:
                item["period"]["start"] = adm.document.issued_on.isoformat()
                item["identifier"] = [{"value": adm.document.number}]
        qualifications.append(item)
    if qualifications:
        resource["qualification"] = qualifications
    return resource


def practitioner_role(emp: Employment, worker_number: str) -> dict:
    resource = {
        "resourceType": "PractitionerRole",
        "id": str(emp.pk),
        "meta": {"lastUpdated": _instant(emp.updated_at)},
        "active": emp.ended_on is None,
        "period": {"start": emp.started_on.isoformat()},
        "practitioner": {"reference": f"Practitioner/{worker_number}"},
        "organization": {"reference": f"Organization/{emp.organization_id}", "display": emp.organization.short_name},
        "code": [_concept(emp.position, Position.OID)],
    }
    if emp.specialty_id:
        resource["specialty"] = [_concept(emp.specialty, Specialty.OID)]
    return resource


def organization(org: MedicalOrganization) -> dict:
    resource = {
        "resourceType": "Organization",
        "id": str(org.pk),
        "meta": {"lastUpdated": _instant(org.updated_at)},
        "identifier": [
            {"use": "official", "system": OGRN_SYSTEM, "value": org.ogrn},
            {"use": "secondary", "system": INN_SYSTEM, "value": org.inn},
        ],
        "active": org.status == MedicalOrganization.Status.ACTIVE,
        "name": org.short_name,
        "alias": [org.full_name] if org.full_name and org.full_name != org.short_name else [],
    }
    if org.kpp:
        resource["identifier"].append({"use": "secondary", "system": KPP_SYSTEM, "value": org.kpp})
    if org.org_type_id:
        resource["type"] = [_concept(org.org_type, OrganizationType.OID)]
    telecom = [
        {"system": s, "value": v, "use": "work"}
        for s, v in (("phone", org.phone), ("email", org.email), ("url", org.website))
        if v
    ]
    if telecom:
        resource["telecom"] = telecom
    address = {"use": "work", "country": "RU", "state": org.region.name}
    if org.address:
        address["text"] = org.address
    resource["address"] = [address]
    if not resource["alias"]:
        del resource["alias"]
    return resource


def code_system(name: str, model, *, with_concepts: bool = True) -> dict:
    resource = {
        "resourceType": "CodeSystem",
        "id": name,
        "url": _oid(model.OID),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": _oid(model.OID)}],
        "name": re.sub(r"\W", "", name.title()),
        "title": str(model._meta.verbose_name_plural).capitalize(),
        "status": "active",
        "content": "complete",
        "publisher": "Минздрав России (НСИ), подмножество, загруженное в Медрег",
    }
    if with_concepts:
        entries = list(model.objects.order_by("code").only("code", "name"))
        resource["count"] = len(entries)
        resource["concept"] = [{"code": e.code, "display": e.name} for e in entries]
    return resource


# --- Search plumbing -------------------------------------------------------------------------


def _count(request) -> int:
    raw = request.query_params.get("_count", "")
    if raw == "":
        return DEFAULT_COUNT
    if not validators.is_digits(raw, max_length=6) or not 1 <= int(raw) <= MAX_COUNT:
        raise FhirError(400, "invalid", f"_count: целое число от 1 до {MAX_COUNT}.", "_count")
    return int(raw)


def _bundle(request, resources: list[dict], next_cursor: str | None) -> dict:
    full = request.build_absolute_uri()
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": _instant(timezone.now()),
        "link": [{"relation": "self", "url": full}],
        "entry": [
            {
                "fullUrl": request.build_absolute_uri(f"/fhir/{r['resourceType']}/{r['id']}"),
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }
    if next_cursor:
        from rest_framework.utils.urls import replace_query_param

        bundle["link"].append({"relation": "next", "url": replace_query_param(full, "_cursor", next_cursor)})
    if not bundle["entry"]:
        del bundle["entry"]
    return bundle


def _page(request, qs, key):
    paginator = KeysetPagination(key, related=("primary_specialty", "region", "category"))
    paginator.cursor_query_param = "_cursor"
    paginator.page_size_query_param = "_count"
    try:
        _count(request)
        rows = paginator.paginate_queryset(qs, request)
    except exceptions.ValidationError as exc:
        raise FhirError(400, "invalid", "Недопустимый параметр поиска (_cursor или _count).") from exc
    return rows, paginator.next_cursor


def _token_param(value: str) -> tuple[str | None, str]:
    system, sep, code = value.partition("|")
    return (system, code) if sep else (None, value)


# --- Views -----------------------------------------------------------------------------------


@fhir_view
def metadata(request):
    def res(kind, params):
        return {
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": n, "type": t} for n, t in params],
        }

    return Response(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": timezone.localdate().isoformat(),
            "publisher": "Медрег",
            "kind": "instance",
            "software": {"name": "Медрег", "version": "1.0"},
            "implementation": {
                "description": "Регистр медицинских работников — FHIR R4 (только чтение)",
                "url": _base(),
            },
            "fhirVersion": FHIR_VERSION,
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "description": "Без токена — только общедоступные сведения. Токен информационной "
                        "системы (Authorization: Bearer) с областью personal открывает СНИЛС, "
                        "пол и дату рождения; каждое такое чтение записывается в журнал."
                    },
                    "resource": [
                        res(
                            "Practitioner",
                            [
                                ("name", "string"),
                                ("identifier", "token"),
                                ("specialty", "token"),
                                ("organization", "reference"),
                                ("_count", "number"),
                            ],
                        ),
                        res(
                            "PractitionerRole",
                            [
                                ("practitioner", "reference"),
                                ("organization", "reference"),
                                ("specialty", "token"),
                                ("_count", "number"),
                            ],
                        ),
                        res("Organization", [("name", "string"), ("identifier", "token"), ("_count", "number")]),
                        res("CodeSystem", [("url", "uri"), ("name", "string")]),
                    ],
                }
            ],
        },
        content_type="application/fhir+json",
    )


def _practitioners_with_admissions(workers):
    today = timezone.localdate()
    docs: dict[int, list] = {}
    for doc in AdmissionDocument.objects.filter(worker_id__in=[w.pk for w in workers]).select_related("specialty"):
        docs.setdefault(doc.worker_id, []).append(doc)
    result = []
    for worker in workers:
        by_spec: dict[int, list] = {}
        for doc in docs.get(worker.pk, []):
            by_spec.setdefault(doc.specialty_id, []).append(doc)
        admissions = []
        for group in by_spec.values():
            best = registry_selectors.best_document(documents=group, today=today)
            admissions.append(
                registry_selectors.SpecialtyAdmission(
                    best.specialty, best.admission_status(today), best.valid_until, best
                )
            )
        admissions.sort(key=lambda a: a.specialty.name)
        result.append((worker, admissions))
    return result


@fhir_view
def practitioner_search(request):
    params = request.query_params
    qs = MedicalWorker.objects.select_related("primary_specialty", "region", "category")
    search_data = {}
    if params.get("name"):
        search_data["q"] = params["name"]
    if params.get("specialty"):
        search_data["specialty"] = _token_param(params["specialty"])[1]
    if params.get("organization"):
        org = params["organization"].removeprefix("Organization/")
        if not validators.is_digits(org, max_length=18):
            raise FhirError(400, "invalid", "organization: ссылка вида Organization/<id>.", "organization")
        search_data["organization"] = org
    if search_data:
        found, _fuzzy, form = selectors.worker_search(search_data, name_ordered=not params.get("identifier"))
        if found is None:
            field, errors = next(iter(form.errors.items()))
            raise FhirError(400, "invalid", " ".join(errors), {"q": "name"}.get(field, field))
        qs = found
    if params.get("identifier"):
        system, value = _token_param(params["identifier"])
        digits = re.sub(r"\D", "", value)
        if system == SNILS_SYSTEM:
            if not _personal(request):
                raise FhirError(
                    403,
                    "forbidden",
                    "Поиск по СНИЛС доступен только информационным системам с областью personal.",
                    "identifier",
                )
            qs = qs.filter(snils=digits)
        elif system in (None, "", registry_system()):
            qs = qs.filter(registry_number=digits)
        else:
            qs = qs.none()
    workers, next_cursor = _page(request, qs, ("search_name", "id"))
    personal, documents = _personal(request), _documents(request)
    resources = [
        practitioner(w, personal=personal, admissions=a, documents=documents)
        for w, a in _practitioners_with_admissions(workers)
    ]
    audit_partner_read(request, workers, fields=_audit_fields(request))
    return Response(_bundle(request, resources, next_cursor), content_type="application/fhir+json")


@fhir_view
def practitioner_read(request, registry_number: str):
    worker = selectors.worker_by_number(registry_number)
    if worker is None:
        raise exceptions.NotFound()
    resource = practitioner(
        worker,
        personal=_personal(request),
        admissions=registry_selectors.worker_admissions(worker=worker),
        documents=_documents(request),
    )
    audit_partner_read(request, [worker], fields=_audit_fields(request))
    return Response(resource, content_type="application/fhir+json")


def _roles_qs():
    return (
        Employment.objects.filter(ended_on__isnull=True)
        .select_related("organization", "position", "specialty", "worker")
        .only(
            "id",
            "updated_at",
            "ended_on",
            "started_on",
            "organization__id",
            "organization__short_name",
            "position__code",
            "position__name",
            "specialty__code",
            "specialty__name",
            "worker__registry_number",
        )
    )


@fhir_view
def practitioner_role_search(request):
    params = request.query_params
    qs = _roles_qs()
    if params.get("practitioner"):
        qs = qs.filter(worker__registry_number=params["practitioner"].removeprefix("Practitioner/"))
    if params.get("organization"):
        org = params["organization"].removeprefix("Organization/")
        if not validators.is_digits(org, max_length=18):
            raise FhirError(400, "invalid", "organization: ссылка вида Organization/<id>.", "organization")
        qs = qs.filter(organization_id=int(org))
    if params.get("specialty"):
        qs = qs.filter(specialty__code=_token_param(params["specialty"])[1])
    rows, next_cursor = _page(request, qs, ("id",))
    resources = [practitioner_role(e, e.worker.registry_number) for e in rows]
    return Response(_bundle(request, resources, next_cursor), content_type="application/fhir+json")


@fhir_view
def practitioner_role_read(request, pk: str):
    if not validators.is_digits(pk, max_length=18):
        raise exceptions.NotFound()
    emp = _roles_qs().filter(pk=pk).first()
    if emp is None:
        raise exceptions.NotFound()
    return Response(practitioner_role(emp, emp.worker.registry_number), content_type="application/fhir+json")


@fhir_view
def organization_search(request):
    params = request.query_params
    qs = selectors.organization_search({"q": params.get("name", "")})
    if params.get("identifier"):
        system, value = _token_param(params["identifier"])
        digits = re.sub(r"\D", "", value)
        if system in (None, "", OGRN_SYSTEM):
            qs = qs.filter(ogrn=digits) if system or len(digits) != 10 else qs.filter(inn=digits)
        elif system == INN_SYSTEM:
            qs = qs.filter(inn=digits)
        else:
            qs = qs.none()
    rows, next_cursor = _page(request, qs, ("search_name", "id"))
    return Response(
        _bundle(request, [organization(o) for o in rows], next_cursor), content_type="application/fhir+json"
    )


@fhir_view
def organization_read(request, pk: str):
    if not validators.is_digits(pk, max_length=18):
        raise exceptions.NotFound()
    org = MedicalOrganization.objects.select_related("org_type", "region").filter(pk=pk).first()
    if org is None:
        raise exceptions.NotFound()
    return Response(organization(org), content_type="application/fhir+json")


@fhir_view
def code_system_search(request):
    url = request.query_params.get("url")
    name = request.query_params.get("name")
    resources = [
        code_system(key, model, with_concepts=False)
        for key, model in selectors.DIRECTORIES.items()
        if (not url or url == _oid(model.OID)) and (not name or name.lower() == key)
    ]
    return Response(_bundle(request, resources, None), content_type="application/fhir+json")


@fhir_view
def code_system_read(request, name: str):
    model = selectors.DIRECTORIES.get(name)
    if model is None:
        raise exceptions.NotFound()
    return Response(code_system(name, model), content_type="application/fhir+json")


@fhir_view
def not_supported(request, path=""):
    raise FhirError(404, "not-supported", "Ресурс или операция не поддерживается; см. /fhir/metadata.")
