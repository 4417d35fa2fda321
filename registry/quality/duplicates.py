"""Duplicate workers: staff decisions on candidates, the guarded merge, its approval and the unmerge.

A merge moves everything that points at the merged record to the survivor, keeps a full snapshot of
the merged record and of what moved in WorkerMerge and the audit journal, and turns the merged
record's SNILS, INN and registry number into aliases of the survivor (WorkerAlias), so an import
row, an API call or a registration that carries them reaches the survivor instead of re-creating
the record. Before it, the identity fields are compared: another sex or birth date with no shared
document that proves one person, or a SNILS or INN in conflict, refuse the merge unless a second
staff member approves it with a written reason (MergeRequest). An unmerge restores the merged
record from the trail under its old id and moves back what was moved.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import uuid
from dataclasses import dataclass

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rapidfuzz.distance import DamerauLevenshtein

from core import validators
from core.audit import audit_record
from core.models import AuditEntry

from ..models import (
    AdmissionDocument,
    DuplicateCandidate,
    Education,
    MedicalWorker,
    MergeRequest,
    WorkerAlias,
    WorkerBlockKey,
    WorkerKeyState,
    WorkerMerge,
    WorkerTombstone,
)
from ..services import worker_refresh_derived, worker_tombstone_record

logger = logging.getLogger(__name__)

# Fields of the survivor a merge fills from the merged record when empty (and an unmerge empties again).
FILLED_FIELDS = ("inn", "middle_name", "phone", "email")
# Rows that belong to a record's identity, not its history: recomputed for the survivor, never moved.
NOT_MOVED = (DuplicateCandidate, WorkerBlockKey, WorkerKeyState, MergeRequest)


class MergeError(Exception):
    """The two records cannot be merged; the message says why (shown to staff)."""


class MergeNeedsApproval(MergeError):
    """The identity comparison refused the merge: a second staff member must approve it."""

    def __init__(self, findings: list[dict]):
        self.findings = findings
        super().__init__(
            "Объединение требует подтверждения вторым сотрудником: "
            + "; ".join(f["text"] for f in findings if f["blocking"])
        )


# --- The identity comparison before a merge ---------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """What shows two records are one person whatever their other fields say."""

    documents: frozenset[str]
    diplomas: frozenset[str]

    @property
    def any(self) -> bool:
        return bool(self.documents or self.diplomas)


def shared_proof(a: MedicalWorker, b: MedicalWorker) -> Proof:
    """Admission documents and diplomas the two records share."""
    docs_a = set(AdmissionDocument.objects.filter(worker=a).values_list("number", flat=True))
    docs_b = set(AdmissionDocument.objects.filter(worker=b).values_list("number", flat=True))
    dips_a = set(Education.objects.filter(worker=a).values_list("diploma_series", "diploma_number"))
    dips_b = set(Education.objects.filter(worker=b).values_list("diploma_series", "diploma_number"))
    return Proof(
        documents=frozenset(docs_a & docs_b), diplomas=frozenset(f"{s} {n}".strip() for s, n in dips_a & dips_b)
    )


def _near(x: str, y: str, body: int) -> bool:
    """One digit changed, or two neighbours swapped (a typo), in the number's body."""
    return bool(x and y) and DamerauLevenshtein.distance(x[:body], y[:body]) <= 1


