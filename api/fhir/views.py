"""A read-only FHIR R4 view of the register: Practitioner, PractitionerRole, Organization,
the directories as CodeSystem, and the CapabilityStatement at /fhir/metadata.

Public by default, like the public page; a partner token with the `personal` scope also gets the
SNILS identifier, gender and birth date, may search by SNILS, and each such read is journaled.
"""

from __future__ import annotations

import re
import uuid

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, renderer_classes
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

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
from registry.search import params

from .. import parameters, selectors
from ..authentication import request_token
from ..pagination import KeysetPagination
from ..parameters import (
    FHIR_DEFAULT_COUNT,
    FHIR_READ,
    FHIR_SEARCH,
    INN_SYSTEM,
    OGRN_SYSTEM,
    SNILS_SYSTEM,
    XML_FORMATS,
    fhir_type,
    registry_system,
)
from ..parameters import fhir_base as _base
from ..rest import errors
from ..rest.views import audit_partner_read

FHIR_VERSION = "4.0.1"
KPP_SYSTEM = "urn:oid:1.2.840.113549.1.9.2"
ADMISSION_STATUS_EXT = "admission-status"
NAME_ORDER = ("search_name", "id")
__all__ = ["INN_SYSTEM", "OGRN_SYSTEM", "SNILS_SYSTEM", "registry_system"]


class FhirRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


def _oid(oid: str) -> str:
    return f"urn:oid:{oid}"


def _coding(entry, oid: str) -> dict:
    return {"system": _oid(oid), "code": entry.code, "display": entry.name}


def _concept(entry, oid: str) -> dict:
    return {"coding": [_coding(entry, oid)], "text": entry.name}


def _instant(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def _issue(code: str, message: str, expression: str | None = None, severity: str = "error") -> dict:
    issue = {"severity": severity, "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return issue


def _outcome(status: int, issues: list[dict], headers: dict | None = None) -> Response:
    return Response(
        {"resourceType": "OperationOutcome", "issue": issues},
        status=status,
        content_type="application/fhir+json",
        headers=headers,
    )


class FhirError(exceptions.APIException):
    """An answer as an OperationOutcome: `issues` are (code, message, expression) triples."""

    def __init__(self, status: int, code: str, message: str, expression: str | None = None, *, issues=None):
        super().__init__(message)
        self.status_code = status
        self.issues = issues or [_issue(code, message, expression)]


def fhir_exception_handler(exc, context):
    exc = errors.as_api_exception(exc)
    if isinstance(exc, FhirError):
        return _outcome(exc.status_code, exc.issues)
    response = drf_exception_handler(exc, context)
    if response is None:
        # What no view expected: logged, then a 500 (503 for the database) as an OperationOutcome.
        set_rollback()
        status, item, headers = errors.unexpected(exc, context.get("request"))
        return _outcome(status, [_issue("transient" if status == 503 else "exception", item["message"])], headers)
    codes = {401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 406: "not-supported"}
    code = {**codes, 414: "too-long", 429: "throttled"}.get(response.status_code, "invalid")
    message = "Не найдено." if response.status_code == 404 else str(getattr(exc, "detail", exc))
    outcome = _outcome(response.status_code, [_issue(code, message)])
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response:
            outcome[header] = response[header]
    return outcome


def server_error_outcome(request, exc: BaseException | None = None, *, status: int = 500):
    """An OperationOutcome for an error outside the FHIR views (handler500/400/403 under /fhir/)."""
    from django.http import JsonResponse

    if exc is not None and status == 500:
        status, item, headers = errors.unexpected(exc, request)
        issue = _issue("transient" if status == 503 else "exception", item["message"])
    else:
        headers = {}
        messages = {400: ("invalid", "Некорректный запрос."), 403: ("forbidden", "Доступ запрещён.")}
        issue = _issue(*messages.get(status, ("exception", "Внутренняя ошибка сервера.")))
    response = JsonResponse(
        {"resourceType": "OperationOutcome", "issue": [issue]},
        status=status,
        content_type="application/fhir+json",
        json_dumps_params={"ensure_ascii": False},
    )
    for name, value in headers.items():
        response[name] = value
    return response


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
#
# Parameters are cleaned by the validation layer (api.parameters.FHIR_SEARCH). FHIR's rules on top:
# a parameter the server does not support (unknown, a modifier such as name:exact, _sort) is refused
# under «Prefer: handling=strict»; otherwise it is ignored, left out of the Bundle's self link (which
# lists exactly the parameters applied) and named in an OperationOutcome entry (search.mode "outcome").


def strict_handling(request) -> bool:
    prefer = request.headers.get("Prefer", "")
    return any(part.strip().lower().replace(" ", "") == "handling=strict" for part in re.split(r"[,;]", prefer))


def _shown(name: str) -> str:
    """A client's parameter name as FHIR text: at most 100 characters, anything unprintable or blank other
    than a plain space written as \\uXXXX (a FHIR string may not be whitespace alone)."""
    return (
        "".join(
            c if c.isprintable() and (c == " " or not c.isspace()) else f"\\u{ord(c):04x}" for c in name[:100]
        ).strip()
        or "\\u0020"
    )


def _clean(request, param_set: params.ParamSet) -> params.Cleaned:
    errors.check_query_length(request)
    try:
        cleaned = param_set.clean(request.query_params)
    except params.ParamErrors as exc:
        issues = [_issue("invalid", e.message, e.name) for e in exc.errors]
        raise FhirError(400, "invalid", issues[0]["diagnostics"], issues=issues) from exc
    if cleaned.ignored and strict_handling(request):
        issues = [
            _issue("not-supported", f"Параметр «{name}» не поддерживается (Prefer: handling=strict).", name)
            for name in map(_shown, cleaned.ignored)
        ]
        raise FhirError(400, "not-supported", issues[0]["diagnostics"], issues=issues)
    if cleaned.values.get("_format") in XML_FORMATS:
        raise FhirError(406, "not-supported", "Поддерживается только JSON (_format=json).", "_format")
    return cleaned


def _applied_query(request, cleaned: params.Cleaned) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, value in request.query_params.items()
        if name not in cleaned.ignored and value != "" and name != "_cursor"
    ]


def _bundle(request, cleaned: params.Cleaned, resources: list[dict], next_cursor: str | None) -> dict:
    from urllib.parse import urlencode

    applied = _applied_query(request, cleaned)
    base = request.build_absolute_uri(request.path)
    if "_cursor" in cleaned.values:
        applied_here = [*applied, ("_cursor", request.query_params["_cursor"])]
    else:
        applied_here = applied
    self_url = base + ("?" + urlencode(applied_here) if applied_here else "")
    entries = [
        {
            "fullUrl": request.build_absolute_uri(f"/fhir/{r['resourceType']}/{r['id']}"),
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in resources
    ]
    notes = [
        _issue("not-supported", f"Параметр «{name}» не поддерживается и не применён.", name, "warning")
        for name in map(_shown, cleaned.ignored)
    ] + [_issue("value", w.message, w.name, "warning") for w in cleaned.warnings]
    if notes:
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {"resourceType": "OperationOutcome", "issue": notes},
                "search": {"mode": "outcome"},
            }
        )
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": _instant(timezone.now()),
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    }
    if next_cursor:
        bundle["link"].append({"relation": "next", "url": f"{base}?{urlencode([*applied, ('_cursor', next_cursor)])}"})
    if not entries:
        del bundle["entry"]
    return bundle


