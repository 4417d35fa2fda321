"""Every URL that takes a parameter, for its owner, another worker, staff and an anonymous visitor.

The patterns are read from the URL resolver, so a URL added later (by any app) makes
test_every_parameterised_url_is_classified fail until it is entered in ACCESS below with the
answers each persona must get. Admin URLs are checked as a class: staff only.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from PIL import Image

from registry.exports import services as exports
from registry.models import ExportJob, SavedSearch
from support import services as support_services
from support.models import TicketMessage
from tests.factories import WorkerFactory

PERSONAS = ("owner", "other", "staff", "anonymous")
OK, NOT_FOUND, LOGIN, REDIRECT = 200, 404, "login", "redirect"


def _patterns(resolvers=None, prefix="", namespace=""):
    """(route, view name, parameter names) of every URL pattern."""
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}:{entry.namespace}" if entry.namespace and namespace else (entry.namespace or namespace)
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            params = set(entry.pattern.regex.groupindex) | set(getattr(entry.pattern, "converters", {}))
            yield prefix + str(entry.pattern), name, sorted(params)


def parameterised_patterns():
    return [(route, name, params) for route, name, params in _patterns() if params]


# --- Objects owned by the "owner" persona ------------------------------------------------------------


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 220, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def _ticket(owner):
    return support_services.ticket_create(
        data=support_services.TicketInput(full_name="Иванова Мария", topic="other", description="Вопрос"),
        user=owner,
        screenshot=SimpleUploadedFile("screen.png", _png()),
    )


def ticket_detail(owner, settings):
    return {"number": _ticket(owner).number}


def ticket_attachment(owner, settings):
    ticket = _ticket(owner)
    message = TicketMessage.objects.get(ticket=ticket, attachment__isnull=False)
    return {"number": ticket.number, "message_id": message.pk}


def export_job(owner, settings):
    job = ExportJob.objects.create(
        format="csv", params={}, user=owner, status=ExportJob.Status.DONE, file_name="", finished_at=timezone.now()
    )
    exports.exports_dir().mkdir(parents=True, exist_ok=True)
    path = exports.exports_dir() / f"{job.pk}.csv"
    path.write_text("\ufeffФИО\r\n", encoding="utf-8")
    ExportJob.objects.filter(pk=job.pk).update(file_name=path.name)
    return {"job_id": job.pk}


def saved_search(owner, settings):
    name = f"Мои {uuid.uuid4().hex[:6]}"
    return {"pk": SavedSearch.objects.create(user=owner, name=name, params={"q": ["Иванова"]}).pk}


def public_worker(owner, settings):
    return {"registry_number": WorkerFactory().registry_number}


def recovery_link(owner, settings):
    # A wrong token for a real account: the link reveals nothing and changes nothing.
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    return {"uidb64": urlsafe_base64_encode(force_bytes(owner.pk)), "token": "bad-token"}


def _stored(owner, kind="passport"):
    from verification.documents import document_store

    upload = SimpleUploadedFile("scan.png", _png(), content_type="image/png")
    return document_store(uploaded_file=upload, owner=owner, kind=kind, field_label="Файл")


def journal_entry(owner, settings):
    from core.audit import audit_record
    from core.models import AuditEntry

    audit_record(
        event=AuditEntry.Event.DATA_VIEWED,
        subject=owner,
        actor=owner,
        object_type="worker",
        details={"action": "viewed"},
    )
    return {"pk": AuditEntry.objects.filter(subject=owner).latest("id").pk}


def identity_application(owner, settings):
    from verification.models import IdentityApplication

    worker = owner.worker
    application = IdentityApplication.objects.create(
        worker=worker,
        snils=worker.snils,
        inn=worker.inn,
        last_name=worker.last_name,
        first_name=worker.first_name,
        birth_date=worker.birth_date,
        passport_document=_stored(owner),
        qualification_document=_stored(owner, "qualification"),
    )
    return {"pk": application.pk}


def qualification_application(owner, settings):
    from verification.models import QualificationApplication

    application = QualificationApplication.objects.create(
        worker=owner.worker,
        diploma_number="1234567",
        admission_number="0177000000001",
        diploma_document=_stored(owner, "diploma"),
    )
    return {"pk": application.pk}


def correction(owner, settings):
    from verification.models import ChangeRequest

    request = ChangeRequest.objects.create(
        worker=owner.worker,
        changes={"phone": {"old": "", "new": "+79160000000"}},
        proof_document=_stored(owner, "other"),
    )
    return {"pk": request.pk}


def stored_document(owner, settings):
    return {"pk": _stored(owner).pk}


def own_extract(owner, settings):
    from api.services import extract_issue

    return {"code": extract_issue(worker=owner.worker, user=owner, kind="registry").code}


def organization(owner, settings):
    from tests.factories import OrganizationFactory

    return {"pk": OrganizationFactory().pk}


def employment_role(owner, settings):
    from tests.factories import EmploymentFactory

    return {"pk": EmploymentFactory(worker=owner.worker).pk}


def org_worker(owner, settings):
    from tests.factories import EmploymentFactory

    return {"pk": EmploymentFactory(worker=owner.worker).worker_id}


def org_employment(owner, settings):
    from tests.factories import EmploymentFactory

    return {"pk": EmploymentFactory(worker=owner.worker).pk}


def org_upload(owner, settings):
    from registry.models import ImportJob
    from tests.factories import OrganizationFactory

    return {"job_id": _org_upload(ImportJob, OrganizationFactory()).pk}


def _org_upload(model, organization):
    """An organization's staff file upload with its report on disk (registry.imports.jobs)."""
    from registry.imports import jobs as import_jobs

    job = model.objects.create(kind="employments", source="x.csv", organization=organization, status=model.Status.DONE)
    import_jobs.imports_dir().mkdir(parents=True, exist_ok=True)
    (import_jobs.imports_dir() / f"{job.pk}-errors.csv").write_text("\ufeffСтрока\r\n", encoding="utf-8")
    model.objects.filter(pk=job.pk).update(report_name=f"{job.pk}-errors.csv")
    return job


