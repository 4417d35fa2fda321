"""Review work for the demo support agent: identity and qualification applications in every state.

Each applicant is a synthetic worker given a login-less account (an unusable password) and two
documents stored through the real encrypted document store, so staff can open the scans. The ages
put some applications past their deadlines (docs/domain.md, Workflows): a check not finished in
24 hours, a rejected identity not fixed in 30 days, a qualification not fixed in 7 days; the
deadline sweep (`run_deadlines`) would move those next.

Added once: when any applicant already has an application the step is skipped.
"""

from __future__ import annotations

import datetime as dt
import io

from django.db import transaction
from django.utils import timezone
from PIL import Image

from accounts.models import User
from registry.models import MedicalWorker
from verification.documents import document_store
from verification.models import (
    ApplicationHistory,
    ChangeRequest,
    IdentityApplication,
    QualificationApplication,
    StoredDocument,
)
from verification.services import change_request_submit

Identity = IdentityApplication.Status
Qualification = QualificationApplication.Status

# (status, hours since submission, hours from now to the fix deadline or None)
IDENTITY_PLAN = (
    (Identity.SUBMITTED, 1, None),
    (Identity.CHECKING, 3, None),
    (Identity.SUBMITTED, 30, None),  # the automatic check missed its 24 hours
    (Identity.MANUAL_REVIEW, 5, None),
    (Identity.MANUAL_REVIEW, 50, None),
    (Identity.MANUAL_REVIEW, 9 * 24, None),
    (Identity.CONFIRMED, 20 * 24, None),
    (Identity.REJECTED, 6 * 24, 24 * 24),
    (Identity.REJECTED, 33 * 24, -3 * 24),  # not fixed in 30 days
    (Identity.EXPIRED, 60 * 24, -28 * 24),
)
QUALIFICATION_PLAN = (
    (Qualification.SUBMITTED, 2, None),
    (Qualification.CHECKING, 4, None),
    (Qualification.CHECKING, 28, None),  # the automatic check missed its 24 hours
    (Qualification.ESCALATED, 26, None),
    (Qualification.ESCALATED, 4 * 24, None),
    (Qualification.ESCALATED, 12 * 24, None),
    (Qualification.CONFIRMED, 15 * 24, None),
    (Qualification.NEEDS_FIX, 3 * 24, 4 * 24),
    (Qualification.NEEDS_FIX, 10 * 24, -2 * 24),  # not fixed in 7 days
    (Qualification.CLOSED, 40 * 24, -30 * 24),
)
# The worker's identity status that goes with the state of their identity application.
IDENTITY_OF_WORKER = {
    Identity.SUBMITTED: MedicalWorker.IdentityStatus.PENDING,
    Identity.CHECKING: MedicalWorker.IdentityStatus.PENDING,
    Identity.MANUAL_REVIEW: MedicalWorker.IdentityStatus.PENDING,
    Identity.CONFIRMED: MedicalWorker.IdentityStatus.CONFIRMED,
    Identity.REJECTED: MedicalWorker.IdentityStatus.REJECTED,
    Identity.EXPIRED: MedicalWorker.IdentityStatus.REJECTED,
}
FIRST_APPLICANT = 200  # the synthetic workers from this offset on (the first ones serve duplicates)
DISCREPANCY = [
    {
        "field": "inn",
        "label": "ИНН",
        "entered": "500100732259",
        "message": "ИНН не найден в сведениях ФНС для этого человека",
    }
]
PROBLEM = [
    {
        "field": "no_sanctions_document",
        "label": "Справка об отсутствии взысканий",
        "message": "Не приложена справка об отсутствии дисциплинарных взысканий",
    }
]


def _scan(name: str, colour: tuple[int, int, int]) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (420, 300), colour).save(buffer, format="PNG")
    buffer.name = name
    buffer.seek(0)
    return buffer


def _applicant(worker: MedicalWorker) -> tuple[User, StoredDocument, StoredDocument]:
    """A login-less account for the worker, with a passport scan and a qualification scan."""
    user = User(
        username=worker.snils,
        kind=User.Kind.WORKER,
        snils=worker.snils,
        last_name=worker.last_name,
        first_name=worker.first_name,
        middle_name=worker.middle_name,
        birth_date=worker.birth_date,
        email=worker.email,
    )
    user.set_unusable_password()
    user.save()
    MedicalWorker.objects.filter(pk=worker.pk).update(user=user)
    passport = document_store(
        uploaded_file=_scan("passport.png", (214, 222, 235)),
        owner=user,
        kind=StoredDocument.Kind.PASSPORT,
        field_label="Паспорт",
    )
    diploma = document_store(
        uploaded_file=_scan("diploma.png", (235, 228, 210)),
        owner=user,
        kind=StoredDocument.Kind.QUALIFICATION,
        field_label="Документ о квалификации",
    )
    return user, passport, diploma


