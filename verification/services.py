"""Verification writes: identity and qualification applications, profile corrections.

Every function checks the current state and raises VerificationError, locks the row it changes,
saves with update_fields, leaves an ApplicationHistory row and an audit entry, and sends
notifications and tasks only after commit. Admin actions and Celery tasks call these same
functions; nothing else sets a status.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.notifications import notification_send
from core import reconcile
from core.audit import audit_record
from core.claims import claim_row
from core.models import AuditEntry
from registry import services as registry_services
from registry.models import (
    Employment,
    MedicalWorker,
)

from . import checks, selectors
from .documents import UploadRejected, document_discard, document_store
from .gateways import get_gateway
from .models import ApplicationHistory, ChangeRequest, IdentityApplication, QualificationApplication, StoredDocument

logger = logging.getLogger(__name__)

IDENTITY_FIX_DAYS = 30
QUALIFICATION_FIX_DAYS = 7
QUALIFICATION_CHECK_HOURS = 24
# A check that claimed its row longer ago than this has died (the task time limit is far shorter).
CHECK_LEASE = dt.timedelta(minutes=15)


class VerificationError(Exception):
    """A refusal to show the user; `field` names the form field it belongs to, if any."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


# --- Shared helpers ------------------------------------------------------------------------------


def _lock(model, pk, *related):
    """One row locked for update, with related rows read along. Only the row itself is locked
    (`of=self`): PostgreSQL refuses FOR UPDATE on the nullable side of a join (worker.user)."""
    return model.objects.select_for_update(of=("self",)).select_related(*related).get(pk=pk)


def _history(kind: str, application, from_status: str, *, actor=None, note: str = "") -> None:
    ApplicationHistory.objects.create(
        kind=kind,
        application_id=application.pk,
        from_status=from_status,
        to_status=application.status,
        actor=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        note=note,
    )


def _decide(
    kind: str, application, *, status: str, actor, note: str, fix_days: int | None = None, **values
) -> dt.datetime:
    """Record a decision on an application (status, when, the reasons, a fix deadline), release the
    check's claim and write the history row; returns the moment of the decision."""
    now = timezone.now()
    previous = application.status
    application.status = status
    application.decided_at = now
    application.decision_note = note
    application.check_started_at = None
    fields = ["status", "decided_at", "decision_note", "check_started_at", *values]
    if fix_days is not None:
        application.fix_deadline = now + dt.timedelta(days=fix_days)
        fields.append("fix_deadline")
    for name, value in values.items():
        setattr(application, name, value)
    application.save(update_fields=fields)
    _history(kind, application, previous, actor=actor, note=note)
    return now


def worker_for(user: User) -> MedicalWorker:
    worker = MedicalWorker.objects.filter(user=user).first() if user and user.is_authenticated else None
    if worker is None:
        raise VerificationError("Учётная запись не связана с записью регистра. Обратитесь в службу поддержки.")
    return worker


def _store_files(*, user: User, files: dict[str, tuple[object, str, str]]) -> dict[str, StoredDocument]:
    """Store each upload {field: (file, kind, label)}; on any refusal remove what was stored."""
    stored: dict[str, StoredDocument] = {}
    try:
        for field, (upload, kind, label) in files.items():
            if upload is None:
                continue
            try:
                stored[field] = document_store(uploaded_file=upload, owner=user, kind=kind, field_label=label)
            except UploadRejected as exc:
                raise VerificationError(exc.message, field=field) from None
    except BaseException:
        for document in stored.values():
            document_discard(document=document)
        raise
    return stored


@contextlib.contextmanager
def _discard_on_failure(stored: dict[str, StoredDocument]):
    """Files stored before the transaction are removed again if the transaction fails."""
    try:
        yield
    except BaseException:
        for document in stored.values():
            document_discard(document=document)
        raise


def _audit(
    *,
    worker: MedicalWorker,
    action: str,
    request=None,
    actor=None,
    object_type: str,
    object_id,
    fields: list[str] | None = None,
    extra: dict | None = None,
) -> None:
    details: dict[str, object] = {"action": action}
    if fields:
        details["fields"] = fields
    if extra:
        details.update(extra)
    audit_record(
        event=AuditEntry.Event.DATA_CHANGED,
        subject=worker.user,
        actor=actor,
        request=request,
        object_type=object_type,
        object_id=str(object_id),
        details=details,
    )


def _notify(
    worker: MedicalWorker, *, kind: str, template: str, context: dict, important: bool = False, link: str = ""
) -> None:
    if worker.user is None:
        return
    notification_send(
        user=worker.user,
        kind=kind,
        template=f"verification/emails/{template}",
        context={"worker": worker, **context},
        important=important,
        link=link or reverse("verification:cabinet"),
    )