def merge_findings(survivor: MedicalWorker, merged: MedicalWorker) -> list[dict]:
    """The identity fields compared: each difference, and whether it refuses the merge without approval."""
    proof = shared_proof(survivor, merged)
    proof_text = ""
    if proof.any:
        numbers = ", ".join(sorted(proof.documents | proof.diplomas))
        proof_text = f" (но записи связывает общий документ: {numbers})"
    findings = []
    if survivor.sex and merged.sex and survivor.sex != merged.sex:
        findings.append(
            {
                "field": "sex",
                "text": f"Пол различается: {survivor.get_sex_display()} / {merged.get_sex_display()}{proof_text}",
                "blocking": not proof.any,
            }
        )
    if survivor.birth_date and merged.birth_date and survivor.birth_date != merged.birth_date:
        findings.append(
            {
                "field": "birth_date",
                "text": f"Дата рождения различается: {survivor.birth_date:%d.%m.%Y} / {merged.birth_date:%d.%m.%Y}"
                f"{proof_text}",
                "blocking": not proof.any,
            }
        )
    confirmed = MedicalWorker.IdentityStatus.CONFIRMED
    if survivor.identity_status == confirmed and merged.identity_status == confirmed:
        # Each SNILS was confirmed against the social fund: two real SNILS, two people, unless staff say why not.
        findings.append(
            {
                "field": "snils",
                "text": f"СНИЛС обеих записей подтверждены: {validators.format_snils(survivor.snils)} / "
                f"{validators.format_snils(merged.snils)}",
                "blocking": True,
            }
        )
    if survivor.inn and merged.inn and survivor.inn != merged.inn and not _near(survivor.inn, merged.inn, 10):
        findings.append({"field": "inn", "text": f"ИНН различаются: {survivor.inn} / {merged.inn}", "blocking": True})
    return findings


# --- Candidates ---------------------------------------------------------------------------------------------


def duplicate_dismiss(*, candidate_id: int, actor=None, request=None) -> None:
    """«Не дубликат»: remembered for the pair for good (re-scans and re-imports never offer it again)."""
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


# --- Snapshots ------------------------------------------------------------------------------------------------


def _jsonable(value):
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    return value


def row_snapshot(obj) -> dict:
    """Every column of a row, JSON-safe, as restore_row takes it back."""
    return {f.attname: _jsonable(getattr(obj, f.attname)) for f in obj._meta.concrete_fields}


def restore_row(model, snapshot: dict):
    """Insert a row from its snapshot under its old primary key."""
    values = {}
    for f in model._meta.concrete_fields:
        if f.attname in snapshot:
            values[f.attname] = f.to_python(snapshot[f.attname]) if snapshot[f.attname] is not None else None
    obj = model(**values)
    obj.save(force_insert=True)
    return obj


# --- The merge ----------------------------------------------------------------------------------------------------


def worker_merge(
    *, survivor_id: int, merged_id: int, actor=None, request=None, approval: MergeRequest | None = None
) -> WorkerMerge:
    """Merge ``merged`` into ``survivor``: every related record (employments, documents, education,
    categories, НМО, tickets, watchers, and anything else pointing at the worker) moves to the
    survivor; empty fields of the survivor are filled; the merged record's SNILS, INN and registry
    number become aliases of the survivor; the merged record is deleted after a full snapshot is kept
    in WorkerMerge and the audit journal. Raises MergeError, or MergeNeedsApproval when the identity
    comparison refuses it and no approved MergeRequest is given."""
    if survivor_id == merged_id:
        raise MergeError("Нельзя объединить запись саму с собой.")
    with transaction.atomic():
        workers = {w.id: w for w in MedicalWorker.objects.select_for_update().filter(id__in=[survivor_id, merged_id])}
        if len(workers) != 2:
            raise MergeError("Одна из записей уже удалена или объединена.")
        survivor, merged = workers[survivor_id], workers[merged_id]
        if survivor.user_id and merged.user_id:
            raise MergeError("У обеих записей есть учётные записи работников: объединение только вручную.")
        findings = merge_findings(survivor, merged)
        if any(f["blocking"] for f in findings) and approval is None:
            raise MergeNeedsApproval(findings)
        record = _merge_rows(survivor, merged, actor=actor, findings=findings, approval=approval)
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            subject=survivor.user,
            actor=actor,
            request=request,
            object_type="worker_merge",
            object_id=survivor.registry_number,
            details={
                "merged": record.merged_registry_number,
                "moved": record.moved["moved"],
                "kept": {k: len(v) for k, v in record.moved["kept_in_trail"].items()},
                "findings": [f["text"] for f in findings],
                "approved_by": approval.decided_by_id if approval else None,
                "requested_by": approval.requested_by_id if approval else None,
            },
        )
        worker_refresh_derived(worker_ids=[survivor.id])
    return record


