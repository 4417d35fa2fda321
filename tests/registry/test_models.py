import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from registry import services
from registry.models import AdmissionDocument, AdmissionStatus, Employment, MedicalWorker
from tests.factories import (
    AdmissionDocumentFactory,
    CategoryFactory,
    EmploymentFactory,
    OrganizationFactory,
    RegionFactory,
    SpecialtyFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 26)


def _violates(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


@pytest.mark.parametrize("rate", [Decimal("0.24"), Decimal("1.51"), Decimal("0")])
def test_employment_rate_outside_quarter_to_one_and_a_half_is_refused_by_database(rate):
    _violates(EmploymentFactory, rate=rate)


@pytest.mark.parametrize("rate", [Decimal("0.25"), Decimal("1.5")])
def test_employment_rate_bounds_are_allowed(rate):
    assert EmploymentFactory(rate=rate).pk


def test_employment_cannot_end_before_it_starts():
    _violates(EmploymentFactory, started_on=dt.date(2020, 1, 10), ended_on=dt.date(2020, 1, 9))


def test_dismissal_reason_requires_an_end_date():
    _violates(EmploymentFactory, dismissal_reason="по собственному желанию")


def test_snils_is_unique():
    worker = WorkerFactory()
    _violates(WorkerFactory, snils=worker.snils)


def test_registry_number_is_unique():
    worker = WorkerFactory()
    _violates(WorkerFactory, registry_number=worker.registry_number)


def test_admission_document_must_expire_after_issue():
    _violates(AdmissionDocumentFactory, issued_on=dt.date(2024, 1, 1), valid_until=dt.date(2024, 1, 1))


def test_accreditation_needs_its_kind_and_certificate_has_none():
    _violates(AdmissionDocumentFactory, kind=AdmissionDocument.Kind.ACCREDITATION, accreditation_kind=None)


def test_same_document_number_of_one_kind_is_refused():
    doc = AdmissionDocumentFactory()
    _violates(AdmissionDocumentFactory, number=doc.number)


@pytest.mark.parametrize(
    ("days_left", "status", "expected"),
    [
        (91, "valid", AdmissionStatus.ACTIVE),
        (90, "valid", AdmissionStatus.EXPIRING),
        (0, "valid", AdmissionStatus.EXPIRING),
        (-1, "valid", AdmissionStatus.EXPIRED),
        (500, "suspended", AdmissionStatus.SUSPENDED),
        (500, "annulled", AdmissionStatus.ANNULLED),
    ],
)
def test_admission_status_of_a_document(days_left, status, expected):
    doc = AdmissionDocument(
        issued_on=TODAY - dt.timedelta(days=1000), valid_until=TODAY + dt.timedelta(days=days_left), status=status
    )
    assert doc.admission_status(TODAY) == expected


def test_refresh_derived_takes_region_and_specialty_from_main_workplace():
    worker = WorkerFactory(last_name="Ёлкина", first_name="Мария", middle_name="")
    moscow, spb = RegionFactory(code="77", name="Москва"), RegionFactory(code="78", name="Санкт-Петербург")
    therapy, cardio = SpecialtyFactory(), SpecialtyFactory()
    EmploymentFactory(
        worker=worker,
        organization=OrganizationFactory(region=spb),
        specialty=cardio,
        kind=Employment.Kind.EXTERNAL,
        rate=Decimal("0.5"),
    )
    EmploymentFactory(worker=worker, organization=OrganizationFactory(region=moscow), specialty=therapy)
    AdmissionDocumentFactory(worker=worker, specialty=therapy, valid_until=TODAY + dt.timedelta(days=30))
    AdmissionDocumentFactory(worker=worker, specialty=cardio, valid_until=TODAY + dt.timedelta(days=900))

    services.worker_refresh_derived(worker_ids=[worker.id], today=TODAY)

    worker.refresh_from_db()
    assert worker.region == moscow
    assert worker.primary_specialty == therapy
    # The main specialty's document decides, even though the part-time one is better.
    assert worker.admission_status == AdmissionStatus.EXPIRING
    assert worker.search_name == "елкина мария"


def test_refresh_derived_picks_the_best_document_and_current_highest_category():
    worker = WorkerFactory()
    spec = SpecialtyFactory()
    EmploymentFactory(worker=worker, specialty=spec)
    AdmissionDocumentFactory(worker=worker, specialty=spec, valid_until=TODAY - dt.timedelta(days=3))
    best = AdmissionDocumentFactory(worker=worker, specialty=spec, valid_until=TODAY + dt.timedelta(days=400))
    higher = CategoryFactory(code="3", name="Высшая", sort_order=3)
    lower = CategoryFactory(code="1", name="Вторая", sort_order=1)
    for category, until in ((higher, TODAY - dt.timedelta(days=1)), (lower, TODAY + dt.timedelta(days=10))):
        worker.category_assignments.create(
            category=category, specialty=spec, awarded_on=TODAY - dt.timedelta(days=1500), valid_until=until
        )

    services.worker_refresh_derived(worker_ids=[worker.id], today=TODAY)

    worker.refresh_from_db()
    assert (worker.admission_status, worker.admission_valid_until) == (AdmissionStatus.ACTIVE, best.valid_until)
    assert worker.category == lower  # the higher one has lapsed


def test_worker_without_documents_has_no_admission():
    worker = WorkerFactory()
    services.worker_refresh_derived(worker_ids=[worker.id], today=TODAY)
    worker.refresh_from_db()
    assert worker.admission_status == AdmissionStatus.NONE


def test_refresh_derived_query_count_does_not_grow_with_workers(django_assert_max_num_queries):
    workers = [EmploymentFactory().worker for _ in range(15)]
    for w in workers:
        AdmissionDocumentFactory(worker=w)
    # select_for_update + three related reads + one bulk update, and the duplicate check's blocking keys
    # (delete the old keys and their state, insert the new ones), regardless of the batch size.
    with django_assert_max_num_queries(12):
        assert services.worker_refresh_derived(worker_ids=[w.id for w in workers]) == 15


def test_advancing_admission_statuses_is_idempotent():
    today = timezone.localdate()
    expiring = WorkerFactory(
        admission_status=AdmissionStatus.ACTIVE, admission_valid_until=today + dt.timedelta(days=10)
    )
    expired = WorkerFactory(
        admission_status=AdmissionStatus.EXPIRING, admission_valid_until=today - dt.timedelta(days=1)
    )
    untouched = WorkerFactory(
        admission_status=AdmissionStatus.ACTIVE, admission_valid_until=today + dt.timedelta(days=300)
    )

    first = services.admission_statuses_advance(today=today)
    second = services.admission_statuses_advance(today=today)

    assert first == {"expired": 1, "expiring": 1}
    assert second == {"expired": 0, "expiring": 0}
    statuses = dict(MedicalWorker.objects.values_list("id", "admission_status"))
    assert statuses[expiring.id] == AdmissionStatus.EXPIRING
    assert statuses[expired.id] == AdmissionStatus.EXPIRED
    assert statuses[untouched.id] == AdmissionStatus.ACTIVE


def test_document_valid_longer_than_five_years_is_refused_by_validation():
    from django.core.exceptions import ValidationError

    doc = AdmissionDocumentFactory.build(issued_on=dt.date(2020, 1, 1), valid_until=dt.date(2099, 1, 1))
    with pytest.raises(ValidationError, match="5 лет"):
        doc.clean()
    doc.valid_until = dt.date(2025, 1, 1)
    doc.clean()


def test_admin_edit_of_a_document_refreshes_the_workers_status(client):
    from tests.factories import StaffFactory

    worker = WorkerFactory()
    spec = SpecialtyFactory()
    EmploymentFactory(worker=worker, specialty=spec)
    doc = AdmissionDocumentFactory(worker=worker, specialty=spec)
    services.worker_refresh_derived(worker_ids=[worker.id])
    client.force_login(StaffFactory(is_superuser=True))
    url = f"/admin/registry/admissiondocument/{doc.pk}/change/"
    data = {
        "worker": worker.pk,
        "kind": doc.kind,
        "specialty": spec.pk,
        "number": doc.number,
        "issued_on": doc.issued_on.isoformat(),
        "valid_until": doc.valid_until.isoformat(),
        "status": "annulled",
    }
    assert client.post(url, data).status_code == 302
    worker.refresh_from_db()
    assert worker.admission_status == AdmissionStatus.ANNULLED


def test_staff_opening_a_worker_record_in_admin_is_journaled(client):
    from core.models import AuditEntry
    from tests.factories import StaffFactory

    worker = WorkerFactory()
    client.force_login(StaffFactory(is_superuser=True))
    assert client.get(f"/admin/registry/medicalworker/{worker.pk}/change/").status_code == 200
    entry = AuditEntry.objects.get(event=AuditEntry.Event.DATA_VIEWED, object_id=worker.registry_number)
    assert entry.details == {"via": "admin"}
    # Issue 7: the add form issues a registry number itself and warns of probable duplicates.
    add_page = client.get("/admin/registry/medicalworker/add/")
    assert add_page.status_code == 200 and "confirm_not_duplicate" in add_page.content.decode()


@pytest.mark.django_db
def test_worker_identifiers_are_unique_without_extra_pattern_indexes():
    """Unique via constraints: no varchar_pattern_ops twin per number to maintain on every write."""
    from django.db import IntegrityError, connection, transaction

    from tests.factories import WorkerFactory

    worker = WorkerFactory(inn="500100732259")
    for field in ("registry_number", "snils", "inn"):
        with pytest.raises(IntegrityError), transaction.atomic():
            WorkerFactory(**{field: getattr(worker, field)})
    WorkerFactory(inn=None)
    WorkerFactory(inn=None)  # many workers without an INN
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'registry_medicalworker' "
                "AND indexdef LIKE '%%varchar_pattern_ops%%'"
            )
            assert cursor.fetchall() == []