def _page(request, cleaned: params.Cleaned, param_set: params.ParamSet, qs, ordering) -> tuple[list, str | None]:
    paginator = KeysetPagination(ordering, param_set["_cursor"], related=("primary_specialty", "region", "category"))
    if cleaned.matches_nothing:
        return [], None
    size = cleaned.values.get("_count", FHIR_DEFAULT_COUNT)
    rows = paginator.paginate(qs, request, after=cleaned.values.get("_cursor"), size=size)
    return rows, paginator.next_cursor


def _search_response(request, cleaned, resources, next_cursor) -> Response:
    return Response(_bundle(request, cleaned, resources, next_cursor), content_type="application/fhir+json")


def _read_params(request) -> None:
    _clean(request, FHIR_READ)


# --- Views -----------------------------------------------------------------------------------


@fhir_view
def metadata(request):
    _read_params(request)

    def res(kind):
        return {
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": p.name, "type": fhir_type(p), **({"documentation": p.description} if p.description else {})}
                for p in FHIR_SEARCH[kind]
            ],
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
                    "documentation": "Неизвестные параметры поиска не применяются: они не попадают в ссылку self "
                    "ответа и перечислены в OperationOutcome (search.mode = outcome). С заголовком "
                    "«Prefer: handling=strict» такой запрос отклоняется (400). Токены — «система|код» или «код».",
                    "security": {
                        "description": "Без токена — только общедоступные сведения. Токен информационной "
                        "системы (Authorization: Bearer) с областью personal открывает СНИЛС, "
                        "пол и дату рождения; каждое такое чтение записывается в журнал."
                    },
                    "resource": [res(kind) for kind in FHIR_SEARCH],
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
    param_set = FHIR_SEARCH["Practitioner"]
    if request.query_params.get("identifier", "").startswith(f"{SNILS_SYSTEM}|") and not _personal(request):
        message = "Поиск по СНИЛС доступен только информационным системам с областью personal."
        raise FhirError(403, "forbidden", message, "identifier")
    cleaned = _clean(request, param_set)
    values = cleaned.values
    search_values = {}
    if "name" in values:
        search_values["q"] = values["name"]
    if "specialty" in values:
        search_values["specialty"] = values["specialty"].value
    if "organization" in values:
        search_values["organization"] = values["organization"]
    identifier = values.get("identifier")
    qs = MedicalWorker.objects.select_related("primary_specialty", "region", "category")
    if search_values and not cleaned.matches_nothing:
        qs, _fuzzy = selectors.worker_search(values=search_values, name_ordered=identifier is None)
    if identifier is not None:
        field = "snils" if identifier.system == SNILS_SYSTEM else "registry_number"
        qs = qs.filter(**{field: identifier.value})
    workers, next_cursor = _page(request, cleaned, param_set, qs, NAME_ORDER)
    personal, documents = _personal(request), _documents(request)
    resources = [
        practitioner(w, personal=personal, admissions=a, documents=documents)
        for w, a in _practitioners_with_admissions(workers)
    ]
    audit_partner_read(request, workers, fields=_audit_fields(request))
    return _search_response(request, cleaned, resources, next_cursor)