def _claim(model, *, application_id: int, now: dt.datetime, redelivered: bool = False) -> dt.datetime | None:
    """Take the application for checking with one conditional UPDATE; None if another check has it
    or it was already decided. A claim left by a crashed check expires after CHECK_LEASE; a task the
    broker redelivered (its worker died in the middle: Celery rejected it back to the queue, or the
    visibility timeout ran out) retakes the claim at once. The old check, were it still alive, can no
    longer decide: a decision needs the claim it took (`_locked_claimed`)."""
    previous = model.objects.filter(pk=application_id).values_list("status", flat=True).first()
    claimed = claim_row(
        model,
        pk=application_id,
        queued=model.Status.SUBMITTED,
        running=model.Status.CHECKING,
        started_field="check_started_at",
        lease=CHECK_LEASE,
        now=now,
        retake_running=redelivered,
        check_attempts=F("check_attempts") + 1,
    )
    if not claimed:
        return None
    note = "Автоматическая проверка начата"
    if previous == model.Status.CHECKING:
        note += " заново: прежняя проверка прервана сбоем обработчика"
    ApplicationHistory.objects.create(
        kind=_KINDS[model],
        application_id=application_id,
        from_status=previous or "",
        to_status=model.Status.CHECKING,
        note=note,
    )
    return now


def _release(model, *, application_id: int, claimed_at: dt.datetime, error: BaseException) -> None:
    """Give the claim back after a failure, so the retry can take it at once."""
    released = model.objects.filter(
        pk=application_id, status=model.Status.CHECKING, check_started_at=claimed_at
    ).update(status=model.Status.SUBMITTED, check_started_at=None)
    if released:
        ApplicationHistory.objects.create(
            kind=_KINDS[model],
            application_id=application_id,
            from_status=model.Status.CHECKING,
            to_status=model.Status.SUBMITTED,
            note=f"Проверка прервана, будет повторена: {type(error).__name__}",
        )


def _locked_claimed(model, *, application_id: int, claimed_at: dt.datetime):
    application = _lock(model, application_id, "worker__user")
    if application.status != model.Status.CHECKING or application.check_started_at != claimed_at:
        return None  # someone else (staff, a re-claim) decided meanwhile
    return application


_KINDS = {
    IdentityApplication: ApplicationHistory.Kind.IDENTITY,
    QualificationApplication: ApplicationHistory.Kind.QUALIFICATION,
}


# --- Identity confirmation -----------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityInput:
    snils: str
    inn: str
    last_name: str
    first_name: str
    middle_name: str
    birth_date: dt.date


IDENTITY_FILES = {
    "passport_document": (StoredDocument.Kind.PASSPORT, "Паспорт (страница с фотографией)"),
    "qualification_document": (StoredDocument.Kind.QUALIFICATION, "Документ о квалификации"),
    "employer_id_document": (StoredDocument.Kind.EMPLOYER_ID, "Служебное удостоверение"),
}


def identity_application_submit(*, user: User, data: IdentityInput, files: dict, request=None) -> IdentityApplication:
    """Start identity confirmation: store the documents, create the application, queue the checks."""
    worker = worker_for(user)
    if data.snils != worker.snils:
        raise VerificationError("СНИЛС: укажите СНИЛС, с которым вы вошли в кабинет.", field="snils")
    if files.get("passport_document") is None:
        raise VerificationError("Паспорт: приложите страницу с фотографией.", field="passport_document")
    if files.get("qualification_document") is None:
        raise VerificationError("Документ о квалификации: приложите файл.", field="qualification_document")
    stored = _store_files(user=user, files={k: (files.get(k), *IDENTITY_FILES[k]) for k in IDENTITY_FILES})
    with _discard_on_failure(stored), transaction.atomic():
        worker = _lock(MedicalWorker, worker.pk, "user")
        current = selectors.identity_application_current(worker=worker)
        if current is not None and current.is_open:
            raise VerificationError("Заявление уже на проверке: дождитесь результата.")
        if current is not None and current.can_fix():
            raise VerificationError("Исправьте и отправьте повторно отклонённое заявление.")
        application = IdentityApplication.objects.create(
            worker=worker,
            snils=data.snils,
            inn=data.inn,
            last_name=data.last_name,
            first_name=data.first_name,
            middle_name=data.middle_name,
            birth_date=data.birth_date,
            **stored,
        )
        _history(ApplicationHistory.Kind.IDENTITY, application, "", actor=user)
        if worker.identity_status != MedicalWorker.IdentityStatus.CONFIRMED:
            worker.identity_status = MedicalWorker.IdentityStatus.PENDING
            worker.save(update_fields=["identity_status", "updated_at"])
        _audit(
            worker=worker,
            action="identity_submitted",
            request=request,
            actor=user,
            object_type="identity_application",
            object_id=application.pk,
            extra={"documents": len(stored)},
        )
        transaction.on_commit(lambda: _enqueue_identity_check(application.pk))
    return application


