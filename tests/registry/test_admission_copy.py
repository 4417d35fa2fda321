"""Every employment row carries its worker's admission, whichever path wrote either row (the triggers of
registry/models/admission_copy.py), so the staff list can filter by it without joining the workers."""

import datetime as dt

import pytest
from django.db import connection

from registry.apps import admission_copy_ensure
from registry.models import AdmissionStatus, Employment, MedicalWorker
from registry.models.admission_copy import (
    TRIGGERS,
    admission_copy_fill,
    admission_copy_remove,
    admission_copy_triggers,
)
from registry.services import admission_statuses_advance, worker_refresh_derived
from tests.factories import (
    AdmissionDocumentFactory,
    EmploymentFactory,
    OrganizationFactory,
    PositionFactory,
    SpecialtyFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 1)


def copies(*workers) -> dict[int, set[tuple[str, dt.date | None]]]:
    """worker id → the admission its posts carry, as read back from the database."""
    result: dict[int, set] = {w.pk: set() for w in workers}
    for worker_id, status, until in Employment.objects.filter(worker__in=workers).values_list(
        "worker_id", "worker_admission_status", "worker_admission_valid_until"
    ):
        result[worker_id].add((status, until))
    return result


def test_a_new_post_takes_its_workers_admission():
    worker = WorkerFactory(admission_status=AdmissionStatus.EXPIRED, admission_valid_until=dt.date(2025, 1, 31))
    fresh = WorkerFactory()
    EmploymentFactory(worker=worker)
    Employment.objects.bulk_create([Employment(**_post_like(worker)), Employment(**_post_like(fresh))])
    assert copies(worker, fresh) == {
        worker.pk: {("expired", dt.date(2025, 1, 31))},
        fresh.pk: {("none", None)},
    }


def test_a_refresh_that_changes_the_admission_passes_it_to_every_post():
    post = EmploymentFactory()
    EmploymentFactory(worker=post.worker, ended_on=dt.date(2020, 1, 1), started_on=dt.date(2015, 1, 1))
    other = EmploymentFactory()  # another worker's post is not touched
    until = TODAY + dt.timedelta(days=20)
    AdmissionDocumentFactory(worker=post.worker, specialty=post.specialty, valid_until=until)
    worker_refresh_derived(worker_ids=[post.worker_id], today=TODAY)
    assert copies(post.worker, other.worker) == {
        post.worker_id: {("expiring", until)},
        other.worker_id: {("none", None)},
    }


def test_the_daily_advance_passes_the_new_status_to_the_posts():
    worker = WorkerFactory(admission_status=AdmissionStatus.ACTIVE, admission_valid_until=TODAY - dt.timedelta(days=1))
    EmploymentFactory(worker=worker)
    assert admission_statuses_advance(today=TODAY)["expired"] == 1
    assert copies(worker) == {worker.pk: {("expired", TODAY - dt.timedelta(days=1))}}


def test_a_post_moved_to_another_worker_takes_that_workers_admission():
    post = EmploymentFactory()
    survivor = WorkerFactory(admission_status=AdmissionStatus.ACTIVE, admission_valid_until=dt.date(2030, 1, 1))
    Employment.objects.filter(pk=post.pk).update(worker=survivor)  # what a merge does
    assert copies(survivor) == {survivor.pk: {("active", dt.date(2030, 1, 1))}}


def test_the_fill_repairs_rows_whose_copy_differs_and_leaves_the_rest():
    worker = WorkerFactory()
    EmploymentFactory(worker=worker)
    EmploymentFactory()
    admission_copy_remove(connection)
    try:
        MedicalWorker.objects.filter(pk=worker.pk).update(
            admission_status=AdmissionStatus.SUSPENDED, admission_valid_until=dt.date(2027, 3, 1)
        )
        assert copies(worker) == {worker.pk: {("none", None)}}  # no trigger: the copy is stale
        assert admission_copy_fill(connection) == 1
        assert copies(worker) == {worker.pk: {("suspended", dt.date(2027, 3, 1))}}
        assert admission_copy_fill(connection) == 0
    finally:
        admission_copy_ensure(sender=None, using=connection.alias)


def test_migrate_puts_back_triggers_a_rebuilt_table_lost():
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    assert admission_copy_triggers(connection) == TRIGGERS[vendor]
    admission_copy_remove(connection)
    assert admission_copy_triggers(connection) == set()
    admission_copy_ensure(sender=None, using=connection.alias)
    assert admission_copy_triggers(connection) == TRIGGERS[vendor]
    worker = WorkerFactory()
    EmploymentFactory(worker=worker)
    MedicalWorker.objects.filter(pk=worker.pk).update(admission_status=AdmissionStatus.ANNULLED)
    assert copies(worker) == {worker.pk: {("annulled", None)}}


def _post_like(worker) -> dict:
    return {
        "worker": worker,
        "organization": OrganizationFactory(),
        "position": PositionFactory(),
        "specialty": SpecialtyFactory(),
        "rate": 1,
        "started_on": dt.date(2019, 1, 1),
    }
