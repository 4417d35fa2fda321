"""Work in every queue of the staff desk, some of it overdue: shared by the desk and browser tests."""

import datetime as dt
import uuid

from django.utils import timezone

from registry.models import DiscrepancyAlert, DuplicateCandidate, ExportJob, ImportJob
from support.models import Ticket
from tests.factories import UserFactory, WorkerFactory
from verification.models import ChangeRequest, IdentityApplication, QualificationApplication, StoredDocument


def _document(owner):
    return StoredDocument.objects.create(
        owner=owner, kind=StoredDocument.Kind.OTHER, original_name="scan.pdf", content_type="application/pdf",
        size=1, sha256="0" * 64, storage_name=f"test/{uuid.uuid4()}", key_fingerprint="test",
    )  # fmt: skip


def _identity(worker, status, submitted_at, fix_deadline=None):
    document = _document(worker.user)
    return IdentityApplication.objects.create(
        worker=worker, status=status, submitted_at=submitted_at, fix_deadline=fix_deadline,
        snils=worker.snils, inn="7707083893", last_name=worker.last_name, first_name=worker.first_name,
        birth_date=dt.date(1980, 1, 1), passport_document=document, qualification_document=document,
    )  # fmt: skip


def _ticket(number, status, created_at):
    return Ticket.objects.create(
        number=number, full_name="Иванов Иван", topic="other", description="Не могу войти",
        contact_email="ivanov@example.org", status=status, created_at=created_at,
    )  # fmt: skip


def seed_queues(now=None) -> dict:
    """Create the rows; returns what the desk must count."""
    now = now or timezone.now()
    hours = dt.timedelta(hours=1)
    user = UserFactory()
    worker = WorkerFactory(user=user)
    other = WorkerFactory()
    status = IdentityApplication.Status
    _identity(worker, status.SUBMITTED, now - 2 * hours)
    _identity(worker, status.MANUAL_REVIEW, now - 30 * hours)  # overdue: the 24 h passed
    _identity(worker, status.CONFIRMED, now - 300 * hours)  # decided: in no queue
    _identity(worker, status.REJECTED, now - 800 * hours, fix_deadline=now - hours)  # the sweep is late
    QualificationApplication.objects.create(
        worker=worker, status=QualificationApplication.Status.NEEDS_FIX, submitted_at=now - 50 * hours,
        fix_deadline=now + 5 * 24 * hours, diploma_number="1", admission_number="2",
    )  # fmt: skip
    QualificationApplication.objects.create(
        worker=worker, status=QualificationApplication.Status.ESCALATED, submitted_at=now - 26 * hours,
        diploma_number="1", admission_number="2",
    )  # fmt: skip
    ChangeRequest.objects.create(worker=worker, changes={}, proof_document=_document(user), created_at=now - hours)
    _ticket("2026-000001", Ticket.Status.NEW, now - 30 * hours)
    _ticket("2026-000002", Ticket.Status.NEW, now - hours)
    _ticket("2026-000003", Ticket.Status.IN_PROGRESS, now - 3 * hours)
    _ticket("2026-000004", Ticket.Status.CLOSED, now - 100 * hours)
    DiscrepancyAlert.objects.create(kind="vanished", fingerprint="a1", message="Запись исчезла", first_seen_at=now)
    DiscrepancyAlert.objects.create(kind="vanished", fingerprint="a2", message="Устранено", resolved_at=now)
    a, b = sorted([worker, other], key=lambda w: w.pk)
    DuplicateCandidate.objects.create(worker_a=a, worker_b=b, reason="name_birth", detected_at=now - 5 * hours)
    ImportJob.objects.create(kind="workers", source="x.csv", report_name="x.csv", status=ImportJob.Status.RUNNING)
    ImportJob.objects.create(kind="workers", source="y.csv", report_name="y.csv", status=ImportJob.Status.DONE)
    ExportJob.objects.create(format="csv", params={}, status=ExportJob.Status.QUEUED)
    return {
        "identity_open": (2, 1),
        "identity_fix": (1, 1),
        "qualification_open": (1, 1),
        "qualification_fix": (1, 0),
        "change_requests": (1, 0),
        "tickets_new": (2, 1),
        "tickets_reply": (1, 0),
        "discrepancies": (1, None),
        "duplicates": (1, None),
        "imports": (1, None),
        "exports": (1, None),
    }