@fhir_view
def practitioner_read(request, registry_number: str):
    _read_params(request)
    worker = selectors.worker_by_number(registry_number=registry_number)
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
    param_set = FHIR_SEARCH["PractitionerRole"]
    cleaned = _clean(request, param_set)
    values = cleaned.values
    qs = _roles_qs()
    if "practitioner" in values:
        qs = qs.filter(worker__registry_number=values["practitioner"])
    if "organization" in values:
        qs = qs.filter(organization_id=values["organization"])
    if "specialty" in values:
        qs = qs.filter(specialty=values["specialty"].value)
    rows, next_cursor = _page(request, cleaned, param_set, qs, ("id",))
    resources = [practitioner_role(e, e.worker.registry_number) for e in rows]
    return _search_response(request, cleaned, resources, next_cursor)


@fhir_view
def practitioner_role_read(request, pk: str):
    _read_params(request)
    role_id = params.clean_path(params.Integer(name="id", label="id", minimum=1, maximum=params.BIGINT_MAX), pk)
    emp = _roles_qs().filter(pk=role_id).first() if role_id is not None else None
    if emp is None:
        raise exceptions.NotFound()
    return Response(practitioner_role(emp, emp.worker.registry_number), content_type="application/fhir+json")


@fhir_view
def organization_search(request):
    param_set = FHIR_SEARCH["Organization"]
    cleaned = _clean(request, param_set)
    values = cleaned.values
    qs = selectors.organization_search(values={"q": values.get("name", "")})
    identifier = values.get("identifier")
    if identifier is not None:
        system, digits = identifier.value if identifier.system is None else (identifier.system, identifier.value)
        qs = qs.filter(**{"ogrn" if system == OGRN_SYSTEM else "inn": digits})
    rows, next_cursor = _page(request, cleaned, param_set, qs, NAME_ORDER)
    return _search_response(request, cleaned, [organization(o) for o in rows], next_cursor)


@fhir_view
def organization_read(request, pk: str):
    _read_params(request)
    org_id = params.clean_path(params.Integer(name="id", label="id", minimum=1, maximum=params.BIGINT_MAX), pk)
    org = (
        MedicalOrganization.objects.select_related("org_type", "region").filter(pk=org_id).first()
        if org_id is not None
        else None
    )
    if org is None:
        raise exceptions.NotFound()
    return Response(organization(org), content_type="application/fhir+json")


@fhir_view
def code_system_search(request):
    cleaned = _clean(request, FHIR_SEARCH["CodeSystem"])
    url, name = cleaned.values.get("url"), cleaned.values.get("name")
    resources = [
        code_system(key, model, with_concepts=False)
        for key, model in parameters.DIRECTORIES.items()
        if (not url or url == _oid(model.OID)) and (not name or name.lower() == key)
    ]
    return _search_response(request, cleaned, resources, None)


@fhir_view
def code_system_read(request, name: str):
    _read_params(request)
    model = parameters.DIRECTORIES.get(name)
    if model is None:
        raise exceptions.NotFound()
    return Response(code_system(name, model), content_type="application/fhir+json")


@fhir_view
def not_supported(request, path=""):
    raise FhirError(404, "not-supported", "Ресурс или операция не поддерживается; см. /fhir/metadata.")
