"""REST API v1: scopes, tokens, limits, paging, the changes feed, errors and query counts."""

import datetime as dt

import pytest
from django.utils import timezone

from api.models import PartnerToken
from api.services import partner_token_revoke
from core.models import AuditEntry
from registry.models import MedicalWorker
from registry.services import worker_refresh_derived
from tests.api.conftest import bearer
from tests.factories import (
    AdmissionDocumentFactory,
    EmploymentFactory,
    OrganizationFactory,
    SpecialtyFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db
PROTECTED = {"snils", "inn", "birth_date", "sex", "phone", "email", "citizenship"}


@pytest.fixture
def worker(db):
    w = WorkerFactory(
        last_name="Петрова", first_name="Анна", middle_name="Сергеевна", phone="+79001234567", email="anna@example.org"
    )
    emp = EmploymentFactory(worker=w)
    AdmissionDocumentFactory(worker=w, specialty=emp.specialty)
    worker_refresh_derived(worker_ids=[w.pk])
    w.refresh_from_db()
    return w


def _results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_anonymous_and_public_token_never_see_protected_fields(client, worker, public_token):
    for extra in ({}, bearer(public_token)):
        rows = _results(client.get("/api/v1/workers/", {"q": "петрова"}, **extra))
        assert [r["registry_number"] for r in rows] == [worker.registry_number]
        assert not PROTECTED & rows[0].keys()
        detail = client.get(f"/api/v1/workers/{worker.registry_number}/", **extra).json()
        assert not PROTECTED & detail.keys()
        body = client.get(f"/api/v1/workers/{worker.registry_number}/", **extra).content.decode()
        assert worker.snils not in body and worker.inn not in body and "1985-05-17" not in body
        docs = client.get(f"/api/v1/workers/{worker.registry_number}/admission-documents/", **extra).json()
        assert "number" not in docs[0] and docs[0]["status"]["code"] == "active"
    assert not AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED).exists()


def test_partner_scope_reads_protected_fields_and_each_read_is_journaled(client, worker, partner_token):
    detail = client.get(f"/api/v1/workers/{worker.registry_number}/", **bearer(partner_token)).json()
    assert detail["snils"] == worker.snils and detail["inn"] == worker.inn and detail["birth_date"] == "1985-05-17"
    assert detail["workplaces"][0]["organization"]["short_name"] == worker.employments.get().organization.short_name
    rows = _results(client.get("/api/v1/workers/", {"q": "петрова"}, **bearer(partner_token)))
    assert rows[0]["snils"] == worker.snils
    docs = client.get(f"/api/v1/workers/{worker.registry_number}/admission-documents/", **bearer(partner_token))
    assert docs.json()[0]["number"] == worker.admission_documents.get().number

    entries = AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED, object_id=worker.registry_number)
    assert entries.count() == 3
    token = PartnerToken.objects.get()
    assert all(e.details["partner_token"] == token.pk and e.details["partner"] == token.name for e in entries)
    assert "snils" in entries.order_by("id").first().details["fields"]


def test_revoked_or_wrong_token_is_refused_not_downgraded(client, worker, make_token):
    token, raw = make_token(scopes=["personal"])
    assert client.get("/api/v1/workers/", **bearer(raw)).status_code == 200
    partner_token_revoke(token=token)
    response = client.get("/api/v1/workers/", **bearer(raw))
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "invalid_token"
    assert client.get("/api/v1/workers/", **bearer(raw[:-1] + "x")).status_code == 401
    assert client.get("/api/v1/workers/", HTTP_AUTHORIZATION="Basic abc").status_code == 401
    assert PartnerToken.objects.get().key_hash != raw and raw not in str(PartnerToken.objects.values().get())