def identity_application_resubmit(
    *, application: IdentityApplication, user: User, data: IdentityInput, files: dict, request=None
) -> IdentityApplication:
    """Fix a rejected application within 30 days of the rejection and send it again."""
    if data.snils != application.snils:
        raise VerificationError("СНИЛС: укажите СНИЛС, с которым вы вошли в кабинет.", field="snils")
    stored = _store_files(user=user, files={k: (files.get(k), *IDENTITY_FILES[k]) for k in IDENTITY_FILES})
    with _discard_on_failure(stored), transaction.atomic():
        application = _lock(IdentityApplication, application.pk, "worker")
        if not application.can_fix():
            raise VerificationError("Заявление нельзя исправить: срок исправления истёк или оно не отклонено.")
        changed = [
            f
            for f in ("inn", "last_name", "first_name", "middle_name", "birth_date")
            if getattr(application, f) != getattr(data, f)
        ]
        for field in changed:
            setattr(application, field, getattr(data, field))
        for field, document in stored.items():
            setattr(application, field, document)
        previous = application.status
        application.status = IdentityApplication.Status.SUBMITTED
        application.submitted_at = timezone.now()
        application.fix_deadline = None
        application.decided_at = None
        application.check_started_at = None
        application.save(
            update_fields=[
                *changed,
                *stored.keys(),
                "status",
                "submitted_at",
                "fix_deadline",
                "decided_at",
                "check_started_at",
            ]
        )
        _history(ApplicationHistory.Kind.IDENTITY, application, previous, actor=user, note="Исправлено работником")
        _audit(
            worker=application.worker,
            action="identity_resubmitted",
            request=request,
            actor=user,
            object_type="identity_application",
            object_id=application.pk,
            fields=changed + list(stored.keys()),
        )
        transaction.on_commit(lambda: _enqueue_identity_check(application.pk))
    return application


def _enqueue_identity_check(application_id: int) -> None:
    # Never raises into the request: with the broker down the application stays submitted and the
    # reconciler (core.reconcile, registered in verification.apps) enqueues it again.
    reconcile.enqueue("verification.check_identity_application", application_id)


def identity_application_check(*, application_id: int, gateway=None, redelivered: bool = False) -> str:
    """Run the automatic checks once; returns the resulting status or "skipped". ``redelivered``: the
    broker gave this task again after its worker died, and it may retake that worker's claim.

    Raises GatewayUnavailable (the claim released) so the task can retry with backoff.
    """
    now = timezone.now()
    claimed_at = _claim(IdentityApplication, application_id=application_id, now=now, redelivered=redelivered)
    if claimed_at is None:
        return "skipped"
    try:
        application = IdentityApplication.objects.select_related(
            "passport_document", "qualification_document", "employer_id_document"
        ).get(pk=application_id)
        problems = checks.identity_document_problems(application)
        if not problems:
            problems = checks.identity_discrepancies(application, gateway or get_gateway())
    except BaseException as exc:
        _release(IdentityApplication, application_id=application_id, claimed_at=claimed_at, error=exc)
        raise
    with transaction.atomic():
        application = _locked_claimed(IdentityApplication, application_id=application_id, claimed_at=claimed_at)
        if application is None:
            return "skipped"
        if problems:
            _identity_reject(application, discrepancies=problems, actor=None, note="Автоматическая проверка")
        else:
            _identity_confirm(application, actor=None, note="Автоматическая проверка")
        return application.status


def identity_application_to_manual_review(*, application_id: int, reason: str) -> bool:
    """The state registry stayed unavailable after every retry: a person decides. Never a pass."""
    with transaction.atomic():
        application = IdentityApplication.objects.select_for_update().get(pk=application_id)
        if application.status not in (IdentityApplication.Status.SUBMITTED, IdentityApplication.Status.CHECKING):
            return False
        previous = application.status
        application.status = IdentityApplication.Status.MANUAL_REVIEW
        application.check_started_at = None
        application.save(update_fields=["status", "check_started_at"])
        _history(ApplicationHistory.Kind.IDENTITY, application, previous, note=reason)
    return True


