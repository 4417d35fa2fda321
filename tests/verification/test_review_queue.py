"""The staff review queue in admin and the corrections it approves: oldest first, SLA age,
inline documents, assignment, approve/reject through the services, atomic application."""

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification
from core.models import AuditEntry
from registry.models import AdmissionDocument, CategoryAssignment, Employment, MedicalWorker
from registry.selectors import worker_main_employment
from tests.factories import CategoryFactory, OrganizationFactory, SpecialtyFactory, WorkerFactory
from tests.verification.conftest import identity_files, identity_input, png_bytes
from verification import services
from verification.models import ApplicationHistory, ChangeRequest, IdentityApplication

pytestmark = pytest.mark.django_db


def _proof():
    return SimpleUploadedFile("proof.png", png_bytes(), content_type="image/png")


def _change(worker, **values):
    return services.change_request_submit(user=worker.user, new_values=values, proof=_proof())


@pytest.fixture
def staff(support_agent):
    support_agent.is_superuser = True
    support_agent.save()
    return support_agent


def test_queue_is_oldest_first_with_sla_age(client, staff, confirmed_worker, second_worker_user):
    old = WorkerFactory(user=None)
    t0 = timezone.now() - dt.timedelta(days=2)
    with time_machine.travel(t0, tick=False):
        first = _change(confirmed_worker, phone="+79161112233")
    second_worker = second_worker_user.worker
    second_worker.identity_status = "confirmed"
    second_worker.save()
    second = _change(second_worker, phone="+79161112244")
    client.force_login(staff)
    page = client.get("/admin/verification/changerequest/").content.decode()
    link = "/admin/verification/changerequest/{}/change/"
    assert page.index(link.format(first.pk)) < page.index(link.format(second.pk))
    assert "2 дн — просрочено" in page
    assert old.pk  # an unrelated worker does not appear


def test_every_queue_page_opens(client, staff, worker, on_commit_immediate):
    services.identity_application_submit(
        user=worker.user, data=identity_input(worker, inn="500100732259"), files=identity_files()
    )
    client.force_login(staff)
    for name in (
        "identityapplication",
        "qualificationapplication",
        "changerequest",
        "stateregistryreference",
        "storeddocument",
    ):
        assert client.get(f"/admin/verification/{name}/").status_code == 200, name
    application = IdentityApplication.objects.get()
    page = client.get(f"/admin/verification/identityapplication/{application.pk}/change/").content.decode()
    assert "ИНН: такой ИНН не найден" in page
    assert reverse("verification:document", args=[application.passport_document_id]) in page
    assert "<img" in page  # the passport scan is shown inline
    # Opening the application is a staff read of protected data, journaled for the owner.
    assert AuditEntry.objects.filter(
        subject=worker.user, event=AuditEntry.Event.DATA_VIEWED, actor=staff, object_type="identity"
    ).exists()


def test_staff_approve_correction_in_admin(client, staff, confirmed_worker):
    change = _change(confirmed_worker, last_name="Новикова", phone="+79161112233")
    client.force_login(staff)
    url = f"/admin/verification/changerequest/{change.pk}/change/"
    assert "Новикова" in client.get(url).content.decode()
    response = client.post(url, {"decision": "approve", "reason": "", "assign_to": ""})
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.APPROVED and change.reviewed_by == staff
    confirmed_worker.refresh_from_db()
    assert (confirmed_worker.last_name, confirmed_worker.phone) == ("Новикова", "+79161112233")
    confirmed_worker.user.refresh_from_db()
    assert confirmed_worker.user.last_name == "Новикова"
    entry = AuditEntry.objects.get(subject=confirmed_worker.user, details__action="change_approved")
    assert entry.actor == staff and set(entry.details["fields"]) == {"last_name", "phone"}
    assert Notification.objects.filter(user=confirmed_worker.user, kind="change_approved").exists()


def test_staff_reject_needs_a_reason_the_worker_sees(client, staff, confirmed_worker):
    change = _change(confirmed_worker, phone="+79161112233")
    client.force_login(staff)
    url = f"/admin/verification/changerequest/{change.pk}/change/"
    page = client.post(url, {"decision": "reject", "reason": "", "assign_to": ""}).content.decode()
    assert "Причина отказа: укажите" in page
    client.post(url, {"decision": "reject", "reason": "Документ не читается", "assign_to": ""})
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.REJECTED
    client.force_login(confirmed_worker.user)
    detail = client.get(reverse("verification:correction_detail", args=[change.pk])).content.decode()
    assert "Документ не читается" in detail


def test_assign_to_me_and_approve_action(client, staff, confirmed_worker):
    change = _change(confirmed_worker, email="new@example.org")
    client.force_login(staff)
    client.post("/admin/verification/changerequest/", {"action": "assign_to_me", "_selected_action": [change.pk]})
    change.refresh_from_db()
    assert change.assignee == staff
    client.post("/admin/verification/changerequest/", {"action": "approve_selected", "_selected_action": [change.pk]})
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.APPROVED
    # Deciding twice is refused by the service, not applied twice.
    with pytest.raises(services.VerificationError, match="уже рассмотрена"):
        services.change_request_approve(change_request=change, actor=staff)


def test_approval_applies_workplace_specialty_category_and_admission(confirmed_worker, staff):
    worker = confirmed_worker
    new_org = OrganizationFactory()
    specialty = SpecialtyFactory(name="Кардиология")
    category = CategoryFactory()
    change = _change(
        worker,
        organization=new_org.ogrn,
        specialty=specialty.pk,
        category=category.pk,
        admission_number="0177999999999",
        admission_valid_until=timezone.localdate() + dt.timedelta(days=300),
        employment_status="internal",
    )
    services.change_request_approve(change_request=change, actor=staff)
    main = worker_main_employment(worker=worker)
    assert main.organization == new_org and main.specialty == specialty and main.kind == "internal"
    assert Employment.objects.filter(worker=worker, ended_on__isnull=False).count() == 1
    assert CategoryAssignment.objects.get(worker=worker).category == category
    assert AdmissionDocument.objects.get(worker=worker).number == "0177999999999"
    worker.refresh_from_db()
    assert worker.category == category  # derived search columns refreshed


def test_dismissal_ends_the_current_job(confirmed_worker, staff):
    change = _change(confirmed_worker, employment_status="dismissed")
    services.change_request_approve(change_request=change, actor=staff)
    assert worker_main_employment(worker=confirmed_worker) is None


def test_conflicting_registry_number_applies_nothing(confirmed_worker, staff):
    other = WorkerFactory()
    change = _change(confirmed_worker, last_name="Новикова", registry_number=other.registry_number)
    with pytest.raises(services.VerificationError, match="уже занят"):
        services.change_request_approve(change_request=change, actor=staff)
    confirmed_worker.refresh_from_db()
    change.refresh_from_db()
    assert confirmed_worker.last_name != "Новикова"
    assert change.status == ChangeRequest.Status.PENDING
    assert not ApplicationHistory.objects.filter(kind="change", to_status="approved").exists()


def test_one_pending_correction_at_a_time(confirmed_worker):
    _change(confirmed_worker, phone="+79161112233")
    with pytest.raises(services.VerificationError, match="ещё на проверке"):
        _change(confirmed_worker, phone="+79161112244")


def test_worker_without_confirmed_identity_cannot_request_corrections(worker):
    with pytest.raises(services.VerificationError, match="после подтверждения личности"):
        _change(worker, phone="+79161112233")
    assert MedicalWorker.objects.get(pk=worker.pk).phone == worker.phone