def test_rate_limit_is_per_token(client, worker, make_token):
    _, first = make_token(rate=3)
    _, second = make_token(rate=3)
    codes = [client.get("/api/v1/directories/", **bearer(first)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/directories/", **bearer(first))
    assert limited.json()["errors"][0]["code"] == "throttled" and int(limited["Retry-After"]) > 0
    assert client.get("/api/v1/directories/", **bearer(second)).status_code == 200


def test_anonymous_rate_limit_per_address(client, settings, db):
    settings.API_ANON_RATE_PER_MINUTE = 2
    assert [client.get("/api/v1/directories/").status_code for _ in range(3)] == [200, 200, 429]


def test_cursor_paging_walks_a_large_result_without_gaps_or_repeats(client, db):
    specialty = SpecialtyFactory()
    # Same surname for many: ties on the name are broken by id in the keyset.
    workers = WorkerFactory.create_batch(23, last_name="Сидорова", primary_specialty=specialty)
    seen, url, pages = [], "/api/v1/workers/?page_size=5&specialty=" + specialty.code, 0
    while url:
        body = client.get(url).json()
        seen += [r["registry_number"] for r in body["results"]]
        url, pages = body["next"], pages + 1
    assert pages == 5
    assert sorted(seen) == sorted(w.registry_number for w in workers)
    assert len(seen) == len(set(seen))


def test_search_uses_the_public_validation_with_field_named(client, db):
    response = client.get("/api/v1/workers/", {"specialty": "нет-такого", "registered_from": "вчера"})
    assert response.status_code == 400
    errors = {e["field"]: e for e in response.json()["errors"]}
    assert errors["specialty"]["message"] == "Специальность: неизвестный код «нет-такого»."
    assert "registered_from" in errors
    bad = client.get("/api/v1/workers/", {"cursor": "!!!"}).json()["errors"][0]
    assert bad["field"] == "cursor" and bad["code"] == "invalid"
    assert client.get("/api/v1/workers/", {"page_size": "0"}).json()["errors"][0]["field"] == "page_size"


def test_unknown_worker_is_a_json_404(client, db):
    response = client.get("/api/v1/workers/0000000000/")
    assert response.status_code == 404
    assert response.json() == {"errors": [{"code": "not_found", "field": None, "message": "Не найдено."}]}


def test_changes_feed_returns_rows_changed_since_in_order(client, db):
    old, changed = WorkerFactory(), WorkerFactory()
    long_ago = timezone.now() - dt.timedelta(days=3)
    MedicalWorker.objects.filter(pk__in=[old.pk, changed.pk]).update(updated_at=long_ago)
    since = timezone.now() - dt.timedelta(hours=1)
    # A new workplace is an edit of the record: the refresh bumps updated_at.
    EmploymentFactory(worker=changed)
    worker_refresh_derived(worker_ids=[changed.pk])
    new = WorkerFactory()
    rows = _results(client.get("/api/v1/workers/changes/", {"updated_since": since.isoformat()}))
    assert [r["registry_number"] for r in rows] == [changed.registry_number, new.registry_number]
    everything = _results(client.get("/api/v1/workers/changes/"))
    assert everything[0]["registry_number"] == old.registry_number
    for wrong in ("позавчера", "2026-02-30T10:00:00", "2026-13-01"):
        bad = client.get("/api/v1/workers/changes/", {"updated_since": wrong})
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "updated_since"
    # An offset PostgreSQL would refuse (found by the contract test) is converted, not a 500.
    odd = client.get("/api/v1/workers/changes/", {"updated_since": "0299-01-21T09:17:13+19:06"})
    assert odd.status_code == 200
    assert len(_results(client.get("/api/v1/workers/changes/", {"updated_since": "2000-01-01"}))) == 3


def test_changes_feed_pages_by_updated_at_and_id(client, db):
    workers = WorkerFactory.create_batch(7)
    moment = timezone.now() - dt.timedelta(minutes=5)
    MedicalWorker.objects.update(updated_at=moment)  # all tie on updated_at
    seen, url = [], "/api/v1/workers/changes/?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [r["registry_number"] for r in body["results"]]
        url = body["next"]
    assert seen == [w.registry_number for w in sorted(workers, key=lambda w: w.pk)]


def test_worker_list_query_count_does_not_grow_with_the_page(client, django_assert_max_num_queries, partner_token):
    for _ in range(30):
        emp = EmploymentFactory()
        AdmissionDocumentFactory(worker=emp.worker, specialty=emp.specialty)
    worker_refresh_derived(worker_ids=list(MedicalWorker.objects.values_list("pk", flat=True)))
    # token lookup, last-used update, page, one INSERT for the journal of the whole page
    with django_assert_max_num_queries(4):
        assert len(_results(client.get("/api/v1/workers/?page_size=30", **bearer(partner_token)))) == 30
    with django_assert_max_num_queries(2):
        assert len(_results(client.get("/api/v1/workers/changes/?page_size=30"))) == 30
    with django_assert_max_num_queries(2):
        assert len(_results(client.get("/api/v1/organizations/?page_size=30"))) == 30
    with django_assert_max_num_queries(4):
        client.get(f"/api/v1/workers/{MedicalWorker.objects.first().registry_number}/")


def test_organizations_licenses_and_directories(client, db):
    from registry.models import OrganizationLicense

    org = OrganizationFactory(short_name="Клиника Ромашка")
    OrganizationLicense.objects.create(
        organization=org, number="Л041-01137-77/00368557", issued_on=dt.date(2020, 1, 10), authority="Росздравнадзор"
    )
    rows = _results(client.get("/api/v1/organizations/", {"q": "ромаш"}))
    assert [r["id"] for r in rows] == [org.pk]
    detail = client.get(f"/api/v1/organizations/{org.pk}/").json()
    assert detail["licenses"][0]["number"] == "Л041-01137-77/00368557"
    licenses = _results(client.get("/api/v1/licenses/", {"organization": org.pk}))
    assert licenses[0]["status"]["code"] == "active"
    assert client.get("/api/v1/licenses/", {"status": "x"}).json()["errors"][0]["field"] == "status"
    directories = {d["name"]: d for d in client.get("/api/v1/directories/").json()}
    assert directories["specialty"]["oid"] == "1.2.643.5.1.13.13.11.1066"
    assert client.get("/api/v1/directories/nothing/").status_code == 404


def test_schema_and_docs_are_served_locally(client, db):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200 and "/api/v1/workers/" in schema.json()["paths"]
    response = client.get("/api/docs/")
    docs = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in docs and "cdn" not in docs.lower()
    # Under the CSP: no inline script (the start-up code is a script file), inline styles on this page only.
    assert "<script>" not in docs and "script-src 'self'" in response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in client.get("/registry/")["Content-Security-Policy"]


def test_admin_creates_token_shown_once_and_revokes(client, support_agent):
    support_agent.is_superuser = True
    support_agent.save()
    client.force_login(support_agent)
    response = client.post(
        "/admin/api/partnertoken/add/",
        {"name": "МИС региона", "contact": "", "scopes": ["personal"], "rate_per_minute": 60},
        follow=True,
    )
    assert response.status_code == 200
    token = PartnerToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    raw = next(word for m in shown for word in m.split() if word.startswith("mr_"))
    assert token.scopes == ["personal"] and token.created_by == support_agent
    assert client.get("/api/v1/directories/", **bearer(raw)).status_code == 200
    client.post("/admin/api/partnertoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/v1/directories/", **bearer(raw)).status_code == 401
    assert client.get(f"/admin/api/partnertoken/{token.pk}/change/").status_code == 200


def test_public_documents_are_the_profiles_and_the_documents_scope_gets_all(client, worker, make_token):
    first = worker.admission_documents.get()
    # An older, expired certificate for the same specialty: not on the public profile.
    AdmissionDocumentFactory(
        worker=worker, specialty=first.specialty, valid_until=dt.date(2020, 1, 1), issued_on=dt.date(2015, 1, 1)
    )
    url = f"/api/v1/workers/{worker.registry_number}/admission-documents/"
    public = client.get(url).json()
    assert [d["id"] for d in public] == [first.pk]
    _, raw = make_token(scopes=["documents"])
    full = client.get(url, **bearer(raw)).json()
    assert len(full) == 2 and {d["number"] for d in full} == set(
        worker.admission_documents.values_list("number", flat=True)
    )
    entry = AuditEntry.objects.get(event=AuditEntry.Event.DATA_VIEWED)
    assert entry.details["fields"] == ["admission_documents.number", "admission_documents.issued_on"]


def test_token_edit_in_admin_is_journaled(client, support_agent, make_token):
    support_agent.is_superuser = True
    support_agent.save()
    token, _ = make_token()
    client.force_login(support_agent)
    client.post(
        f"/admin/api/partnertoken/{token.pk}/change/",
        {"name": token.name, "contact": "", "scopes": ["personal"], "rate_per_minute": 10},
    )
    token.refresh_from_db()
    assert token.scopes == ["personal"] and token.rate_per_minute == 10
    entry = AuditEntry.objects.filter(object_type="partner_token", details__action="changed").get()
    assert entry.actor == support_agent and "scopes" in entry.details["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url,status",
    [
        ("/api/v1/organizations/³/", 404),  # «³».isdigit() is True and int("³") fails: it was a 500
        ("/api/v1/organizations/١٢/", 404),
        ("/api/v1/workers/³³³³³³³³³³/", 404),
        ("/api/v1/workers/?page_size=³", 400),
        ("/api/v1/licenses/?organization=³", 400),
        ("/fhir/Organization/³", 404),
        ("/fhir/Practitioner?_count=³", 400),
        ("/fhir/PractitionerRole?organization=³", 400),
        ("/registry/³³³³³³³³³³/", 404),
    ],
)
def test_non_ascii_digits_are_refused_not_a_server_error(client, url, status):
    assert client.get(url).status_code == status


@pytest.mark.django_db
def test_name_search_pages_by_cursor_in_name_order_without_gaps_or_repeats(client):
    """On PostgreSQL a name search pages through the name indexes (NameOrderedResult.keyset_page)."""
    from registry.search.engine import worker_search

    matching = [WorkerFactory(last_name=last, first_name="Анна") for last in ("Сидорова", "Сидоренко", "Сидорова")]
    matching += WorkerFactory.create_batch(9, last_name="Сидорова", first_name="Мария")
    matching.append(WorkerFactory(last_name="Петрова", first_name="Сидора"))  # the word at another position
    WorkerFactory.create_batch(4, last_name="Иванова", first_name="Анна")
    for worker in MedicalWorker.objects.all():
        worker_refresh_derived(worker_ids=[worker.id])
    expected = [w.registry_number for w in worker_search({"q": "сидор"}).queryset]
    assert sorted(expected) == sorted(w.registry_number for w in matching)
    seen, url, pages = [], "/api/v1/workers/?page_size=4&q=сидор", 0
    while url:
        body = client.get(url).json()
        seen += [r["registry_number"] for r in body["results"]]
        url, pages = body["next"], pages + 1
    assert seen == expected and pages == 4
    bundle = client.get("/fhir/Practitioner", {"name": "сидор", "_count": 20}).json()
    assert [e["resource"]["identifier"][0]["value"] for e in bundle["entry"]] == expected
