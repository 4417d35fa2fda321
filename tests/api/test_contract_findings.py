"""One test (or a few) per finding of the outside fuzzer and validator (schemathesis --checks all,
fhir.resources, a hand-written client): each would fail again if its defect came back. FHIR answers are
validated with fhir.resources by tests/conftest.py as well."""

import datetime as dt
import json
import re
import socket

import pytest
from django.utils import timezone

from core import validators
from core.models import AuditEntry
from registry.models import MedicalWorker, Specialty, WorkerTombstone
from registry.quality import duplicates as dq
from registry.services import worker_refresh_derived
from tests.factories import (
    AdmissionDocumentFactory,
    EmploymentFactory,
    OrganizationFactory,
    RegionFactory,
    SpecialtyFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db


def errors(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return {e["field"]: e for e in json.loads(response.content)["errors"]}


def issues(response) -> list[dict]:
    assert response["Content-Type"].startswith("application/fhir+json"), response["Content-Type"]
    body = json.loads(response.content)
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


def matches(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def outcome(bundle: dict) -> list[dict]:
    found = [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "outcome"]
    return found[0]["issue"] if found else []


@pytest.fixture
def staffed(db):
    specialty = SpecialtyFactory(code="36", name="Кардиология")
    emp = EmploymentFactory(specialty=specialty, worker=WorkerFactory(primary_specialty=specialty, last_name="Лукина"))
    AdmissionDocumentFactory(worker=emp.worker, specialty=specialty)
    worker_refresh_derived(worker_ids=[emp.worker_id])
    emp.worker.refresh_from_db()
    return emp


# --- 500 instead of a 400: NUL and other control characters ------------------------------------


@pytest.mark.parametrize(
    "url,field",
    [
        ("/api/v1/organizations/?region=%00", "region"),
        ("/api/v1/organizations/?q=%00", "q"),
        ("/api/v1/workers/?q=%00", "q"),
        ("/api/v1/workers/?specialty=36%00", "specialty"),
        ("/api/v1/licenses/?status=%01", "status"),
        ("/api/v1/workers/changes/?updated_since=2026-01-01%00", "updated_since"),
        ("/api/v1/workers/?cursor=%7F", "cursor"),
    ],
)
def test_a_control_character_in_an_api_parameter_is_a_400_naming_it(client, url, field):
    response = client.get(url)
    assert response.status_code == 400
    assert errors(response)[field]["code"] == "control_character"


@pytest.mark.parametrize(
    "url,field",
    [
        ("/fhir/PractitionerRole?practitioner=%00", "practitioner"),
        ("/fhir/PractitionerRole?specialty=%00", "specialty"),
        ("/fhir/Practitioner?name=%00", "name"),
        ("/fhir/Organization?identifier=%00", "identifier"),
        ("/fhir/CodeSystem?url=%00", "url"),
    ],
)
def test_a_control_character_in_a_fhir_parameter_is_an_operation_outcome(client, url, field):
    response = client.get(url)
    assert response.status_code == 400
    (issue,) = issues(response)
    assert issue["expression"] == [field] and "U+0000" in issue["diagnostics"]


@pytest.mark.parametrize("url", ["/fhir/Practitioner/%00", "/fhir/Organization/%00", "/fhir/PractitionerRole/%00"])
def test_a_fhir_read_of_a_control_character_is_a_404_operation_outcome(client, url):
    response = client.get(url)
    assert response.status_code == 404 and issues(response)[0]["code"] == "not-found"


# --- The OpenAPI schema says exactly what is accepted -------------------------------------------


@pytest.fixture
def schema(client, db):
    SpecialtyFactory(code="36")
    RegionFactory(code="77")
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, methods in schema["paths"].items():
        for operation in methods.values():
            yield path, operation, {p["name"]: p for p in operation["parameters"]}


def test_the_schema_declares_exactly_the_path_parameters_of_each_path(schema):
    for path, _, parameters in _operations(schema):
        declared = sorted(name for name, p in parameters.items() if p["in"] == "path")
        assert declared == sorted(re.findall(r"{(\w+)}", path)), path
    organization = schema["paths"]["/api/v1/organizations/{id}/"]["get"]["parameters"]
    assert [p["name"] for p in organization] == ["id"]


def test_page_size_has_its_bounds_and_every_optional_parameter_allows_the_empty_value(schema, client):
    for path, _, parameters in _operations(schema):
        if "page_size" in parameters:
            assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}, path
        for parameter in parameters.values():
            if parameter["in"] == "query":
                assert parameter["allowEmptyValue"] is True, (path, parameter["name"])
    workers = {p["name"]: p for p in schema["paths"]["/api/v1/workers/"]["get"]["parameters"]}
    assert workers["status"]["schema"]["enum"] == ["active", "expiring", "expired", "suspended", "none"]
    assert workers["registered_from"]["schema"] == {"type": "string", "format": "date"}
    assert "36" in workers["specialty"]["schema"]["enum"] and "77" in workers["region"]["schema"]["enum"]
    # What the schema allows is accepted: the empty value is no filter.
    assert client.get("/api/v1/workers/?status=&registered_from=&confirmed=&page_size=").status_code == 200
    for bad in ("page_size=0", "page_size=201", "page_size=01", "status=unknown", "registered_from=2026-02-30"):
        assert client.get(f"/api/v1/workers/?{bad}").status_code == 400, bad


# --- confirmed -----------------------------------------------------------------------------------


def test_confirmed_is_true_or_false_in_the_api(client):
    plain, confirmed = WorkerFactory(), WorkerFactory(has_confirmed_documents=True)
    for value in ("-1", "maybe", "0", "no", "1", "on"):
        response = client.get("/api/v1/workers/", {"confirmed": value})
        assert response.status_code == 400, value
        assert errors(response)["confirmed"]["message"].endswith("допустимые значения — true или false.")
    only = [r["registry_number"] for r in client.get("/api/v1/workers/?confirmed=true").json()["results"]]
    assert only == [confirmed.registry_number]
    every = [r["registry_number"] for r in client.get("/api/v1/workers/?confirmed=false").json()["results"]]
    assert sorted(every) == sorted([plain.registry_number, confirmed.registry_number])


def test_confirmed_zero_or_no_does_not_turn_the_filter_on_on_the_public_page(client):
    WorkerFactory(last_name="Неподтверждённая")
    for value in ("0", "no", "maybe"):
        page = client.get("/registry/", {"confirmed": value})
        assert "допустимые значения — true или false" in page.content.decode(), value
        assert page.context["table"] is None  # no search ran with the filter on
    ticked = client.get("/registry/", {"confirmed": "on"})  # what the checkbox sends
    assert ticked.context["form"].cleaned_data["confirmed"] is True


# --- Organization filters go through the project's validators ---------------------------------


@pytest.mark.parametrize(
    "query,field",
    [
        ({"region": "999"}, "region"),
        ({"ogrn": "123"}, "ogrn"),
        ({"inn": "٣٣٣"}, "inn"),
        ({"inn": "7707\x00083893"}, "inn"),
        ({"q": "\x00"}, "q"),
        ({"status": "open"}, "status"),
    ],
)
def test_organization_filters_are_validated(client, query, field):
    response = client.get("/api/v1/organizations/", query)
    assert response.status_code == 400
    assert field in errors(response)


def test_organization_identifiers_in_printed_form_and_a_typo_is_an_empty_page_with_a_warning(client):
    org = OrganizationFactory()
    printed_inn = f"{org.inn[:4]} {org.inn[4:7]}-{org.inn[7:]}"
    found = client.get("/api/v1/organizations/", {"inn": printed_inn, "ogrn": f" {org.ogrn} "}).json()
    assert [r["id"] for r in found["results"]] == [org.pk] and "warnings" not in found
    typo = org.inn[:-1] + str((int(org.inn[-1]) + 1) % 10)
    response = client.get("/api/v1/organizations/", {"inn": typo})
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [] and body["warnings"][0]["field"] == "inn"
    assert body["warnings"][0]["code"] == "checksum"


# --- FHIR tokens honour the system; unknown parameters -----------------------------------------


def test_a_specialty_token_of_another_system_matches_nothing(client, staffed):
    number = staffed.worker.registry_number
    assert matches(client.get("/fhir/Practitioner?specialty=36").json()) == [number]
    ours = client.get(f"/fhir/Practitioner?specialty=urn:oid:{Specialty.OID}|36").json()
    assert matches(ours) == [number]
    foreign = client.get("/fhir/Practitioner?specialty=urn:oid:9.9.9|36")
    assert foreign.status_code == 200 and matches(foreign.json()) == []
    assert outcome(foreign.json())[0]["expression"] == ["specialty"]
    roles = client.get("/fhir/PractitionerRole?specialty=urn:oid:9.9.9|36").json()
    assert matches(roles) == []
    assert matches(client.get(f"/fhir/PractitionerRole?specialty=urn:oid:{Specialty.OID}|36").json()) == [
        str(staffed.pk)
    ]


@pytest.mark.parametrize(
    "url,field",
    [
        ("/fhir/PractitionerRole?specialty=nope", "specialty"),
        ("/fhir/Practitioner?specialty=nope", "specialty"),
        ("/fhir/PractitionerRole?practitioner=abc", "practitioner"),
        ("/fhir/PractitionerRole?practitioner=Organization/5", "practitioner"),
        ("/fhir/Practitioner?identifier=abc", "identifier"),
        ("/fhir/Practitioner?organization=Practitioner/5", "organization"),
        ("/fhir/Organization?identifier=12345", "identifier"),
        ("/fhir/Practitioner?specialty=a|b|c", "specialty"),
        ("/fhir/Practitioner?_count=0", "_count"),
        ("/fhir/Practitioner?_count=201", "_count"),
    ],
)
def test_bad_fhir_search_values_are_400_with_the_parameter_named(client, db, url, field):
    response = client.get(url)
    assert response.status_code == 400
    assert issues(response)[0]["expression"] == [field]


@pytest.mark.parametrize("extra", ["foo=1", "_sort=name", "name:exact=Лукина", "_summary=count", "_elements=id"])
def test_unsupported_parameters_are_ignored_and_listed_or_refused_under_strict_handling(client, staffed, extra):
    url = f"/fhir/Practitioner?name=лукин&{extra}"
    lenient = client.get(url)
    assert lenient.status_code == 200
    bundle = lenient.json()
    assert matches(bundle) == [staffed.worker.registry_number]
    ignored = extra.split("=")[0]
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "name=" in self_link and ignored.split(":")[0] + "=" not in self_link.replace("name=", "")
    assert [i["expression"] for i in outcome(bundle)] == [[ignored]]
    assert outcome(bundle)[0]["code"] == "not-supported"
    strict = client.get(url, HTTP_PREFER="handling=strict")
    assert strict.status_code == 400
    assert [i["expression"] for i in issues(strict)] == [[ignored]]
    assert client.get(url, HTTP_PREFER="return=minimal; handling=lenient").status_code == 200


def test_format_xml_is_not_acceptable_and_json_is_served(client, staffed):
    response = client.get("/fhir/Practitioner?_format=xml")
    assert response.status_code == 406 and issues(response)[0]["code"] == "not-supported"
    assert client.get("/fhir/metadata?_format=application/fhir+xml").status_code == 406
    assert matches(client.get("/fhir/Practitioner?_format=json").json()) == [staffed.worker.registry_number]


def test_the_capability_statement_lists_each_search_parameter(client, db):
    from api.parameters import FHIR_SEARCH

    statement = client.get("/fhir/metadata").json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for kind, declared in FHIR_SEARCH.items():
        listed = {p["name"]: p["type"] for p in resources[kind]["searchParam"]}
        assert set(listed) == {p.name for p in declared}, kind
    assert resources["Practitioner"]["searchParam"][0]["documentation"]
    practitioner = {p["name"]: p["type"] for p in resources["Practitioner"]["searchParam"]}
    assert practitioner["specialty"] == "token" and practitioner["organization"] == "reference"


# --- Registry numbers in any printed form -------------------------------------------------------


def test_a_registry_number_as_printed_is_accepted_everywhere(client, staffed):
    worker = staffed.worker
    printed = validators.format_registry_number(worker.registry_number)
    assert client.get(f"/api/v1/workers/{printed}/").json()["registry_number"] == worker.registry_number
    assert client.get(f"/api/v1/workers/{worker.registry_number[:9]}-{worker.registry_number[9]}/").status_code == 200
    assert client.get(f"/api/v1/workers/{printed}/admission-documents/").status_code == 200
    assert client.get(f"/fhir/Practitioner/{printed}").json()["id"] == worker.registry_number
    assert matches(client.get("/fhir/Practitioner", {"identifier": printed}).json()) == [worker.registry_number]
    roles = client.get("/fhir/PractitionerRole", {"practitioner": f"Practitioner/{printed}"}).json()
    assert matches(roles) == [str(staffed.pk)]
    found = client.get("/api/v1/workers/", {"q": printed}).json()["results"]
    assert [r["registry_number"] for r in found] == [worker.registry_number]
    profile = client.get(f"/registry/{printed}/")
    assert profile.status_code == 301 and profile["Location"] == f"/registry/{worker.registry_number}/"
    assert client.get(profile["Location"]).status_code == 200
    page = client.get("/registry/", {"q": printed})
    assert [row.record.registry_number for row in page.context["table"].paginated_rows] == [worker.registry_number]


def test_a_registry_number_with_a_wrong_check_digit_finds_nothing(client, staffed):
    wrong = staffed.worker.registry_number[:9] + str((int(staffed.worker.registry_number[9]) + 1) % 10)
    assert client.get(f"/api/v1/workers/{wrong}/").status_code == 404
    assert client.get(f"/registry/МР {wrong[:9]}-{wrong[9]}/").status_code == 404
    bundle = client.get("/fhir/Practitioner", {"identifier": wrong}).json()
    assert matches(bundle) == [] and outcome(bundle)[0]["expression"] == ["identifier"]


# --- The changes feed resumes by cursor; deletions are tombstones -------------------------------


def _walk(client, url):
    seen, body = [], None
    while url:
        body = client.get(url).json()
        seen += body["results"]
        url = body["next"]
    return seen, body["cursor"]


def test_a_resumed_feed_reads_nothing_twice_among_rows_changed_at_one_moment(client, django_assert_max_num_queries):
    workers = WorkerFactory.create_batch(45)
    moment = timezone.now() - dt.timedelta(minutes=5)
    MedicalWorker.objects.update(updated_at=moment)  # a bulk import: every row shares updated_at
    since = (moment - dt.timedelta(seconds=1)).isoformat()
    first, cursor = _walk(client, f"/api/v1/workers/changes/?page_size=10&updated_since={since.replace('+', '%2B')}")
    assert [r["registry_number"] for r in first] == [w.registry_number for w in sorted(workers, key=lambda w: w.pk)]
    # Nothing changed since: resuming reads no row again (updated_since alone would re-read all 45).
    again = client.get(f"/api/v1/workers/changes/?cursor={cursor}&updated_since={since.replace('+', '%2B')}").json()
    assert again["results"] == [] and again["next"] is None and again["cursor"] == cursor
    # One change later: only that row.
    changed = workers[7]
    changed.save(update_fields=["phone", "updated_at"])
    with django_assert_max_num_queries(2):
        later = client.get(f"/api/v1/workers/changes/?cursor={cursor}").json()
    assert [r["registry_number"] for r in later["results"]] == [changed.registry_number]
    assert later["cursor"] != cursor


def test_merged_and_deleted_workers_appear_in_the_feed_as_tombstones(client, support_agent):
    # One person entered twice (no INN the second time, so the merge needs no second approval).
    survivor, merged, deleted = WorkerFactory(), WorkerFactory(inn=None), WorkerFactory()
    _, start = _walk(client, "/api/v1/workers/changes/")
    dq.worker_merge(survivor_id=survivor.pk, merged_id=merged.pk)
    support_agent.is_superuser = True
    support_agent.save()
    client.force_login(support_agent)
    client.post(f"/admin/registry/medicalworker/{deleted.pk}/delete/", {"post": "yes"})
    client.logout()
    assert not MedicalWorker.objects.filter(pk=deleted.pk).exists()
    rows, _ = _walk(client, f"/api/v1/workers/changes/?cursor={start}")
    tombstones = {r["registry_number"]: r for r in rows if r.get("deleted")}
    assert tombstones[merged.registry_number]["reason"]["code"] == "merged"
    assert tombstones[merged.registry_number]["merged_into"] == survivor.registry_number
    assert tombstones[deleted.registry_number]["reason"]["code"] == "deleted"
    assert tombstones[deleted.registry_number]["merged_into"] is None
    assert survivor.registry_number in {r["registry_number"] for r in rows if not r.get("deleted")}
    assert AuditEntry.objects.filter(object_type="worker", object_id=deleted.registry_number).exists()


def test_a_tombstone_follows_a_later_merge_of_its_survivor(db):
    a, b, c = WorkerFactory(), WorkerFactory(inn=None), WorkerFactory(inn=None)
    dq.worker_merge(survivor_id=b.pk, merged_id=a.pk)
    dq.worker_merge(survivor_id=c.pk, merged_id=b.pk)
    assert WorkerTombstone.objects.get(registry_number=a.registry_number).merged_into_id == c.pk
    assert WorkerTombstone.objects.get(registry_number=b.registry_number).merged_into_id == c.pk


def test_organizations_and_licenses_feeds_give_a_resumable_cursor(client):
    OrganizationFactory.create_batch(3)
    rows, cursor = _walk(client, "/api/v1/organizations/changes/?page_size=2")
    assert len(rows) == 3
    assert client.get(f"/api/v1/organizations/changes/?cursor={cursor}").json()["results"] == []
    assert "cursor" in client.get("/api/v1/licenses/").json()


# --- Error envelopes: 500 and 503 --------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def database_unreachable(django_db_blocker, tmp_path):
    """The default connection points at a database that cannot be reached: PostgreSQL on a closed port
    (SQLite: a file in a missing directory). Real connection attempts, nothing mocked."""
    from django.db import connections
    from django.db.utils import load_backend

    original = connections["default"]
    settings_dict = {**original.settings_dict, "CONN_MAX_AGE": 0}
    if original.vendor == "postgresql":
        settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))
        settings_dict["OPTIONS"] = {**settings_dict.get("OPTIONS", {}), "connect_timeout": 5}
    else:
        settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
    broken = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    connections["default"] = broken
    try:
        with django_db_blocker.unblock():
            yield
    finally:
        broken.close()
        connections["default"] = original


