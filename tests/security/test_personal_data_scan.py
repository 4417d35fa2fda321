"""No protected personal data on anything the public can reach.

A generated dataset (workers with SNILS, INN, birth dates, phones and e-mails, accounts with
contacts, employments, admissions) is scanned for in every public page found in the URL resolver,
the public search (several queries and pages), every profile, the organisation suggestions and the
CSV/XLSX exports - as an anonymous visitor and as another signed-in worker. Expect 0 hits.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from registry.models import MedicalWorker
from tests.factories import AdmissionDocumentFactory, EmploymentFactory, UserFactory, WorkerFactory
from tests.security.test_object_access import _patterns

WORKERS = 12


def _snils_forms(snils: str) -> list[str]:
    return [snils, f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}", f"{snils[:3]}-{snils[3:6]}-{snils[6:9]}"]


def _phone_forms(phone: str) -> list[str]:
    digits = re.sub(r"\D", "", phone)[-10:]
    return [
        phone,
        digits,
        f"{digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
        f"({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}",
    ]


def _date_forms(day: dt.date) -> list[str]:
    return [day.strftime("%d.%m.%Y"), day.isoformat()]


@pytest.fixture
def dataset(db):
    """Workers whose protected values are distinctive, so any appearance is a leak, not a coincidence."""
    secrets: list[str] = []
    workers = []
    for n in range(WORKERS):
        user = UserFactory(email=f"private.person{n}@mail.example", phone=f"+7916{5550000 + n * 137:07d}")
        birth = dt.date(1951 + n, 2 + n % 10, 3 + n)
        worker = WorkerFactory(
            user=user,
            snils=user.snils,
            birth_date=birth,
            phone=f"+7903{4440000 + n * 91:07d}",
            email=f"worker.private{n}@inbox.example",
        )
        EmploymentFactory(worker=worker)
        AdmissionDocumentFactory(worker=worker, specialty=worker.employments.first().specialty)
        workers.append(worker)
        secrets += [*_snils_forms(worker.snils), worker.inn, *_date_forms(birth)]
        secrets += [*_phone_forms(worker.phone), *_phone_forms(user.phone), worker.email, user.email]
    from registry.services import worker_refresh_derived

    worker_refresh_derived(worker_ids=[w.pk for w in workers])
    return workers, secrets


def _text(response) -> str:
    if response.get("Content-Type", "").startswith("application/vnd.openxmlformats"):
        content = b"".join(response.streaming_content) if response.streaming else response.content
        book = load_workbook(io.BytesIO(content), read_only=True)
        rows = (row for sheet in book for row in sheet.iter_rows(values_only=True))
        return "\n".join(" ".join("" if v is None else str(v) for v in row) for row in rows)
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8", errors="replace")


def _public_urls(workers) -> list[str]:
    urls = []
    for route, name, params in _patterns():
        if params or route.startswith("admin/") or name in {"accounts:logout"}:
            continue
        urls.append("/" + route)
    search = reverse("registry:search")
    some = workers[0]
    urls += [
        search + "?q=" + some.last_name,
        search + "?q=" + some.last_name[:3],
        search + f"?region={some.employments.first().organization.region.code}",
        search + "?sort=-registered_on&per_page=50",
        search + "?q=" + some.registry_number,
        search + "?page=2",
        reverse("registry:organization_suggest") + "?org_q=Больница",
        reverse("registry:export_csv"),
        reverse("registry:export_xlsx"),
        reverse("registry:export_csv") + "?q=" + some.last_name,
        reverse("registry:export_csv") + "".join(f"&ids={w.registry_number}" for w in workers).replace("&", "?", 1),
    ]
    urls += [reverse("registry:profile", args=[w.registry_number]) for w in workers]
    # The API and FHIR without a partner token: the public scope (issue 8).
    urls += [reverse("api:worker-detail", args=[w.registry_number]) for w in workers]
    urls += [reverse("api:worker-documents", args=[w.registry_number]) for w in workers]
    urls += [reverse("fhir:practitioner-read", args=[w.registry_number]) for w in workers]
    urls += [
        reverse("api:worker-list") + "?q=" + some.last_name,
        reverse("api:worker-changes"),
        "/fhir/Practitioner?name=" + some.last_name,
        "/fhir/PractitionerRole",
    ]
    return urls


@pytest.mark.django_db
@pytest.mark.parametrize("viewer", ["anonymous", "another worker"])
def test_public_pages_search_profiles_and_exports_show_no_protected_data(dataset, viewer, second_worker_user):
    workers, secrets = dataset
    client = Client()
    if viewer == "another worker":
        client.force_login(second_worker_user)
    scanned = 0
    hits = []
    for url in _public_urls(workers):
        response = client.get(url)
        if response.status_code != 200:
            continue
        text = _text(response)
        scanned += 1
        hits += [f"{url}: {secret}" for secret in secrets if secret and secret in text]
    assert scanned >= len(workers) + 10  # the scan really read pages, profiles and exports
    assert hits == []


@pytest.mark.django_db
def test_the_scan_would_find_a_leak(dataset, client):
    # The same check over the staff view of a worker, where protected data is shown by design.
    workers, _ = dataset
    worker = workers[0]
    from tests.factories import StaffFactory

    client.force_login(StaffFactory(is_superuser=True))
    response = client.get(reverse("admin:registry_medicalworker_change", args=[worker.pk]))
    assert response.status_code == 200
    text = _text(response)
    assert worker.snils in text or _snils_forms(worker.snils)[1] in text
    assert any(form in text for form in _date_forms(worker.birth_date))


@pytest.mark.django_db
def test_profiles_exist_for_every_worker(dataset, client):
    workers, _ = dataset
    for worker in workers:
        response = client.get(reverse("registry:profile", args=[worker.registry_number]))
        assert response.status_code == 200
        assert worker.last_name in response.content.decode()
    assert MedicalWorker.objects.count() >= WORKERS
