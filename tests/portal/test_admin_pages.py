"""Every registered model's admin list and add pages open for a superuser without errors."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import StaffFactory


@pytest.mark.django_db
@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_admin_changelist_opens(client, model):
    client.force_login(StaffFactory(is_superuser=True))
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_worker_admin_search_finds_by_identifiers_and_name_start_through_indexes(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from registry.models import MedicalWorker
    from registry.services import worker_refresh_derived
    from tests.factories import WorkerFactory

    target = WorkerFactory(last_name="Ёлкина", first_name="Анна", middle_name="Петровна", inn="500100732259")
    other = WorkerFactory(last_name="Елкин", first_name="Борис", middle_name="")
    worker_refresh_derived(worker_ids=[target.id, other.id])
    client.force_login(StaffFactory(is_superuser=True))
    url = reverse("admin:registry_medicalworker_changelist")

    def found(term):
        response = client.get(url, {"q": term})
        assert response.status_code == 200
        return {w.pk for w in response.context["cl"].result_list}

    target.refresh_from_db()
    for term in (
        target.registry_number,
        target.registry_number_display,
        target.snils_display,
        target.snils,
        "5001 0073 2259",
        "елкина",
        "ЁЛКИНА АН",
        "  ёлкина  анна петр",
    ):
        assert found(term) == {target.pk}, term
    assert found("елкин") == {target.pk, other.pk}
    assert found("елкин б") == {other.pk}
    assert found("1234") == set() and found("—") == set()
    with CaptureQueriesContext(connection) as queries:
        found(target.snils_display)
    search = [q["sql"] for q in queries.captured_queries if '"registry_medicalworker"."snils" =' in q["sql"]]
    assert search and not any("UPPER(" in sql for sql in search)  # exact lookups, which the unique indexes serve
    assert MedicalWorker.objects.count() == 2