def directory(owner, settings):
    return {"name": "specialty"}


def unknown_path(owner, settings):
    return {"path": "no/such/thing"}


@dataclass(frozen=True)
class Rule:
    method: str
    make: Callable
    expect: dict  # persona → status code, or LOGIN / REDIRECT for a 302


PRIVATE = {"owner": OK, "other": NOT_FOUND, "staff": NOT_FOUND, "anonymous": NOT_FOUND}
# Pages behind the login: a visitor is sent to log in first (the object's existence is not revealed).
PRIVATE_LOGIN = {**PRIVATE, "anonymous": LOGIN}
PUBLIC = {"owner": OK, "other": OK, "staff": OK, "anonymous": OK}
PRIVATE_ACTION = {"owner": REDIRECT, "other": NOT_FOUND, "staff": NOT_FOUND, "anonymous": LOGIN}

ACCESS: dict[str, Rule] = {
    "support:ticket_detail": Rule("GET", ticket_detail, PRIVATE),
    "support:ticket_attachment": Rule("GET", ticket_attachment, PRIVATE),
    "registry:export_job": Rule("GET", export_job, PRIVATE),
    "registry:export_job_download": Rule("GET", export_job, PRIVATE),
    "registry:saved_notify": Rule("POST", saved_search, PRIVATE_ACTION),
    "registry:saved_delete": Rule("POST", saved_search, PRIVATE_ACTION),
    # Public objects: the profile is for everyone; following one needs an account.
    "registry:profile": Rule("GET", public_worker, {"owner": OK, "other": OK, "staff": OK, "anonymous": OK}),
    "registry:watch": Rule(
        "POST", public_worker, {"owner": REDIRECT, "other": REDIRECT, "staff": REDIRECT, "anonymous": LOGIN}
    ),
    # The cabinet (issue 4): the owner's own applications and journal; staff work in the admin.
    "accounts:journal_entry": Rule("GET", journal_entry, PRIVATE_LOGIN),
    "verification:identity_detail": Rule("GET", identity_application, PRIVATE_LOGIN),
    "verification:qualification_detail": Rule("GET", qualification_application, PRIVATE_LOGIN),
    "verification:correction_detail": Rule("GET", correction, PRIVATE_LOGIN),
    # «Оспорить» an employer's entry (issue 20): the worker's own employment rows only.
    "verification:employment_dispute": Rule("GET", employment_role, PRIVATE_LOGIN),
    # Uploaded files: the owner, and staff (journaled); nobody else learns they exist.
    "verification:document": Rule("GET", stored_document, {**PRIVATE_LOGIN, "staff": OK}),
    # Signed extracts (issue 8): a copy only for its owner; the verification page is public by design
    # and shows only what the extract itself printed.
    "extracts:copy_pdf": Rule("GET", own_extract, PRIVATE_LOGIN),
    "extracts:verify": Rule("GET", own_extract, PUBLIC),
    # The API and FHIR: public scope without a token (protected fields need a partner token).
    "api:worker-detail": Rule("GET", public_worker, PUBLIC),
    "api:worker-documents": Rule("GET", public_worker, PUBLIC),
    "api:organization-detail": Rule("GET", organization, PUBLIC),
    "api:directory-entries": Rule("GET", directory, PUBLIC),
    "api:not-found": Rule("GET", unknown_path, {p: NOT_FOUND for p in PERSONAS}),
    "fhir:practitioner-read": Rule("GET", public_worker, PUBLIC),
    "fhir:practitioner-role-read": Rule("GET", employment_role, PUBLIC),
    "fhir:organization-read": Rule("GET", organization, PUBLIC),
    "fhir:codesystem-read": Rule("GET", directory, PUBLIC),
    "fhir:not-supported": Rule("GET", unknown_path, {p: NOT_FOUND for p in PERSONAS}),
    # The organization cabinet (issue 20): none of these personas acts for an organization, not even the
    # worker the page is about; the matrix of two organizations and their HR officers is below.
    "orgs:worker": Rule("GET", org_worker, {**PRIVATE_LOGIN, "owner": NOT_FOUND}),
    "orgs:upload_detail": Rule("GET", org_upload, {**PRIVATE_LOGIN, "owner": NOT_FOUND}),
    "orgs:upload_report": Rule("GET", org_upload, {**PRIVATE_LOGIN, "owner": NOT_FOUND}),
    # The employment writes take a partner token only: a browser session is not one (401 for all).
    "api:employment-hire": Rule("POST", organization, {p: 401 for p in PERSONAS}),
    "api:employment-transfer": Rule("POST", org_employment, {p: 401 for p in PERSONAS}),
    "api:employment-rate": Rule("POST", org_employment, {p: 401 for p in PERSONAS}),
    "api:employment-dismiss": Rule("POST", org_employment, {p: 401 for p in PERSONAS}),
    "orgs:transfer": Rule("POST", org_employment, {**PRIVATE_LOGIN, "owner": NOT_FOUND}),
    "orgs:change_rate": Rule("POST", org_employment, {**PRIVATE_LOGIN, "owner": NOT_FOUND}),
    "orgs:dismiss": Rule("POST", org_employment, {**PRIVATE_LOGIN, "owner": NOT_FOUND}),
    # The token is the credential; a wrong one is refused alike for everyone.
    "accounts:recover_email": Rule("GET", recovery_link, {"owner": 400, "other": 400, "staff": 400, "anonymous": 400}),
}