def _merge_rows(survivor, merged, *, actor, findings, approval) -> WorkerMerge:
    snapshot = row_snapshot(merged)
    pair = (min(survivor.id, merged.id), max(survivor.id, merged.id))
    candidates = list(
        DuplicateCandidate.objects.filter(worker_a_id=pair[0], worker_b_id=pair[1]).values_list("pk", flat=True)
    )
    DuplicateCandidate.objects.filter(pk__in=candidates).update(
        status=DuplicateCandidate.Status.MERGED, resolved_at=timezone.now(), resolved_by=actor
    )
    # Other open pairs of the merged record are found again against the survivor by the next scan.
    DuplicateCandidate.objects.filter(Q(worker_a_id=merged.id) | Q(worker_b_id=merged.id)).exclude(
        status=DuplicateCandidate.Status.MERGED
    ).delete()
    moved, kept, rows = _move_related(merged, survivor)
    filled = {}
    for name in FILLED_FIELDS:
        if not getattr(survivor, name) and getattr(merged, name):
            filled[name] = getattr(merged, name)
            setattr(survivor, name, getattr(merged, name))
    user = merged.user if merged.user_id and not survivor.user_id else None
    worker_tombstone_record(worker=merged, kind=WorkerTombstone.Kind.MERGED, merged_into=survivor)
    merged.delete()  # frees the unique SNILS/INN before the survivor may take the INN
    if user is not None:
        survivor.user = user
    survivor.save(update_fields=[*FILLED_FIELDS, "user", "updated_at"])
    record = WorkerMerge.objects.create(
        survivor=survivor,
        merged_registry_number=merged.registry_number,
        merged_worker_id=snapshot["id"],
        merged_snapshot=snapshot,
        moved={
            "moved": moved,
            "kept_in_trail": kept,
            "rows": rows,
            "filled": filled,
            "user_moved": user is not None,
            # The pair's candidate loses the merged record (SET_NULL); an unmerge puts it back.
            "candidates": [[pk, *pair] for pk in candidates],
        },
        findings=findings,
        merged_by=actor,
        approved_by=approval.decided_by if approval else None,
        approval_reason=approval.reason if approval else "",
    )
    aliases = [(WorkerAlias.Kind.SNILS, merged.snils), (WorkerAlias.Kind.REGISTRY_NUMBER, merged.registry_number)]
    if merged.inn and merged.inn != survivor.inn:
        aliases.append((WorkerAlias.Kind.INN, merged.inn))
    WorkerAlias.objects.bulk_create(
        [WorkerAlias(worker=survivor, kind=kind, value=value, merge=record) for kind, value in aliases if value],
        ignore_conflicts=True,
    )
    return record


def _move_related(merged, survivor) -> tuple[dict, dict, dict]:
    """Move every row that points at ``merged`` to ``survivor``; a row the survivor already has (a
    unique clash: the same diploma, a watch) stays behind, deleted with the merged record and kept
    in the trail. Returns (counts moved, rows kept in the trail, moved primary keys by model)."""
    moved: dict[str, int] = {}
    kept: dict[str, list] = {}
    rows: dict[str, dict] = {}
    for relation in MedicalWorker._meta.related_objects:
        model = relation.related_model
        if not (relation.one_to_many or relation.one_to_one) or model in NOT_MOVED:
            continue
        # Earlier merges into the merged record (WorkerMerge, WorkerAlias) follow it to the survivor too.
        field = relation.field.name
        for row in model._base_manager.filter(**{field: merged}):
            try:
                with transaction.atomic():
                    model._base_manager.filter(pk=row.pk).update(**{field: survivor})
            except IntegrityError:
                kept.setdefault(model._meta.label, []).append(row_snapshot(row))
                continue
            moved[model._meta.model_name] = moved.get(model._meta.model_name, 0) + 1
            rows.setdefault(model._meta.label, {"field": field, "pks": []})["pks"].append(_jsonable(row.pk))
    return moved, kept, rows