def identity_applications_escalate_stuck(*, now: dt.datetime | None = None) -> int:
    """An identity check that has not finished within 24 hours (no worker, repeated crashes) goes
    to staff, like a qualification check. Conditional UPDATE per row: safe to run twice at once."""
    now = now or timezone.now()
    limit = now - dt.timedelta(hours=QUALIFICATION_CHECK_HOURS)
    open_statuses = [IdentityApplication.Status.SUBMITTED, IdentityApplication.Status.CHECKING]
    done = 0
    due = IdentityApplication.objects.filter(status__in=open_statuses, submitted_at__lte=limit)
    for pk, previous in due.values_list("pk", "status").iterator():
        with transaction.atomic():
            moved = IdentityApplication.objects.filter(pk=pk, status=previous, submitted_at__lte=limit).update(
                status=IdentityApplication.Status.MANUAL_REVIEW, check_started_at=None
            )
            if moved:
                application = IdentityApplication.objects.get(pk=pk)
                _history(
                    ApplicationHistory.Kind.IDENTITY,
                    application,
                    previous,
                    note=f"Автоматическая проверка не завершилась за {QUALIFICATION_CHECK_HOURS} ч",
                )
                done += 1
    return done


def identity_application_approve(
    *, application: IdentityApplication, actor: User, request=None, note: str = ""
) -> IdentityApplication:
    """Staff confirm an application in manual review (admin action)."""
    with transaction.atomic():
        application = _lock(IdentityApplication, application.pk, "worker__user")
        if application.status not in (IdentityApplication.Status.MANUAL_REVIEW, IdentityApplication.Status.CHECKING):
            raise VerificationError(f"Заявление в статусе «{application.get_status_display()}» нельзя подтвердить.")
        _identity_confirm(application, actor=actor, note=note or "Подтверждено сотрудником", request=request)
    return application


def identity_application_reject(
    *, application: IdentityApplication, actor: User, reason: str, request=None, discrepancies: list[dict] | None = None
) -> IdentityApplication:
    """Staff reject an application in manual review with a reason (admin action)."""
    reason = (reason or "").strip()
    if not reason:
        raise VerificationError("Причина отказа: укажите, что не так.", field="reason")
    with transaction.atomic():
        application = _lock(IdentityApplication, application.pk, "worker__user")
        if application.status not in (IdentityApplication.Status.MANUAL_REVIEW, IdentityApplication.Status.CHECKING):
            raise VerificationError(f"Заявление в статусе «{application.get_status_display()}» нельзя отклонить.")
        items = discrepancies or [
            {"field": "", "label": "Проверка сотрудником", "entered": "", "message": f"Проверка сотрудником: {reason}"}
        ]
        _identity_reject(application, discrepancies=items, actor=actor, note=reason, request=request)
    return application


def _identity_confirm(application: IdentityApplication, *, actor, note: str, request=None) -> None:
    now = _decide(
        ApplicationHistory.Kind.IDENTITY,
        application,
        status=IdentityApplication.Status.CONFIRMED,
        actor=actor,
        note=note,
        discrepancies=[],
    )
    worker = _lock(MedicalWorker, application.worker_id, "user")
    worker.identity_status = MedicalWorker.IdentityStatus.CONFIRMED
    worker.last_confirmed_at = now
    fields = ["identity_status", "last_confirmed_at"]
    if worker.inn is None and not MedicalWorker.objects.filter(inn=application.inn).exists():
        worker.inn = application.inn  # confirmed by the tax service just now
        fields.append("inn")
    worker.save(update_fields=[*fields, "updated_at"])
    _audit(
        worker=worker,
        action="identity_confirmed",
        request=request,
        actor=actor,
        object_type="identity_application",
        object_id=application.pk,
        fields=fields,
    )
    _notify(
        worker,
        kind="identity_confirmed",
        template="identity_confirmed",
        context={"application": application},
        important=True,
    )
    worker_id = worker.pk
    transaction.on_commit(lambda: registry_services.worker_refresh_derived(worker_ids=[worker_id]))


def _identity_reject(
    application: IdentityApplication, *, discrepancies: list[dict], actor, note: str, request=None
) -> None:
    _decide(
        ApplicationHistory.Kind.IDENTITY,
        application,
        status=IdentityApplication.Status.REJECTED,
        actor=actor,
        note=note,
        fix_days=IDENTITY_FIX_DAYS,
        discrepancies=discrepancies,
    )
    worker = _lock(MedicalWorker, application.worker_id, "user")
    if worker.identity_status != MedicalWorker.IdentityStatus.CONFIRMED:
        worker.identity_status = MedicalWorker.IdentityStatus.REJECTED
        worker.save(update_fields=["identity_status", "updated_at"])
    _audit(
        worker=worker,
        action="identity_rejected",
        request=request,
        actor=actor,
        object_type="identity_application",
        object_id=application.pk,
        fields=[d["field"] for d in discrepancies if d.get("field")],
    )
    _notify(
        worker,
        kind="identity_rejected",
        template="identity_rejected",
        context={"application": application, "discrepancies": discrepancies},
        important=True,
    )