def _is_admin(route: str, name: str) -> bool:
    return name.startswith("admin:") or route.startswith("admin/")


def test_every_parameterised_url_is_classified():
    unclassified = [
        f"{route} ({name or 'no name'})"
        for route, name, _ in parameterised_patterns()
        if not _is_admin(route, name) and name not in ACCESS
    ]
    assert unclassified == [], "classify these URLs in tests/security/test_object_access.py ACCESS"


def test_the_classification_has_no_stale_entries():
    names = {name for _, name, _ in parameterised_patterns()}
    assert set(ACCESS) <= names


@pytest.fixture
def personas(worker_user, second_worker_user, support_agent):
    def client_for(persona):
        client = Client()
        user = {"owner": worker_user, "other": second_worker_user, "staff": support_agent}.get(persona)
        if user is not None:
            client.force_login(user)
        return client

    return worker_user, client_for


def _check(response, expected, persona, name):
    where = f"{name} as {persona}: {response.status_code} {response.get('Location', '')}"
    if expected == LOGIN:
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], where
    elif expected == REDIRECT:
        assert response.status_code == 302 and "/accounts/login/" not in response["Location"], where
    else:
        assert response.status_code == expected, where


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ACCESS))
@pytest.mark.parametrize("persona", PERSONAS)
def test_object_url_answers_each_persona_as_classified(name, persona, personas, settings, on_commit_immediate):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    owner, client_for = personas
    rule = ACCESS[name]
    kwargs = rule.make(owner, settings)
    url = reverse(name, kwargs=kwargs)
    client = client_for(persona)
    response = client.post(url) if rule.method == "POST" else client.get(url)
    _check(response, rule.expect[persona], persona, name)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["other", "anonymous"])
