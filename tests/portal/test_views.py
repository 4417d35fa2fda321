import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from tests.factories import EmploymentFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.mark.django_db
def test_landing_shows_registry_counts(client, django_assert_max_num_queries):
    EmploymentFactory()
    with django_assert_max_num_queries(6):
        response = client.get(reverse("portal:landing"))
    assert response.status_code == 200
    assert response.context["stats"]["workers"] == 1
    assert "Регистр медицинских работников" in response.content.decode()


@pytest.mark.django_db
def test_landing_never_shows_protected_data(client):
    worker = EmploymentFactory().worker
    body = client.get(reverse("portal:landing")).content.decode()
    assert worker.snils not in body and worker.snils_display not in body


@pytest.mark.django_db
def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_fails(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "checks": {"database": "error", "broker": "inline", "cache": "ok"}}


@pytest.mark.django_db
def test_unknown_page_is_a_russian_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