def identity_applications_expire(*, now: dt.datetime | None = None) -> int:
    """30 days after a rejection without a fix the application expires."""
    now = now or timezone.now()
    return _applications_sweep(
        IdentityApplication,
        due=Q(status=IdentityApplication.Status.REJECTED, fix_deadline__lte=now),
        to_status=IdentityApplication.Status.EXPIRED,
        note=f"Не исправлено за {IDENTITY_FIX_DAYS} дней",
        notification="identity_expired",
    )


# --- Qualification confirmation ------------------------------------------------------------------


@dataclass(frozen=True)
class QualificationInput:
    diploma_number: str
    admission_number: str


QUALIFICATION_FILES = {
    "diploma_document": (StoredDocument.Kind.DIPLOMA, "Диплом об образовании"),
    "residency_document": (StoredDocument.Kind.RESIDENCY, "Документ об окончании ординатуры или интернатуры"),
    "admission_document": (StoredDocument.Kind.ADMISSION, "Сертификат специалиста или свидетельство об аккредитации"),
    "no_sanctions_document": (StoredDocument.Kind.NO_SANCTIONS, "Справка об отсутствии дисциплинарных взысканий"),
}


def qualification_application_submit(
    *, user: User, data: QualificationInput, files: dict, request=None
) -> QualificationApplication:
    """Send qualification documents for the automatic check (identity must be confirmed first).
    Missing files are allowed here: the check lists them, with 7 days to add them."""
    worker = worker_for(user)
    if worker.identity_status != MedicalWorker.IdentityStatus.CONFIRMED:
        raise VerificationError("Сначала подтвердите личность: квалификацию проверяют после неё.")
    stored = _store_files(user=user, files={k: (files.get(k), *QUALIFICATION_FILES[k]) for k in QUALIFICATION_FILES})
    with _discard_on_failure(stored), transaction.atomic():
        worker = _lock(MedicalWorker, worker.pk, "user")
        current = selectors.qualification_application_current(worker=worker)
        if current is not None and current.is_open:
            raise VerificationError("Заявление уже на проверке: дождитесь результата.")
        if current is not None and current.can_fix():
            raise VerificationError("Дополните и отправьте повторно заявление, возвращённое на исправление.")
        application = QualificationApplication.objects.create(
            worker=worker, diploma_number=data.diploma_number, admission_number=data.admission_number, **stored
        )
        _history(ApplicationHistory.Kind.QUALIFICATION, application, "", actor=user)
        _audit(
            worker=worker,
            action="qualification_submitted",
            request=request,
            actor=user,
            object_type="qualification_application",
            object_id=application.pk,
            extra={"documents": len(stored)},
        )
        transaction.on_commit(lambda: _enqueue_qualification_check(application.pk))
    return application


def qualification_application_resubmit(
    *, application: QualificationApplication, user: User, data: QualificationInput, files: dict, request=None
) -> QualificationApplication:
    """Add or replace what was missing or wrong, within 7 days, and send again."""
    stored = _store_files(user=user, files={k: (files.get(k), *QUALIFICATION_FILES[k]) for k in QUALIFICATION_FILES})
    with _discard_on_failure(stored), transaction.atomic():
        application = _lock(QualificationApplication, application.pk, "worker")
        if not application.can_fix():
            raise VerificationError("Заявление нельзя дополнить: срок исправления истёк или оно не возвращено.")
        changed = [f for f in ("diploma_number", "admission_number") if getattr(application, f) != getattr(data, f)]
        for field in changed:
            setattr(application, field, getattr(data, field))
        for field, document in stored.items():
            setattr(application, field, document)
        previous = application.status
        application.status = QualificationApplication.Status.SUBMITTED
        application.submitted_at = timezone.now()
        application.fix_deadline = None
        application.decided_at = None
        application.check_started_at = None
        application.save(
            update_fields=[
                *changed,
                *stored.keys(),
                "status",
                "submitted_at",
                "fix_deadline",
                "decided_at",
                "check_started_at",
            ]
        )
        _history(ApplicationHistory.Kind.QUALIFICATION, application, previous, actor=user, note="Дополнено работником")
        _audit(
            worker=application.worker,
            action="qualification_resubmitted",
            request=request,
            actor=user,
            object_type="qualification_application",
            object_id=application.pk,
            fields=changed + list(stored.keys()),
        )
        transaction.on_commit(lambda: _enqueue_qualification_check(application.pk))
    return application


def _enqueue_qualification_check(application_id: int) -> None:
    reconcile.enqueue("verification.check_qualification_application", application_id)


