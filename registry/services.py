"""Writes that matter in the registry."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.services import audit_record

from . import validators
from .models import (
    AdmissionDocument,
    AdmissionStatus,
    CategoryAssignment,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    SearchWord,
    WorkerTombstone,
)
from .selectors import best_document

REFRESH_BATCH = 2000


def worker_refresh_derived(*, worker_ids: Iterable[int], today: dt.date | None = None) -> int:
    """Recompute the denormalized search fields of the given workers; returns rows updated.

    Reads each related table once per batch (no per-worker queries) and writes with
    bulk_update, so it serves one worker after an edit and a whole import alike.
    """
    today = today or timezone.localdate()
    ids = list(worker_ids)
    updated = 0
    for start in range(0, len(ids), REFRESH_BATCH):
        batch = ids[start : start + REFRESH_BATCH]
        with transaction.atomic():
            workers = list(MedicalWorker.objects.select_for_update().filter(id__in=batch))
            employments = defaultdict(list)
            for emp in Employment.objects.filter(worker_id__in=batch).select_related("organization"):
                employments[emp.worker_id].append(emp)
            documents = defaultdict(list)
            for doc in AdmissionDocument.objects.filter(worker_id__in=batch):
                documents[doc.worker_id].append(doc)
            categories = defaultdict(list)
            for assignment in CategoryAssignment.objects.filter(worker_id__in=batch, valid_until__gte=today):
                categories[assignment.worker_id].append(assignment)

            now = timezone.now()
            for worker in workers:
                _apply_derived(worker, employments[worker.id], documents[worker.id], categories[worker.id], today)
                # bulk_update skips auto_now; the API changes feed (?updated_since=) needs the bump,
                # since a refresh follows every edit of the worker's workplaces and documents.
                worker.updated_at = now
            MedicalWorker.objects.bulk_update(
                workers,
                [
                    "search_name",
                    "region",
                    "primary_specialty",
                    "admission_status",
                    "admission_valid_until",
                    "category",
                    "updated_at",
                ],
            )
            search_words_add(names=[worker.search_name for worker in workers])
            updated += len(workers)
    return updated


def search_words_add(*, names: Iterable[str]) -> None:
    """Put the words of these names into the search dictionary (new ones only; counts wait for the rebuild)."""
    words = {
        (word[:100], min(position, 4))
        for name in names
        for position, word in enumerate(name.split(" "), start=1)
        if word
    }
    SearchWord.objects.bulk_create(
        [SearchWord(word=word, position=position, workers=1) for word, position in words], ignore_conflicts=True
    )


SEARCH_WORDS_REBUILD_SQL = """
    INSERT INTO registry_searchword (word, position, workers)
    SELECT left(v.word, 100), least(v.n, 4), count(*)
    FROM registry_medicalworker w
    CROSS JOIN LATERAL unnest(string_to_array(w.search_name, ' ')) WITH ORDINALITY AS v(word, n)
    WHERE v.word <> ''
    GROUP BY 1, 2
"""


def search_words_rebuild() -> int:
    """Recount the search dictionary from the names; returns the number of words.

    One transaction: searches keep seeing the old dictionary until the new one is committed.
    Set-based on PostgreSQL (a few seconds at 3 million workers); SQLite counts in Python.
    """
    with transaction.atomic():
        SearchWord.objects.all().delete()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(SEARCH_WORDS_REBUILD_SQL)
        else:
            counts: dict[tuple[str, int], int] = defaultdict(int)
            for name in MedicalWorker.objects.values_list("search_name", flat=True).iterator(chunk_size=5000):
                for position, word in enumerate(name.split(" "), start=1):
                    if word:
                        counts[word[:100], min(position, 4)] += 1
            SearchWord.objects.bulk_create(
                [SearchWord(word=w, position=p, workers=n) for (w, p), n in counts.items()], batch_size=2000
            )
    return SearchWord.objects.count()


def _apply_derived(worker, employments, documents, categories, today) -> None:
    worker.search_name = validators.normalize_person_name(worker.full_name)
    current = [e for e in employments if e.ended_on is None or e.ended_on >= today]
    # The main workplace decides region and specialty; a part-time post only if there is no main one.
    current.sort(key=lambda e: (e.kind != Employment.Kind.MAIN, -e.rate, -e.started_on.toordinal()))
    main = current[0] if current else None
    worker.region_id = main.organization.region_id if main else None
    worker.primary_specialty_id = main.specialty_id if main and main.specialty_id else None

    relevant = [d for d in documents if d.specialty_id == worker.primary_specialty_id] or documents
    doc = best_document(relevant, today)
    if doc is None:
        worker.admission_status, worker.admission_valid_until = AdmissionStatus.NONE, None
    else:
        worker.admission_status, worker.admission_valid_until = doc.admission_status(today), doc.valid_until
        if worker.primary_specialty_id is None:
            worker.primary_specialty_id = doc.specialty_id

    # Higher categories carry a higher sort_order in the directory (вторая < первая < высшая).
    best_category = max(categories, key=lambda c: (c.category.sort_order, c.awarded_on), default=None)
    worker.category_id = best_category.category_id if best_category else None
    # has_confirmed_documents is not derived here: it is set when a qualification application is
    # confirmed (verification.services), and only there.


def admission_statuses_advance(*, today: dt.date | None = None) -> dict[str, int]:
    """Move stored admission statuses forward as time passes (active → expiring → expired).

    Two set-based UPDATEs keyed on admission_valid_until; running it twice, or twice at
    once, gives the same result because each UPDATE only matches rows still behind.
    """
    today = today or timezone.localdate()
    expiring_from = today + dt.timedelta(days=settings.ADMISSION_EXPIRING_DAYS)
    with transaction.atomic():
        expired = MedicalWorker.objects.filter(
            admission_status__in=[AdmissionStatus.ACTIVE, AdmissionStatus.EXPIRING],
            admission_valid_until__lt=today,
        ).update(admission_status=AdmissionStatus.EXPIRED, updated_at=timezone.now())
        expiring = MedicalWorker.objects.filter(
            Q(admission_status=AdmissionStatus.ACTIVE),
            admission_valid_until__gte=today,
            admission_valid_until__lte=expiring_from,
        ).update(admission_status=AdmissionStatus.EXPIRING, updated_at=timezone.now())
    return {"expired": expired, "expiring": expiring}


def organization_refresh_search_name(*, organization: MedicalOrganization) -> None:
    organization.search_name = validators.normalize_person_name(organization.short_name)
    organization.save(update_fields=["search_name"])


def worker_tombstone_record(
    *, worker: MedicalWorker, kind: str, merged_into: MedicalWorker | None = None
) -> WorkerTombstone:
    """The changes feed's record that `worker` left the register; written in the transaction that removes it."""
    return WorkerTombstone.objects.create(
        worker_id=worker.pk, registry_number=worker.registry_number, kind=kind, merged_into=merged_into
    )


def worker_delete(*, worker_id: int, actor=None, request=None) -> WorkerTombstone | None:
    """Delete a worker record (staff, in the admin): a tombstone for the changes feed and a journal entry in
    the same transaction. None when the record is already gone."""
    with transaction.atomic():
        worker = MedicalWorker.objects.select_for_update().filter(pk=worker_id).first()
        if worker is None:
            return None
        tombstone = worker_tombstone_record(worker=worker, kind=WorkerTombstone.Kind.DELETED)
        subject = worker.user
        worker.delete()
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            subject=subject,
            actor=actor,
            request=request,
            object_type="worker",
            object_id=tombstone.registry_number,
            details={"action": "deleted"},
        )
    return tombstone
