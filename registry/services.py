"""Writes that matter in the registry."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts.models import User
from core import validators
from core.audit import audit_record
from core.models import AuditEntry

from .models import (
    AdmissionDocument,
    AdmissionStatus,
    CategoryAssignment,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    Position,
    SearchWord,
    WorkerTombstone,
)
from .quality.matching import block_keys_write
from .selectors import best_document, worker_current_admission, worker_current_category, worker_main_employment

REFRESH_BATCH = 2000
# The employment status a correction gives to say the worker has no current job.
EMPLOYMENT_DISMISSED = "dismissed"
WORKER_FIELDS = ("last_name", "first_name", "middle_name", "registry_number", "phone", "email")
NAME_FIELDS = ("last_name", "first_name", "middle_name")


class RegistryError(Exception):
    """A change the register refuses; the message names the field and is shown to the user."""


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
            # The duplicate check's blocking keys, from the same rows and the same updated_at.
            block_keys_write(
                rows=[(w.id, w.last_name, w.first_name, w.middle_name, w.birth_date, now) for w in workers]
            )
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
    doc = best_document(documents=relevant, today=today)
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


def registry_number_next() -> str:
    """The registry number after the highest one issued (its serial plus one, with the check digit)."""
    top = MedicalWorker.objects.aggregate(top=Max("registry_number"))["top"]
    return validators.registry_number_from_serial(int(top[:9]) + 1 if top else 1)


def worker_create(
    *, worker: MedicalWorker, actor, request=None, duplicate_confirmed: bool = False, via: str = "admin"
) -> MedicalWorker:
    """Add a worker entered by staff (``via`` the admin, or an organization hiring a new person): issue the
    next registry number and journal the addition."""
    worker.search_name = validators.normalize_person_name(worker.full_name)
    for _attempt in range(3):  # two staff adding at once may draw the same number
        worker.registry_number = registry_number_next()
        try:
            with transaction.atomic():
                worker.save()
            break
        except IntegrityError:
            worker.pk = None
    else:
        raise IntegrityError("could not issue a registry number")
    audit_record(
        event=AuditEntry.Event.DATA_CHANGED,
        actor=actor,
        request=request,
        object_type="worker",
        object_id=worker.registry_number,
        details={"via": via, "action": "created", "duplicate_confirmed": duplicate_confirmed},
    )
    worker_refresh_derived(worker_ids=[worker.pk])
    return worker


# --- Corrections of a worker's record (approved by staff) ----------------------------------------------


def worker_correction_apply(*, worker: MedicalWorker, values: dict) -> None:
    """Apply a correction: {field: new value} in the shape of the cabinet's correction form. The
    caller holds the worker's lock and the transaction; RegistryError when a value cannot apply
    (nothing is then kept: the caller's transaction rolls back)."""
    _worker_fields_update(worker=worker, values=values)
    today = timezone.localdate()
    employment = worker_main_employment(worker=worker)
    if {"organization", "specialty", "employment_status"} & values.keys():
        employment = _employment_correct(worker=worker, employment=employment, values=values, today=today)
    if "admission_number" in values or "admission_valid_until" in values:
        _admission_correct(worker=worker, values=values)
    if "category" in values:
        specialty_id = values.get("specialty") or (employment.specialty_id if employment else None)
        _category_correct(worker=worker, category_id=values["category"], specialty_id=specialty_id, today=today)


def _ended_now(started_on: dt.date, today: dt.date) -> dt.date:
    # The register counts a job or category as current through its end date, so "ended now" is
    # yesterday (or the start day, for one that began today).
    return max(today - dt.timedelta(days=1), started_on)


def _worker_fields_update(*, worker: MedicalWorker, values: dict) -> None:
    fields = [f for f in WORKER_FIELDS if f in values]
    for field in fields:
        setattr(worker, field, values[field] or "")
    if fields:
        worker.save(update_fields=[*fields, "updated_at"])
    names = [f for f in NAME_FIELDS if f in values]
    if names and worker.user_id:
        # The account shows the same name as the record (header, messages, staff lists).
        account = User.objects.select_for_update().get(pk=worker.user_id)
        for field in names:
            setattr(account, field, values[field] or "")
        account.save(update_fields=names)


def _employment_correct(*, worker: MedicalWorker, employment: Employment | None, values: dict, today: dt.date):
    """Dismiss, move to another organization (a new employment row) or change the current one."""
    status = values.get("employment_status")
    if status == EMPLOYMENT_DISMISSED:
        if employment is not None:
            employment.ended_on = _ended_now(employment.started_on, today)
            employment.save(update_fields=["ended_on", "updated_at"])
        return employment
    organization = MedicalOrganization.objects.get(ogrn=values["organization"]) if values.get("organization") else None
    if employment is not None and (organization is None or organization.pk == employment.organization_id):
        fields = []
        if "specialty" in values:
            employment.specialty_id = values["specialty"]
            fields.append("specialty")
        if status:
            employment.kind = status
            fields.append("kind")
        if fields:
            employment.save(update_fields=[*fields, "updated_at"])
        return employment
    if employment is None and organization is None:
        raise RegistryError("Место работы: укажите ОГРН организации.")
    position = employment.position if employment else Position.objects.order_by("sort_order", "id").first()
    if position is None:
        raise RegistryError("Место работы: в справочнике нет ни одной должности.")
    if employment is not None:
        employment.ended_on = _ended_now(employment.started_on, today)
        employment.save(update_fields=["ended_on", "updated_at"])
    return Employment.objects.create(
        worker=worker,
        organization=organization if organization is not None else employment.organization,  # type: ignore[union-attr]
        position=position,
        specialty_id=values.get("specialty") or (employment.specialty_id if employment else None),
        rate=employment.rate if employment else 1,
        kind=status or Employment.Kind.MAIN,
        started_on=today,
    )


def _admission_correct(*, worker: MedicalWorker, values: dict) -> None:
    admission = worker_current_admission(worker=worker)
    if admission is None:
        raise RegistryError("Документ о допуске: в регистре нет документа, который можно исправить.")
    if values.get("admission_number"):
        admission.number = values["admission_number"]
    if values.get("admission_valid_until"):
        admission.valid_until = dt.date.fromisoformat(values["admission_valid_until"])
    admission.save(update_fields=["number", "valid_until", "updated_at"])


def _category_correct(*, worker: MedicalWorker, category_id: int | None, specialty_id: int | None, today: dt.date):
    assignment = worker_current_category(worker=worker)
    if category_id is None:
        if assignment is not None:
            assignment.valid_until = _ended_now(assignment.awarded_on + dt.timedelta(days=1), today)
            assignment.save(update_fields=["valid_until"])
    elif assignment is not None:
        assignment.category_id = category_id
        assignment.save(update_fields=["category"])
    else:
        if specialty_id is None:
            raise RegistryError("Категория: сначала укажите специальность.")
        CategoryAssignment.objects.create(
            worker=worker,
            category_id=category_id,
            specialty_id=specialty_id,
            awarded_on=today,
            valid_until=today + dt.timedelta(days=5 * 365),
        )


# --- Records that leave the register (the API changes feed reports them) ---------------------------------


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


# --- Employments entered one at a time (the organization cabinet and its API) ---------------------------
# The caller validates the values (orgs.services), holds the transaction and the worker's lock; these
# write the row and refresh the worker's derived columns, as an import does for its batch.


def employment_add(
    *,
    worker: MedicalWorker,
    organization: MedicalOrganization,
    values: dict,
    source: str = Employment.Source.REGISTER,
) -> Employment:
    """A new employment row of ``worker`` at ``organization``; ``values`` are Employment fields."""
    employment = Employment.objects.create(worker=worker, organization=organization, source=source, **values)
    worker_refresh_derived(worker_ids=[worker.pk])
    return employment


def employment_update(*, employment: Employment, values: dict, source: str = Employment.Source.REGISTER) -> Employment:
    """Change fields of an employment row (its rate, its end and dismissal reason...)."""
    for field, value in values.items():
        setattr(employment, field, value)
    employment.source = source
    employment.save(update_fields=[*values, "source", "updated_at"])
    worker_refresh_derived(worker_ids=[employment.worker_id])
    return employment
