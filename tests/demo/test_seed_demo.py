"""seed_demo: the register worth searching, the desk's work, idempotence and the refusal in production.

The seed takes seconds, so each test that needs it seeds once and checks several things.
"""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import User
from demo import applications, desk, register
from desk.selectors import desk_queues
from registry.models import (
    AdmissionStatus,
    DiscrepancyAlert,
    DQAuditRun,
    DuplicateCandidate,
    DuplicateScanRun,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    WorkforceSnapshot,
)
from support.models import ChatConversation, Ticket, TicketMessage
from verification import deadlines
from verification.documents import document_read
from verification.models import ChangeRequest, IdentityApplication, QualificationApplication, StoredDocument
from verification.services import identity_application_approve

pytestmark = pytest.mark.django_db

SEEDED_MODELS = (
    ChangeRequest,
    MedicalOrganization,
    MedicalWorker,
    Employment,
    User,
    IdentityApplication,
    QualificationApplication,
    StoredDocument,
    Ticket,
    TicketMessage,
    ChatConversation,
    DuplicateCandidate,
    DuplicateScanRun,
    DiscrepancyAlert,
    WorkforceSnapshot,
    DQAuditRun,
)
NAMED_WORKERS = 10


def _counts():
    return {model.__name__: model.objects.count() for model in SEEDED_MODELS}


def _seed():
    call_command("load_directories")
    call_command("seed_demo")


def test_seed_demo_fills_register_and_desk_and_a_second_run_changes_nothing(capsys):
    _seed()
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first

    assert first["MedicalWorker"] == NAMED_WORKERS + register.SYNTHETIC_WORKERS + len(register.DUPLICATES)
    statuses = set(MedicalWorker.objects.values_list("admission_status", flat=True))
    assert {
        AdmissionStatus.ACTIVE,
        AdmissionStatus.EXPIRING,
        AdmissionStatus.EXPIRED,
        AdmissionStatus.SUSPENDED,
        AdmissionStatus.NONE,
    } <= statuses
    out = capsys.readouterr().out
    assert "112-233-445 95" in out and "support" in out

    # The staff desk has work in every queue but the running imports and exports, some of it late.
    queues = desk_queues()
    assert {name for name, queue in queues.items() if queue.count} == set(queues) - {"imports", "exports"}
    assert [name for name, queue in queues.items() if queue.overdue], "nothing is past its deadline"

    # One first run of each data-quality job, with results for the dashboards.
    assert first["DuplicateScanRun"] == first["WorkforceSnapshot"] == first["DQAuditRun"] == 1
    assert DuplicateScanRun.objects.get().status == DuplicateScanRun.Status.DONE
    injected = set(MedicalWorker.objects.filter(snils__startswith="0900").values_list("id", flat=True))
    found = {a if a in injected else b for a, b in DuplicateCandidate.objects.values_list("worker_a", "worker_b")}
    assert len(found & injected) >= len(register.DUPLICATES) - 1
    assert {"document_shared", "closed_organization"} <= set(DiscrepancyAlert.objects.values_list("kind", flat=True))


def test_seed_demo_puts_applications_in_every_state_some_past_their_deadlines():
    _seed()
    now = timezone.now()
    assert set(IdentityApplication.objects.values_list("status", flat=True)) == set(IdentityApplication.Status.values)
    assert set(QualificationApplication.objects.values_list("status", flat=True)) == set(
        QualificationApplication.Status.values
    )
    day = dt.timedelta(hours=24)
    assert IdentityApplication.objects.filter(status="manual_review", submitted_at__lt=now - day).exists()
    assert IdentityApplication.objects.filter(status="rejected", fix_deadline__lt=now).exists()  # 30 days passed
    assert QualificationApplication.objects.filter(status="checking", submitted_at__lt=now - day).exists()
    assert QualificationApplication.objects.filter(status="needs_fix", fix_deadline__lt=now).exists()  # 7 days
    assert ChangeRequest.objects.filter(status="pending").count() == len(applications.CHANGE_REQUESTS)
    # The overdue ones are what the deadline sweep moves next; staff can decide the waiting ones.
    moved = deadlines.run_all()
    assert moved["escalated"] >= 2 and moved["closed"] >= 1 and moved["expired"] >= 1, moved
    agent = User.objects.get(username="support")
    waiting = IdentityApplication.objects.filter(status="manual_review").order_by("submitted_at").first()
    identity_application_approve(application=waiting, actor=agent)
    assert MedicalWorker.objects.get(pk=waiting.worker_id).identity_status == "confirmed"
    # The scans are real stored documents, readable by staff.
    application = IdentityApplication.objects.select_related("passport_document").first()
    assert document_read(document=application.passport_document).startswith(b"\x89PNG")
    assert IdentityApplication.objects.count() == len(applications.IDENTITY_PLAN)


def test_seed_demo_gives_the_desk_tickets_and_chats_in_several_states():
    _seed()
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert statuses == set(Ticket.Status.values)
    overdue = [t for t in Ticket.objects.all() if t.is_overdue()]
    assert overdue, "a ticket with no answer past the SLA"
    assert Ticket.objects.filter(user__isnull=True).count() >= len(desk.TICKETS) // 2
    chats = ChatConversation.objects.all()
    assert {c.status for c in chats} == {"open", "closed"}
    assert any(c.waiting_for_staff for c in chats) and any(c.ticket_id for c in chats)


def test_demo_logins_work_and_the_support_agent_reads_but_cannot_edit_users(client):
    _seed()
    response = client.post(
        "/accounts/login/", {"kind": "worker", "username": "112-233-445 95", "password": "Medreg-demo-2026"}
    )
    assert response.status_code == 302
    agent = User.objects.get(username="support")
    client.force_login(agent)
    assert client.get("/admin/core/auditentry/").status_code == 200
    assert client.get("/admin/accounts/smsoutbox/").status_code == 200
    assert client.get("/admin/support/ticket/").status_code == 200
    assert not agent.has_perm("accounts.change_user")
    # Synthetic data can still be added after the demo.
    before = MedicalWorker.objects.count()
    call_command("generate_registry", "--workers", "50", "--organizations", "3", "--seed", "5", "--append")
    assert MedicalWorker.objects.count() == before + 50


def test_seed_demo_needs_directories():
    with pytest.raises(CommandError, match="load_directories"):
        call_command("seed_demo")


def test_seed_demo_refuses_in_production_and_writes_nothing(settings):
    call_command("load_directories")
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert not MedicalWorker.objects.exists() and not User.objects.exists()


def test_demo_hr_officer_logs_in_and_lands_in_the_organization_cabinet(client, capsys):
    from accounts.models import OneTimeCode
    from demo.orgs import DEMO_PASSWORD_HR, hr_snils

    call_command("load_directories")
    call_command("seed_demo")
    call_command("seed_demo")
    assert "Кадровик организации" in capsys.readouterr().out
    user = User.objects.get(snils=hr_snils())
    assert user.org_memberships.get().organization.short_name == "ГКБ № 1 им. Н. И. Пирогова"
    response = client.post("/accounts/login/", {"kind": "worker", "username": hr_snils(), "password": DEMO_PASSWORD_HR})
    assert response.status_code == 302
    assert OneTimeCode.objects.filter(user=user).exists()