def qualification_application_check(*, application_id: int, redelivered: bool = False) -> str:
    """Run the automatic checks once; returns the resulting status or "skipped" (``redelivered``: as
    for identity_application_check)."""
    now = timezone.now()
    claimed_at = _claim(QualificationApplication, application_id=application_id, now=now, redelivered=redelivered)
    if claimed_at is None:
        return "skipped"
    try:
        application = QualificationApplication.objects.select_related(
            "diploma_document", "residency_document", "admission_document", "no_sanctions_document"
        ).get(pk=application_id)
        problems = checks.qualification_problems(application)
    except BaseException as exc:
        _release(QualificationApplication, application_id=application_id, claimed_at=claimed_at, error=exc)
        raise
    with transaction.atomic():
        application = _locked_claimed(QualificationApplication, application_id=application_id, claimed_at=claimed_at)
        if application is None:
            return "skipped"
        if problems:
            _qualification_needs_fix(application, problems=problems, actor=None, note="Автоматическая проверка")
        else:
            _qualification_confirm(application, actor=None, note="Автоматическая проверка")
        return application.status


def qualification_application_approve(
    *, application: QualificationApplication, actor: User, request=None, note: str = ""
) -> QualificationApplication:
    with transaction.atomic():
        application = _lock(QualificationApplication, application.pk, "worker__user")
        if application.status not in (
            QualificationApplication.Status.ESCALATED,
            QualificationApplication.Status.CHECKING,
        ):
            raise VerificationError(f"Заявление в статусе «{application.get_status_display()}» нельзя подтвердить.")
        _qualification_confirm(application, actor=actor, note=note or "Подтверждено сотрудником", request=request)
    return application


def qualification_application_reject(
    *, application: QualificationApplication, actor: User, reason: str, request=None
) -> QualificationApplication:
    """Staff return the application with what is missing or wrong; the worker has 7 days."""
    reason = (reason or "").strip()
    if not reason:
        raise VerificationError("Причина: укажите, что нужно исправить.", field="reason")
    with transaction.atomic():
        application = _lock(QualificationApplication, application.pk, "worker__user")
        if application.status not in (
            QualificationApplication.Status.ESCALATED,
            QualificationApplication.Status.CHECKING,
        ):
            raise VerificationError(f"Заявление в статусе «{application.get_status_display()}» нельзя вернуть.")
        problems = [
            {"field": "", "label": "Проверка сотрудником", "entered": "", "message": f"Проверка сотрудником: {reason}"}
        ]
        _qualification_needs_fix(application, problems=problems, actor=actor, note=reason, request=request)
    return application


def _qualification_confirm(application: QualificationApplication, *, actor, note: str, request=None) -> None:
    now = _decide(
        ApplicationHistory.Kind.QUALIFICATION,
        application,
        status=QualificationApplication.Status.CONFIRMED,
        actor=actor,
        note=note,
        problems=[],
    )
    worker = _lock(MedicalWorker, application.worker_id, "user")
    worker.has_confirmed_documents = True
    worker.last_confirmed_at = now
    worker.save(update_fields=["has_confirmed_documents", "last_confirmed_at", "updated_at"])
    _audit(
        worker=worker,
        action="qualification_confirmed",
        request=request,
        actor=actor,
        object_type="qualification_application",
        object_id=application.pk,
        fields=["has_confirmed_documents", "last_confirmed_at"],
    )
    _notify(
        worker,
        kind="qualification_confirmed",
        template="qualification_confirmed",
        context={"application": application},
        important=True,
    )
    worker_id = worker.pk
    transaction.on_commit(lambda: registry_services.worker_refresh_derived(worker_ids=[worker_id]))


def _qualification_needs_fix(
    application: QualificationApplication, *, problems: list[dict], actor, note: str, request=None
) -> None:
    _decide(
        ApplicationHistory.Kind.QUALIFICATION,
        application,
        status=QualificationApplication.Status.NEEDS_FIX,
        actor=actor,
        note=note,
        fix_days=QUALIFICATION_FIX_DAYS,
        problems=problems,
    )
    worker = application.worker
    _audit(
        worker=worker,
        action="qualification_needs_fix",
        request=request,
        actor=actor,
        object_type="qualification_application",
        object_id=application.pk,
        fields=[p["field"] for p in problems if p.get("field")],
    )
    _notify(
        worker,
        kind="qualification_needs_fix",
        template="qualification_needs_fix",
        context={"application": application, "problems": problems},
        important=True,
    )


def qualification_applications_escalate(*, now: dt.datetime | None = None) -> int:
    """A check not finished within 24 hours of submission goes to staff."""
    now = now or timezone.now()
    open_statuses = [QualificationApplication.Status.SUBMITTED, QualificationApplication.Status.CHECKING]
    return _applications_sweep(
        QualificationApplication,
        due=Q(status__in=open_statuses, submitted_at__lte=now - dt.timedelta(hours=QUALIFICATION_CHECK_HOURS)),
        to_status=QualificationApplication.Status.ESCALATED,
        note=f"Автоматическая проверка не завершилась за {QUALIFICATION_CHECK_HOURS} ч",
        notification="qualification_escalated",
        important=False,
        clear_claim=True,
    )


