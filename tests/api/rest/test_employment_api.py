"""The employment API of an organization's own system (issue 20): writes through orgs.services with a
token bound to the organization and the scope employment:write."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Notification
from api import services
from api.models import PartnerToken
from core.models import AuditEntry
from registry.models import Employment, MedicalWorker
from tests.api.conftest import bearer
from tests.factories import (
    DismissalReasonFactory,
    EmploymentFactory,
    OrganizationFactory,
    PositionFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db

WRITE = PartnerToken.Scope.EMPLOYMENT_WRITE


@pytest.fixture
def org():
    return OrganizationFactory()


@pytest.fixture
def token(org):
    return services.partner_token_create(name="МИС больницы", scopes=[WRITE], organization=org, rate_per_minute=0)[1]


@pytest.fixture
def position():
    return PositionFactory()


def _post(client, url, body, raw):
    return client.post(url, body, content_type="application/json", **bearer(raw))


def _hire_body(worker, position_, /, **overrides):
    body = {
        "snils": worker.snils,
        "position": position_.code,
        "rate": "0.5",
        "started_on": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
        "department": "Хирургическое отделение",
        "kind": "external",
    }
    body.update(overrides)
    return body


def test_hire_creates_the_post_journals_with_the_token_and_notifies(client, org, token, position, worker_user):
    worker = worker_user.worker
    response = _post(client, f"/api/v1/organizations/{org.pk}/employments/", _hire_body(worker, position), token)
    assert response.status_code == 201, response.json()
    data = response.json()
    employment = Employment.objects.get(pk=data["id"])
    assert (employment.organization, employment.worker, employment.source) == (org, worker, "organization")
    assert data["rate"] == "0.50" and data["worker"] == worker.registry_number and data["position"] == position.code
    entries = AuditEntry.objects.filter(object_type="employment", object_id=str(employment.pk))
    assert {e.details.get("via") for e in entries} == {"organization", "api"}
    assert entries.get(details__via="api").details["partner_token"] == PartnerToken.objects.get().pk
    assert Notification.objects.filter(user=worker_user, kind="employment_hired").exists()


def test_hire_of_a_new_person_creates_the_worker(client, org, token, position):
    from core import validators

    snils = validators.snils_from_number(345_678_901)
    body = _hire_body(
        type("W", (), {"snils": snils})(),
        position,
        kind="main",
        person={"last_name": "Новикова", "first_name": "Ольга", "sex": "F", "birth_date": "1990-05-06"},
    )
    response = _post(client, f"/api/v1/organizations/{org.pk}/employments/", body, token)
    assert response.status_code == 201, response.json()
    assert MedicalWorker.objects.get(snils=snils).last_name == "Новикова"


@pytest.mark.parametrize(
    "override, field, text",
    [
        ({"rate": "2"}, "rate", "Ставка"),
        ({"rate": 0.5}, "rate", "Ставка: ожидается строка"),
        ({"position": "nope"}, "position", "нет в справочнике"),
        ({"snils": "112-233-445 00"}, "snils", "СНИЛС"),
        ({"started_on": "2020-13-40"}, "started_on", "Дата начала"),
        ({"started_on": "2999-01-01"}, "started_on", "Дата начала"),
        ({"kind": "full"}, "kind", "Вид занятости"),
        ({"snils": None}, "snils", "СНИЛС"),
    ],
)
def test_bad_hire_is_a_russian_400_naming_the_field_and_writes_nothing(
    client, org, token, position, override, field, text
):
    worker = WorkerFactory()
    response = _post(
        client, f"/api/v1/organizations/{org.pk}/employments/", _hire_body(worker, position, **override), token
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == field and text in error["message"], error
    assert not Employment.objects.exists()


def test_missing_fields_are_each_named(client, org, token):
    response = _post(client, f"/api/v1/organizations/{org.pk}/employments/", {}, token)
    fields = {e["field"] for e in response.json()["errors"]}
    assert response.status_code == 400 and fields == {"snils", "position", "rate", "started_on"}
    assert all("обязательное поле" in e["message"] for e in response.json()["errors"])


def test_body_that_is_not_an_object_or_not_json_is_400(client, org, token):
    url = f"/api/v1/organizations/{org.pk}/employments/"
    assert _post(client, url, [1, 2], token).status_code == 400
    response = client.post(url, "{", content_type="application/json", **bearer(token))
    assert response.status_code == 400 and response.json()["errors"]
    response = client.post(url, "a=1", content_type="application/x-www-form-urlencoded", **bearer(token))
    assert response.status_code == 415


def test_transfer_rate_and_dismiss_of_own_employment(client, org, token, position):
    DismissalReasonFactory()
    current = EmploymentFactory(organization=org, started_on=dt.date(2020, 1, 1), specialty=None)
    start = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = _post(
        client,
        f"/api/v1/employments/{current.pk}/transfer/",
        {"position": position.code, "rate": "1", "started_on": start},
        token,
    )
    assert response.status_code == 201, response.json()
    new_id = response.json()["id"]
    current.refresh_from_db()
    assert current.ended_on == timezone.localdate() - dt.timedelta(days=2)
    response = _post(client, f"/api/v1/employments/{new_id}/rate/", {"rate": "0,75"}, token)
    assert response.status_code == 200 and response.json()["rate"] == "0.75"
    response = _post(client, f"/api/v1/employments/{new_id}/dismiss/", {"ended_on": start, "reason": "77-1-3"}, token)
    assert response.status_code == 200 and response.json()["ended_on"] == start
    assert "по инициативе работника" in response.json()["dismissal_reason"]


def test_dismiss_with_unknown_reason_names_the_field(client, org, token):
    current = EmploymentFactory(organization=org)
    response = _post(
        client, f"/api/v1/employments/{current.pk}/dismiss/", {"ended_on": "2024-01-01", "reason": "nope"}, token
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "reason"


def test_token_of_organization_a_gets_404_for_b(client, token, position):
    other = OrganizationFactory()
    theirs = EmploymentFactory(organization=other)
    worker = WorkerFactory()
    assert (
        _post(client, f"/api/v1/organizations/{other.pk}/employments/", _hire_body(worker, position), token).status_code
        == 404
    )
    for action, body in (("transfer", {}), ("rate", {"rate": "1"}), ("dismiss", {})):
        response = _post(client, f"/api/v1/employments/{theirs.pk}/{action}/", body, token)
        assert response.status_code == 404 and response.json()["errors"][0]["code"] == "not_found"
    assert _post(client, "/api/v1/employments/abc/rate/", {"rate": "1"}, token).status_code == 404
    assert _post(client, "/api/v1/employments/99999999/rate/", {"rate": "1"}, token).status_code == 404
    theirs.refresh_from_db()
    assert theirs.rate == 1 and not Employment.objects.filter(worker=worker).exists()


def test_read_only_token_gets_403_and_no_token_401(client, org, make_token, position):
    _, read_only = make_token(scopes=["personal"])
    worker = WorkerFactory()
    url = f"/api/v1/organizations/{org.pk}/employments/"
    response = _post(client, url, _hire_body(worker, position), read_only)
    assert response.status_code == 403 and "employment:write" in response.json()["errors"][0]["message"]
    response = client.post(url, _hire_body(worker, position), content_type="application/json")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert not Employment.objects.exists()


def test_revoked_token_is_refused(client, org, token, position):
    services.partner_token_revoke(token=PartnerToken.objects.get())
    response = _post(
        client, f"/api/v1/organizations/{org.pk}/employments/", _hire_body(WorkerFactory(), position), token
    )
    assert response.status_code == 401


def test_write_scope_needs_an_organization():
    with pytest.raises(services.TokenError, match="Организация"):
        services.partner_token_create(name="x", scopes=[WRITE])


def test_reads_stay_open_to_a_write_token(client, token):
    assert client.get("/api/v1/workers/", **bearer(token)).status_code == 200


def test_schema_documents_the_write_operations_with_required_token(client):
    schema = client.get("/api/schema/?format=json").json()
    hire = schema["paths"]["/api/v1/organizations/{id}/employments/"]["post"]
    assert hire["security"] == [{"partnerToken": []}]
    assert list(hire["requestBody"]["content"]) == ["application/json"]
    assert {"201", "400", "401", "403", "404"} <= set(hire["responses"])
    for action in ("transfer", "rate", "dismiss"):
        assert f"/api/v1/employments/{{id}}/{action}/" in schema["paths"]


def test_admin_edits_the_token_organization_and_scopes(admin_client, org):
    response = admin_client.post(
        "/admin/api/partnertoken/add/",
        {"name": "МИС", "contact": "", "scopes": [WRITE], "organization": "", "rate_per_minute": "60"},
    )
    assert response.status_code == 200 and "укажите организацию токена" in response.content.decode()
    response = admin_client.post(
        "/admin/api/partnertoken/add/",
        {"name": "МИС", "contact": "", "scopes": [WRITE], "organization": str(org.pk), "rate_per_minute": "60"},
    )
    assert response.status_code == 302
    token = PartnerToken.objects.get()
    assert token.organization == org and token.scopes == [WRITE]