def _times(now: dt.datetime, hours: int, fix_hours: int | None, decided: bool) -> dict:
    submitted = now - dt.timedelta(hours=hours)
    return {
        "created_at": submitted,
        "submitted_at": submitted,
        "decided_at": submitted + dt.timedelta(hours=2) if decided else None,
        "fix_deadline": now + dt.timedelta(hours=fix_hours) if fix_hours is not None else None,
    }


def _identity(worker, docs, status, times) -> IdentityApplication:
    return IdentityApplication.objects.create(
        worker=worker,
        status=status,
        snils=worker.snils,
        inn=worker.inn or "",
        last_name=worker.last_name,
        first_name=worker.first_name,
        middle_name=worker.middle_name,
        birth_date=worker.birth_date,
        passport_document=docs[0],
        qualification_document=docs[1],
        discrepancies=DISCREPANCY if status in (Identity.REJECTED, Identity.EXPIRED) else [],
        **times,
    )


def _qualification(worker, docs, status, times) -> QualificationApplication:
    return QualificationApplication.objects.create(
        worker=worker,
        status=status,
        diploma_number=f"1077{worker.snils[:8]}",
        admission_number=worker.snils[:11],
        diploma_document=docs[1],
        admission_document=docs[1],
        problems=PROBLEM if status in (Qualification.NEEDS_FIX, Qualification.CLOSED) else [],
        **times,
    )


def applications_seed(*, applicants: list[MedicalWorker], now: dt.datetime | None = None) -> int:
    """One identity and one qualification application per applicant, each plan row once."""
    if IdentityApplication.objects.filter(worker__in=applicants).exists():
        return 0
    now = now or timezone.now()
    plans = [(ApplicationHistory.Kind.IDENTITY, _identity, row) for row in IDENTITY_PLAN]
    plans += [(ApplicationHistory.Kind.QUALIFICATION, _qualification, row) for row in QUALIFICATION_PLAN]
    made = 0
    for worker, (kind, create, (status, hours, fix_hours)) in zip(applicants, plans, strict=False):
        with transaction.atomic():
            _user, passport, diploma = _applicant(worker)
            decided = status not in (
                Identity.SUBMITTED,
                Identity.CHECKING,
                Identity.MANUAL_REVIEW,
                Qualification.ESCALATED,
            )
            application = create(worker, (passport, diploma), status, _times(now, hours, fix_hours, decided))
            if kind == ApplicationHistory.Kind.IDENTITY:
                MedicalWorker.objects.filter(pk=worker.pk).update(identity_status=IDENTITY_OF_WORKER[status])
            ApplicationHistory.objects.create(
                kind=kind,
                application_id=application.pk,
                from_status="",
                to_status=application.status,
                note="демонстрационные данные",
            )
        made += 1
    return made


def applicants_pick(*, demo_snils: set[str]) -> list[MedicalWorker]:
    """A fixed slice of the synthetic workers (the same every run)."""
    count = len(IDENTITY_PLAN) + len(QUALIFICATION_PLAN)
    return list(
        MedicalWorker.objects.exclude(snils__in=demo_snils).order_by("id")[FIRST_APPLICANT : FIRST_APPLICANT + count]
    )


# Corrections the workers ask for, each with a scan as proof: (new values, comment, hours ago)
CHANGE_REQUESTS = (
    ({"last_name": "Белова"}, "Сменила фамилию после регистрации брака, прикладываю свидетельство.", 3),
    ({"email": "new.address@example.org"}, "Прежний адрес больше не работает.", 30),
    ({"middle_name": ""}, "Отчества нет, в регистре указано ошибочно.", 80),
)


def change_requests_seed(*, users: list[User]) -> int:
    """Pending corrections from applicants with a confirmed identity, made by change_request_submit."""
    confirmed = [
        u
        for u in users
        if MedicalWorker.objects.filter(user=u, identity_status=MedicalWorker.IdentityStatus.CONFIRMED).exists()
    ]
    if len(confirmed) < len(CHANGE_REQUESTS) or ChangeRequest.objects.filter(worker__user__in=confirmed).exists():
        return 0
    now = timezone.now()
    for user, (values, comment, hours) in zip(confirmed, CHANGE_REQUESTS, strict=False):
        change = change_request_submit(
            user=user, new_values=values, proof=_scan("proof.png", (230, 230, 230)), comment=comment
        )
        ChangeRequest.objects.filter(pk=change.pk).update(created_at=now - dt.timedelta(hours=hours))
    return len(CHANGE_REQUESTS)
