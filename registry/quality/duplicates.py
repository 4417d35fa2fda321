"""Duplicate workers: detection, merge and dismissal."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.forms.models import model_to_dict
from django.utils import timezone

from core import validators
from core.audit import audit_record
from core.models import AuditEntry

from ..models import (
    AdmissionDocument,
    DuplicateCandidate,
    Education,
    MedicalWorker,
    WorkerMerge,
)
from ..services import worker_refresh_derived

logger = logging.getLogger(__name__)


class MergeError(Exception):
    """The two records cannot be merged; the message says why (shown to staff)."""


def probable_duplicates_of(
    *, last_name: str, first_name: str, middle_name: str = "", birth_date=None, exclude_id=None
) -> list[MedicalWorker]:
    """Workers who are probably this person (same normalized full name and birth date)."""
    search_name = validators.normalize_person_name(" ".join(p for p in (last_name, first_name, middle_name) if p))
    qs = MedicalWorker.objects.filter(search_name=search_name, birth_date=birth_date)
    if exclude_id:
        qs = qs.exclude(id=exclude_id)
    return list(qs.order_by("id")[:10])


def duplicates_detect() -> int:
    """Store every probable duplicate pair not yet known; returns how many were added.

    Two set-based passes: same normalized full name and birth date (GROUP BY), and same name with
    the same admission document or diploma number (self-join on the number).
    """
    pairs: dict[tuple[int, int], str] = {}
    groups = (
        MedicalWorker.objects.values("search_name", "birth_date")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("search_name", "birth_date")
    )
    keys = list(groups[:100_000])
    by_group = defaultdict(list)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        condition = Q()
        for name, birth in chunk:
            condition |= Q(search_name=name, birth_date=birth)
        for pk, name, birth in MedicalWorker.objects.filter(condition).values_list("id", "search_name", "birth_date"):
            by_group[(name, birth)].append(pk)
    for ids in by_group.values():
        ids.sort()
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                pairs[(a, b)] = DuplicateCandidate.Reason.NAME_BIRTH

    for source, field in ((AdmissionDocument, "number"), (Education, "diploma_number")):
        other = source.objects.filter(
            **{field: OuterRef(field)}, worker__search_name=OuterRef("worker__search_name")
        ).exclude(worker_id=OuterRef("worker_id"))
        rows = (
            source.objects.annotate(has_twin=Exists(other))
            .filter(has_twin=True)
            .values_list(field, "worker_id", "worker__search_name")[:100_000]
        )
        twins = defaultdict(set)
        for number, worker_id, name in rows:
            twins[(number, name)].add(worker_id)
        for ids in twins.values():
            ordered = sorted(ids)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    pairs.setdefault((a, b), DuplicateCandidate.Reason.NAME_DOCUMENT)
    before = DuplicateCandidate.objects.count()
    # A pair already known (open, merged or dismissed) is not offered again.
    DuplicateCandidate.objects.bulk_create(
        [DuplicateCandidate(worker_a_id=a, worker_b_id=b, reason=reason) for (a, b), reason in pairs.items()],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return DuplicateCandidate.objects.count() - before


def _snapshot(obj) -> dict:
    data = model_to_dict(obj)
    return {
        key: (value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value)
        for key, value in data.items()
        if not isinstance(value, (list, set))
    }


def worker_merge(*, survivor_id: int, merged_id: int, actor=None, request=None) -> WorkerMerge:
    """Merge ``merged`` into ``survivor``: every related record (employments, documents, education,
    categories, НМО, tickets, watchers, and anything else pointing at the worker) moves to the
    survivor; empty fields of the survivor are filled; the merged record is deleted after a full
    snapshot is kept in WorkerMerge and the audit journal. Raises MergeError."""
    if survivor_id == merged_id:
        raise MergeError("Нельзя объединить запись саму с собой.")
    with transaction.atomic():
        workers = {w.id: w for w in MedicalWorker.objects.select_for_update().filter(id__in=[survivor_id, merged_id])}
        if len(workers) != 2:
            raise MergeError("Одна из записей уже удалена или объединена.")
        survivor, merged = workers[survivor_id], workers[merged_id]
        if survivor.user_id and merged.user_id:
            raise MergeError("У обеих записей есть учётные записи работников: объединение только вручную.")
        snapshot = _snapshot(merged)
        moved: dict[str, int] = {}
        kept: dict[str, list] = {}
        DuplicateCandidate.objects.filter(
            Q(worker_a_id=min(survivor_id, merged_id), worker_b_id=max(survivor_id, merged_id))
        ).update(status=DuplicateCandidate.Status.MERGED, resolved_at=timezone.now(), resolved_by=actor)
        # Other open pairs of the merged record are re-detected against the survivor next time.
        DuplicateCandidate.objects.filter(Q(worker_a_id=merged_id) | Q(worker_b_id=merged_id)).exclude(
            status=DuplicateCandidate.Status.MERGED
        ).delete()
        for relation in MedicalWorker._meta.related_objects:
            if not (relation.one_to_many or relation.one_to_one) or relation.related_model is DuplicateCandidate:
                continue
            # Earlier merges into the merged record (WorkerMerge) follow it to the survivor too.
            model, field = relation.related_model, relation.field.name
            rows = list(model._base_manager.filter(**{field: merged}))
            for row in rows:
                try:
                    with transaction.atomic():
                        model._base_manager.filter(pk=row.pk).update(**{field: survivor})
                    moved[model._meta.model_name] = moved.get(model._meta.model_name, 0) + 1
                except IntegrityError:
                    # The survivor already has the same row (a diploma, a watch): keep it in the trail.
                    kept.setdefault(model._meta.model_name, []).append(_snapshot(row))
        for name in ("inn", "middle_name", "phone", "email"):
            if not getattr(survivor, name) and getattr(merged, name):
                setattr(survivor, name, getattr(merged, name))
        user = merged.user if merged.user_id and not survivor.user_id else None
        merged_number = merged.registry_number
        merged.delete()  # frees the unique SNILS/INN before the survivor may take the INN
        if user is not None:
            survivor.user = user
        survivor.save(update_fields=["inn", "middle_name", "phone", "email", "user", "updated_at"])
        record = WorkerMerge.objects.create(
            survivor=survivor,
            merged_registry_number=merged_number,
            merged_snapshot=snapshot,
            moved={"moved": moved, "kept_in_trail": kept},
            merged_by=actor,
        )
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            subject=survivor.user,
            actor=actor,
            request=request,
            object_type="worker_merge",
            object_id=survivor.registry_number,
            details={"merged": merged_number, "moved": moved, "kept": {k: len(v) for k, v in kept.items()}},
        )
        worker_refresh_derived(worker_ids=[survivor.id])
    return record


def duplicate_dismiss(*, candidate_id: int, actor=None, request=None) -> None:
    with transaction.atomic():
        updated = DuplicateCandidate.objects.filter(id=candidate_id, status=DuplicateCandidate.Status.OPEN).update(
            status=DuplicateCandidate.Status.DISMISSED, resolved_at=timezone.now(), resolved_by=actor
        )
        if updated:
            audit_record(
                event=AuditEntry.Event.DATA_CHANGED,
                actor=actor,
                request=request,
                object_type="duplicate_candidate",
                object_id=str(candidate_id),
                details={"decision": "dismissed"},
            )