# --- Merges the comparison refused: a request and a second staff member's approval ---------------------------


def merge_request_create(*, survivor_id: int, merged_id: int, reason: str, requested_by, request=None) -> MergeRequest:
    """Ask a second staff member to approve a merge the identity comparison refused."""
    reason = (reason or "").strip()
    if not reason:
        raise MergeError("Обоснование: напишите, почему это один человек (например, какой документ это доказывает).")
    survivor = MedicalWorker.objects.filter(id=survivor_id).first()
    merged = MedicalWorker.objects.filter(id=merged_id).first()
    if survivor is None or merged is None or survivor_id == merged_id:
        raise MergeError("Одна из записей уже удалена или объединена.")
    with transaction.atomic():
        if MergeRequest.objects.filter(
            survivor_id=survivor_id, merged_id=merged_id, status=MergeRequest.Status.PENDING
        ).exists():
            raise MergeError("Запрос на это объединение уже ждёт подтверждения.")
        merge_request = MergeRequest.objects.create(
            survivor=survivor,
            merged=merged,
            survivor_number=survivor.registry_number,
            merged_number=merged.registry_number,
            findings=merge_findings(survivor, merged),
            reason=reason,
            requested_by=requested_by,
        )
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            actor=requested_by,
            request=request,
            object_type="merge_request",
            object_id=str(merge_request.pk),
            details={"action": "requested", "survivor": survivor.registry_number, "merged": merged.registry_number,
                     "reason": reason},
        )  # fmt: skip
    return merge_request


def merge_request_approve(*, merge_request_id: int, approver, note: str = "", request=None) -> WorkerMerge:
    """The second staff member approves: the merge runs, with both names and the reason in the trail."""
    with transaction.atomic():
        merge_request = MergeRequest.objects.select_for_update().get(pk=merge_request_id)
        if merge_request.status != MergeRequest.Status.PENDING:
            raise MergeError(f"Запрос уже рассмотрен: «{merge_request.get_status_display()}».")
        if merge_request.survivor_id is None or merge_request.merged_id is None:
            raise MergeError("Одна из записей уже удалена или объединена.")
        if merge_request.requested_by_id == approver.pk:
            raise MergeError("Подтвердить объединение должен другой сотрудник, не тот, кто его запросил.")
        merge_request.decided_by, merge_request.decided_at = approver, timezone.now()
        merge_request.decision_note = (note or "").strip()
        record = worker_merge(
            survivor_id=merge_request.survivor_id,
            merged_id=merge_request.merged_id,
            actor=approver,
            request=request,
            approval=merge_request,
        )
        merge_request.status, merge_request.merge = MergeRequest.Status.APPROVED, record
        merge_request.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "merge"])
    return record


def merge_request_decline(*, merge_request_id: int, actor, note: str = "", request=None) -> MergeRequest:
    with transaction.atomic():
        merge_request = MergeRequest.objects.select_for_update().get(pk=merge_request_id)
        if merge_request.status != MergeRequest.Status.PENDING:
            raise MergeError(f"Запрос уже рассмотрен: «{merge_request.get_status_display()}».")
        merge_request.status, merge_request.decided_by, merge_request.decided_at = (
            MergeRequest.Status.DECLINED,
            actor,
            timezone.now(),
        )
        merge_request.decision_note = (note or "").strip()
        merge_request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            actor=actor,
            request=request,
            object_type="merge_request",
            object_id=str(merge_request.pk),
            details={"action": "declined", "note": merge_request.decision_note},
        )
    return merge_request