def test_a_guessed_object_id_is_a_404_like_a_foreign_one(persona, personas):
    _, client_for = personas
    client = client_for(persona)
    assert client.get(reverse("registry:export_job", args=[uuid.uuid4()])).status_code == 404
    assert client.get(reverse("support:ticket_detail", args=["2026-0000001"])).status_code == 404


# --- Admin: staff only --------------------------------------------------------------------------------


def _admin_urls():
    urls = []
    for route, name, params in parameterised_patterns():
        if not _is_admin(route, name):
            continue
        if not name:  # the admin's unnamed shortcuts, e.g. <path:object_id>/ → .../change/
            urls.append((route, "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route)))
            continue
        url = None
        for value in ("1", str(uuid.UUID(int=1))):  # an integer id, else a UUID one
            kwargs = {param: ("accounts" if param == "app_label" else value) for param in params}
            try:
                url = reverse(name, kwargs=kwargs)
                break
            except Exception:  # noqa: S112 -- the next kind of id is tried
                continue
        urls.append((name, url))
    return urls


def test_admin_urls_can_all_be_built():
    broken = [name for name, url in _admin_urls() if url is None]
    assert broken == []


@pytest.mark.django_db
def test_admin_object_urls_refuse_workers_and_anonymous_visitors(worker_user):
    worker = Client()
    worker.force_login(worker_user)
    for client in (Client(), worker):
        for name, url in _admin_urls():
            response = client.get(url)
            assert response.status_code in (302, 404), f"{name} {url}: {response.status_code}"
            if response.status_code == 302:
                assert "login" in response["Location"], f"{name} {url}"


# --- The organization cabinet: two organizations, their HR officers, a worker, a visitor ---------------
# Every /org/ URL for every actor. The HR officer of A works with A's staff, current and past; B's HR
# officer gets a 404 for anything of A, as does the worker the records are about and a head of A for
# the writes. Forms posted empty come back with their errors (400), which proves the door was open.

ORG_ACTORS = ("hr_a", "head_a", "hr_b", "worker", "anonymous")


def _org_world():
    import datetime as dt

    from tests.factories import EmploymentFactory, OrganizationFactory, OrgMembershipFactory, UserFactory

    org_a, org_b = OrganizationFactory(), OrganizationFactory()
    worker_user = UserFactory()
    worker = WorkerFactory(user=worker_user, snils=worker_user.snils)
    current = EmploymentFactory(organization=org_a, worker=worker)
    past = EmploymentFactory(organization=org_a, ended_on=dt.date(2021, 1, 31))
    of_b = EmploymentFactory(organization=org_b)
    users = {
        "hr_a": OrgMembershipFactory(organization=org_a).user,
        "head_a": OrgMembershipFactory(organization=org_a, role="head").user,
        "hr_b": OrgMembershipFactory(organization=org_b).user,
        "worker": worker_user,
    }
    from registry.models import ImportJob

    objects = {
        "current": current,
        "past": past,
        "of_b": of_b,
        "upload_a": _org_upload(ImportJob, org_a),
        "upload_b": _org_upload(ImportJob, org_b),
    }
    return users, objects


OWN = {"hr_a": OK, "head_a": OK, "hr_b": OK, "worker": NOT_FOUND, "anonymous": LOGIN}
WRITE = {"hr_a": OK, "head_a": NOT_FOUND, "hr_b": OK, "worker": NOT_FOUND, "anonymous": LOGIN}
OF_A = {"hr_a": OK, "head_a": OK, "hr_b": NOT_FOUND, "worker": NOT_FOUND, "anonymous": LOGIN}
OF_B = {"hr_a": NOT_FOUND, "head_a": NOT_FOUND, "hr_b": OK, "worker": NOT_FOUND, "anonymous": LOGIN}
WRITE_A = {"hr_a": 400, "head_a": NOT_FOUND, "hr_b": NOT_FOUND, "worker": NOT_FOUND, "anonymous": LOGIN}
WRITE_B = {"hr_a": NOT_FOUND, "head_a": NOT_FOUND, "hr_b": 400, "worker": NOT_FOUND, "anonymous": LOGIN}

# (URL name, method, object, its URL argument, answers)
ORG_MATRIX = [
    ("orgs:staff", "GET", None, None, OWN),
    ("orgs:choose", "GET", None, None, OWN),
    ("orgs:export_csv", "GET", None, None, OWN),
    ("orgs:export_xlsx", "GET", None, None, OWN),
    ("orgs:hire", "GET", None, None, WRITE),
    ("orgs:hire_new", "GET", None, None, WRITE),
    ("orgs:hire", "POST", None, None, {**WRITE, "hr_a": 400, "hr_b": 400}),
    ("orgs:hire_new", "POST", None, None, {**WRITE, "hr_a": 400, "hr_b": 400}),
    ("orgs:worker", "GET", "current", "worker_id", OF_A),
    ("orgs:worker", "GET", "past", "worker_id", OF_A),
    ("orgs:worker", "GET", "of_b", "worker_id", OF_B),
    *[(f"orgs:{action}", "POST", "current", "pk", WRITE_A) for action in ("transfer", "change_rate", "dismiss")],
    *[(f"orgs:{action}", "POST", "past", "pk", {**WRITE_A, "hr_a": 400})
      for action in ("transfer", "change_rate", "dismiss")],
    *[(f"orgs:{action}", "POST", "of_b", "pk", WRITE_B) for action in ("transfer", "change_rate", "dismiss")],
    # The staff file and the expiry forecast: a head reads, only an HR officer uploads (an empty form: 400).
    ("orgs:uploads", "GET", None, None, OWN),
    ("orgs:uploads", "POST", None, None, {**WRITE, "hr_a": 400, "hr_b": 400}),
    ("orgs:expiry", "GET", None, None, OWN),
    *[(f"orgs:{view}", "GET", "upload_a", "pk", OF_A) for view in ("upload_detail", "upload_report")],
    *[(f"orgs:{view}", "GET", "upload_b", "pk", OF_B) for view in ("upload_detail", "upload_report")],
]  # fmt: skip


def test_every_org_url_is_in_the_org_matrix():
    names = {name for _, name, _ in _patterns() if name.startswith("orgs:")}
    assert names == {row[0] for row in ORG_MATRIX}


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ORG_ACTORS)
def test_org_urls_answer_each_actor_as_classified(actor):
    users, objects = _org_world()
    client = Client()
    if actor in users:
        client.force_login(users[actor])
    for name, method, obj, attribute, expect in ORG_MATRIX:
        args = [getattr(objects[obj], attribute)] if obj else []
        url = reverse(name, args=args)
        response = client.post(url) if method == "POST" else client.get(url)
        _check(response, expect[actor], actor, f"{method} {url} ({obj})")
        if response.status_code in (200, 400) and actor != "anonymous":
            assert "no-store" in response["Cache-Control"], f"{method} {url} as {actor}"


@pytest.mark.django_db
def test_an_organizations_list_and_export_never_hold_another_organizations_staff():
    users, objects = _org_world()
    client = Client()
    client.force_login(users["hr_b"])
    page = client.get(reverse("orgs:staff"), {"state": "all"}).content.decode()
    export = b"".join(client.get(reverse("orgs:export_csv"), {"state": "all"}).streaming_content).decode()
    for key in ("current", "past"):
        worker = objects[key].worker
        assert worker.full_name not in page and worker.snils_display not in export
    assert objects["of_b"].worker.snils_display in export