def test_database_down_is_a_503_envelope_and_operation_outcome(client, database_unreachable, settings):
    settings.API_ANON_RATE_PER_MINUTE = 0
    for url in ("/api/v1/workers/?q=лукин", "/api/v1/organizations/", "/api/v1/workers/0000000013/"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert errors(response)[None]["code"] == "unavailable"
        assert int(response["Retry-After"]) > 0
    with_token = client.get("/api/v1/workers/", HTTP_AUTHORIZATION="Bearer mr_00000000_x")  # the lookup fails
    assert with_token.status_code == 503
    for url in ("/fhir/Practitioner?name=лукин", "/fhir/Organization/1", "/fhir/CodeSystem/specialty"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert issues(response)[0]["code"] == "transient"


def test_an_unexpected_error_is_a_500_envelope_with_the_request_id(client, monkeypatch, db):
    from api import selectors

    def broken(values):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "organization_search", broken)
    response = client.get("/api/v1/organizations/")
    assert response.status_code == 500
    assert response["X-Request-ID"] in errors(response)[None]["message"]
    fhir = client.get("/fhir/Organization")
    assert fhir.status_code == 500 and issues(fhir)[0]["code"] == "exception"


def test_an_over_long_query_or_too_many_parameters_is_answered_as_json(client, db):
    long = client.get("/api/v1/workers/", {"q": "а" * 9000})
    assert long.status_code == 414 and errors(long)[None]["code"] == "uri_too_long"
    assert client.get("/fhir/Practitioner", {"name": "а" * 9000}).status_code == 414
    many = "&".join(f"p{i}=1" for i in range(1500))  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = client.get(f"/api/v1/workers/?{many}")
    assert response.status_code == 400 and errors(response)[None]["code"] == "parse_error"
    fhir = client.get(f"/fhir/Practitioner?{many}")
    assert fhir.status_code == 400 and issues(fhir)[0]["code"] == "invalid"


def test_an_error_before_any_view_is_json_under_api_and_fhir(rf):
    from django.db import OperationalError

    from portal.views import bad_request, server_error

    for path, check in (("/api/v1/workers/", errors), ("/fhir/Practitioner", issues)):
        request = rf.get(path)
        try:
            raise OperationalError("server closed the connection unexpectedly")
        except OperationalError:
            response = server_error(request)
        assert response.status_code == 503 and check(response)
        try:
            raise RuntimeError("a middleware broke")
        except RuntimeError:
            response = server_error(request)
        assert response.status_code == 500 and check(response)
        assert bad_request(request, None).status_code == 400 and check(bad_request(request, None))
    html = rf.get("/registry/")
    try:
        raise RuntimeError("a page broke")
    except RuntimeError:
        assert server_error(html)["Content-Type"].startswith("text/html")


def test_the_fhir_validation_of_the_suite_catches_a_broken_answer():
    from django.http import HttpResponse

    from tests.fhir_validation import FhirAnswerError, _validate_answer

    html = HttpResponse("<h1>Server Error</h1>", status=500)
    with pytest.raises(FhirAnswerError):
        _validate_answer("/fhir/Practitioner", html)
    broken = HttpResponse(
        '{"resourceType": "Practitioner", "name": [{"family": ["a", "b"]}]}', content_type="application/fhir+json"
    )
    with pytest.raises(Exception, match="family"):
        _validate_answer("/fhir/Practitioner/1", broken)