# --- The unmerge ----------------------------------------------------------------------------------------------------


def worker_unmerge(*, merge_id: int, actor, reason: str, request=None) -> MedicalWorker:
    """Undo a merge: the merged record comes back from the trail under its old id, the rows that moved
    move back, the values the merge filled are emptied, the aliases it made are removed, and the pair
    is remembered as «Не дубликат». Returns the restored worker."""
    reason = (reason or "").strip()
    if not reason:
        raise MergeError("Причина разъединения: напишите, почему это разные люди.")
    with transaction.atomic():
        record = WorkerMerge.objects.select_for_update().get(pk=merge_id)
        _check_unmergeable(record)
        survivor = MedicalWorker.objects.select_for_update().get(pk=record.survivor_id)
        trail = record.moved
        WorkerAlias.objects.filter(merge=record).delete()
        for name, value in trail.get("filled", {}).items():
            if getattr(survivor, name) == value:
                setattr(survivor, name, "" if name != "inn" else None)
        user_id = record.merged_snapshot.get("user_id")
        if trail.get("user_moved") and survivor.user_id == user_id:
            survivor.user = None
        survivor.save(update_fields=[*FILLED_FIELDS, "user", "updated_at"])
        restored = restore_row(MedicalWorker, record.merged_snapshot)
        _move_back(trail, survivor=survivor, restored=restored)
        # «Не дубликат» from now on: the pair is remembered, never offered again.
        for pk, worker_a, worker_b in trail.get("candidates", []):
            DuplicateCandidate.objects.filter(pk=pk).update(
                worker_a_id=worker_a,
                worker_b_id=worker_b,
                status=DuplicateCandidate.Status.DISMISSED,
                resolved_at=timezone.now(),
                resolved_by=actor,
            )
        record.unmerged_at, record.unmerged_by, record.unmerge_reason = timezone.now(), actor, reason
        record.save(update_fields=["unmerged_at", "unmerged_by", "unmerge_reason"])
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            subject=restored.user,
            actor=actor,
            request=request,
            object_type="worker_unmerge",
            object_id=restored.registry_number,
            details={"survivor": survivor.registry_number, "reason": reason, "moved_back": trail.get("moved", {})},
        )
        worker_refresh_derived(worker_ids=[survivor.id, restored.id])
    return restored


def _check_unmergeable(record: WorkerMerge) -> None:
    if record.unmerged_at is not None:
        raise MergeError("Это объединение уже отменено.")
    if record.merged_worker_id is None or "rows" not in record.moved:
        raise MergeError("Объединение выполнено до появления отмены: восстановить запись автоматически нельзя.")
    snapshot = record.merged_snapshot
    taken = MedicalWorker.objects.filter(
        Q(pk=record.merged_worker_id)
        | Q(snils=snapshot.get("snils"))
        | Q(registry_number=snapshot.get("registry_number"))
    ).exclude(pk=record.survivor_id)
    if taken.exists():
        raise MergeError("Номер, СНИЛС или регистровый номер объединённой записи уже заняты другой записью.")
    if (
        snapshot.get("inn")
        and MedicalWorker.objects.filter(inn=snapshot["inn"]).exclude(pk=record.survivor_id).exists()
    ):
        raise MergeError("ИНН объединённой записи уже указан у другой записи.")


def _move_back(trail: dict, *, survivor: MedicalWorker, restored: MedicalWorker) -> None:
    for label, moved in trail.get("rows", {}).items():
        model = apps.get_model(label)
        model._base_manager.filter(pk__in=moved["pks"], **{moved["field"]: survivor}).update(
            **{moved["field"]: restored}
        )
    for label, snapshots in trail.get("kept_in_trail", {}).items():
        model = apps.get_model(label)
        for snapshot in snapshots:
            if not model._base_manager.filter(pk=snapshot.get("id")).exists():
                restore_row(model, snapshot)