def qualification_applications_expire(*, now: dt.datetime | None = None) -> int:
    """7 days after the list of what to fix, an application not fixed is closed."""
    now = now or timezone.now()
    return _applications_sweep(
        QualificationApplication,
        due=Q(status=QualificationApplication.Status.NEEDS_FIX, fix_deadline__lte=now),
        to_status=QualificationApplication.Status.CLOSED,
        note=f"Не исправлено за {QUALIFICATION_FIX_DAYS} дней",
        notification="qualification_closed",
    )


def _applications_sweep(
    model, *, due: Q, to_status: str, note: str, notification: str, important: bool = True, clear_claim: bool = False
) -> int:
    """Move every application matching `due` to `to_status`, with a history row and a notification
    (template and kind both `notification`). Safe to run twice at once: each row moves with a
    conditional UPDATE that repeats `due` and its status, and only the run that moved it notifies."""
    done = 0
    values = {"status": to_status, **({"check_started_at": None} if clear_claim else {})}
    for pk, previous in model.objects.filter(due).values_list("pk", "status").iterator():
        with transaction.atomic():
            if not model.objects.filter(due, pk=pk, status=previous).update(**values):
                continue
            application = model.objects.select_related("worker__user").get(pk=pk)
            _history(_KINDS[model], application, previous, note=note)
            _notify(
                application.worker,
                kind=notification,
                template=notification,
                context={"application": application},
                important=important,
            )
            done += 1
    return done


def application_assign(*, application, assignee: User | None, actor: User) -> None:
    """Assign a review-queue item (any of the three kinds) to a staff member."""
    model = type(application)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=application.pk)
        locked.assignee = assignee
        locked.save(update_fields=["assignee"])


# --- Profile corrections -------------------------------------------------------------------------


def change_request_submit(*, user: User, new_values: dict, proof, comment: str = "", request=None) -> ChangeRequest:
    """«Отправить на проверку»: a correction with proof, for staff to review by hand."""
    worker = worker_for(user)
    if worker.identity_status != MedicalWorker.IdentityStatus.CONFIRMED:
        raise VerificationError("Исправлять сведения можно после подтверждения личности.")
    diff = selectors.change_diff(worker=worker, new_values=new_values)
    if not diff:
        raise VerificationError("Вы ничего не изменили: исправьте хотя бы одно поле.")
    if _pending_corrections(worker).exists():
        raise VerificationError("Предыдущая заявка на исправление ещё на проверке: дождитесь решения.")
    if proof is None:
        raise VerificationError("Подтверждающий документ: приложите файл.", field="proof")
    stored = _store_files(user=user, files={"proof": (proof, StoredDocument.Kind.OTHER, "Подтверждающий документ")})
    with _discard_on_failure(stored), transaction.atomic():
        MedicalWorker.objects.select_for_update().only("pk").get(pk=worker.pk)
        if _pending_corrections(worker).exists():
            raise VerificationError("Предыдущая заявка на исправление ещё на проверке: дождитесь решения.")
        change = ChangeRequest.objects.create(
            worker=worker, changes=diff, proof_document=stored["proof"], comment=(comment or "").strip()
        )
        _history(ApplicationHistory.Kind.CHANGE, change, "", actor=user)
        _audit(
            worker=worker,
            action="change_requested",
            request=request,
            actor=user,
            object_type="change_request",
            object_id=change.pk,
            fields=list(diff),
        )
    return change


def _pending_corrections(worker: MedicalWorker):
    # A dispute of an employer's entry waits apart: it does not hold up a correction, nor one another.
    return ChangeRequest.objects.filter(worker=worker, status=ChangeRequest.Status.PENDING, employment__isnull=True)


DISPUTE_KEY = "employment_dispute"


