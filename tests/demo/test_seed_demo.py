import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from registry.models import AdmissionStatus, Employment, MedicalOrganization, MedicalWorker

pytestmark = pytest.mark.django_db


def _counts():
    return (MedicalOrganization.objects.count(), MedicalWorker.objects.count(), Employment.objects.count(),
            User.objects.count())


def test_seed_demo_is_idempotent_and_varied(capsys):
    call_command("load_directories")
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first
    statuses = set(MedicalWorker.objects.values_list("admission_status", flat=True))
    assert {AdmissionStatus.ACTIVE, AdmissionStatus.EXPIRING, AdmissionStatus.EXPIRED,
            AdmissionStatus.SUSPENDED, AdmissionStatus.NONE} <= statuses
    out = capsys.readouterr().out
    assert "112-233-445 95" in out and "support" in out


def test_demo_worker_can_log_in_with_printed_password(client):
    call_command("load_directories")
    call_command("seed_demo")
    response = client.post("/accounts/login/", {"kind": "worker", "username": "112-233-445 95",
                                                 "password": "Medreg-demo-2026"})
    assert response.status_code == 302


def test_seed_demo_needs_directories():
    with pytest.raises(CommandError, match="load_directories"):
        call_command("seed_demo")


def test_seed_demo_refuses_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")


def test_demo_support_agent_reads_journal_and_outbox_but_cannot_edit_users(client):
    call_command("load_directories")
    call_command("seed_demo")
    agent = User.objects.get(username="support")
    client.force_login(agent)
    assert client.get("/admin/core/auditentry/").status_code == 200
    assert client.get("/admin/accounts/smsoutbox/").status_code == 200
    assert client.get("/admin/support/ticket/").status_code == 200
    assert not agent.has_perm("accounts.change_user")


def test_synthetic_data_can_be_added_after_the_demo():
    call_command("load_directories")
    call_command("seed_demo")
    call_command("generate_registry", "--workers", "50", "--organizations", "3", "--seed", "5", "--append")
    assert MedicalWorker.objects.count() == 60


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