def employment_dispute_submit(
    *, user: User, employment_id: int, comment: str, proof=None, request=None
) -> ChangeRequest:
    """«Оспорить»: the worker says an employment row an employer entered is wrong. A correction request
    for support, who checks with the organization and fixes the row in the admin, then closes it
    (approving applies nothing by itself: the worker's words are not the register's facts)."""
    worker = worker_for(user)
    employment = (
        Employment.objects.select_related("organization", "position").filter(pk=employment_id, worker=worker).first()
    )
    if employment is None:
        raise VerificationError("Место работы не найдено.")
    if employment.source != Employment.Source.ORGANIZATION:
        raise VerificationError(
            "Оспорить можно запись, внесённую работодателем; для остальных сведений подайте заявку на исправление."
        )
    comment = (comment or "").strip()
    if len(comment) < 10:
        raise VerificationError("Комментарий: опишите, что в записи неверно (не короче 10 символов).", field="comment")
    stored = (
        _store_files(user=user, files={"proof": (proof, StoredDocument.Kind.OTHER, "Подтверждающий документ")})
        if proof is not None
        else {}
    )
    with _discard_on_failure(stored), transaction.atomic():
        MedicalWorker.objects.select_for_update().only("pk").get(pk=worker.pk)
        if ChangeRequest.objects.filter(employment=employment, status=ChangeRequest.Status.PENDING).exists():
            raise VerificationError("Эта запись уже оспорена: заявка на проверке.")
        change = ChangeRequest.objects.create(
            worker=worker,
            employment=employment,
            comment=comment,
            proof_document=stored.get("proof"),
            changes={
                DISPUTE_KEY: {
                    "label": "Место работы (оспорено)",
                    "old": _employment_text(employment),
                    "new": f"Работник оспаривает запись: {comment[:300]}",
                    "value": employment.pk,
                }
            },
        )
        _history(ApplicationHistory.Kind.CHANGE, change, "", actor=user)
        _audit(
            worker=worker,
            action="employment_disputed",
            request=request,
            actor=user,
            object_type="change_request",
            object_id=change.pk,
            extra={"employment": employment.pk, "organization": employment.organization.ogrn},
        )
    return change


def _employment_text(employment: Employment) -> str:
    period = f"с {employment.started_on:%d.%m.%Y}"
    if employment.ended_on:
        period += f" по {employment.ended_on:%d.%m.%Y}"
        if employment.dismissal_reason:
            period += f" ({employment.dismissal_reason})"
    department = f", {employment.department}" if employment.department else ""
    return (
        f"{employment.organization.short_name} (ОГРН {employment.organization.ogrn}): {employment.position.name}"
        f"{department}, {employment.get_kind_display().lower()}, ставка {employment.rate}, {period}"
    )


def change_request_approve(*, change_request: ChangeRequest, actor: User, request=None) -> ChangeRequest:
    """Apply the correction at once, all or nothing, and mark it Актуализировано."""
    try:
        with transaction.atomic():
            change = ChangeRequest.objects.select_for_update().get(pk=change_request.pk)
            if change.status != ChangeRequest.Status.PENDING:
                raise VerificationError(f"Заявка в статусе «{change.get_status_display()}» уже рассмотрена.")
            worker = _lock(MedicalWorker, change.worker_id, "user")
            try:
                registry_services.worker_correction_apply(
                    worker=worker, values={f: c["value"] for f, c in change.changes.items()}
                )
            except registry_services.RegistryError as exc:
                raise VerificationError(str(exc)) from exc
            change.status = ChangeRequest.Status.APPROVED
            change.decided_at = timezone.now()
            change.reviewed_by = actor
            change.save(update_fields=["status", "decided_at", "reviewed_by"])
            _history(ApplicationHistory.Kind.CHANGE, change, ChangeRequest.Status.PENDING, actor=actor)
            _audit(
                worker=worker,
                action="change_approved",
                request=request,
                actor=actor,
                object_type="change_request",
                object_id=change.pk,
                fields=list(change.changes),
            )
            _notify(
                worker, kind="change_approved", template="change_approved", context={"change": change}, important=True
            )
            registry_services.worker_refresh_derived(worker_ids=[worker.pk])
    except IntegrityError as exc:
        raise VerificationError(
            "Изменение нельзя применить: регистровый номер или номер документа уже занят другой записью."
        ) from exc
    return change


def change_request_reject(*, change_request: ChangeRequest, actor: User, reason: str, request=None) -> ChangeRequest:
    reason = (reason or "").strip()
    if not reason:
        raise VerificationError("Причина отказа: укажите, почему заявка отклонена.", field="reason")
    with transaction.atomic():
        change = _lock(ChangeRequest, change_request.pk, "worker__user")
        if change.status != ChangeRequest.Status.PENDING:
            raise VerificationError(f"Заявка в статусе «{change.get_status_display()}» уже рассмотрена.")
        change.status = ChangeRequest.Status.REJECTED
        change.decided_at = timezone.now()
        change.reviewed_by = actor
        change.reject_reason = reason
        change.save(update_fields=["status", "decided_at", "reviewed_by", "reject_reason"])
        _history(ApplicationHistory.Kind.CHANGE, change, ChangeRequest.Status.PENDING, actor=actor, note=reason)
        _audit(
            worker=change.worker,
            action="change_rejected",
            request=request,
            actor=actor,
            object_type="change_request",
            object_id=change.pk,
        )
        _notify(
            change.worker,
            kind="change_rejected",
            template="change_rejected",
            context={"change": change},
            important=True,
        )
    return change
