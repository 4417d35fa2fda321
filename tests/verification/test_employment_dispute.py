"""The worker sees employment rows an employer entered and can dispute them («Оспорить»): a correction
request for support that names the row and carries the worker's comment."""

import datetime as dt

import pytest
from django.urls import reverse

from core.models import AuditEntry
from orgs import services as org_services
from registry.models import Employment
from tests.factories import EmploymentFactory, OrgMembershipFactory, PositionFactory
from verification import services
from verification.models import ChangeRequest
from verification.services import VerificationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def entered(worker_user):
    """A hire the worker's employer entered through the organization cabinet."""
    hr = OrgMembershipFactory()
    return org_services.employment_hire(
        actor=hr.user,
        organization=hr.organization,
        snils=worker_user.snils,
        post=org_services.PostInput(position=PositionFactory().code, rate="1", started_on=dt.date(2025, 3, 1)),
    )


def test_the_cabinet_shows_the_employers_entry_and_its_notification(client, worker_user, entered):
    client.force_login(worker_user)
    page = client.get(reverse("verification:cabinet")).content.decode()
    assert "Внесено работодателем" in page
    assert reverse("verification:employment_dispute", args=[entered.pk]) in page
    assert f"{entered.organization.short_name}: вы приняты на работу" in page


def test_disputing_opens_a_correction_request_for_support(client, worker_user, entered):
    client.force_login(worker_user)
    url = reverse("verification:employment_dispute", args=[entered.pk])
    assert client.get(url).status_code == 200
    short = client.post(url, {"comment": "нет"})
    assert short.status_code == 400 and not ChangeRequest.objects.exists()
    response = client.post(url, {"comment": "Я не работала в этой организации"})
    change = ChangeRequest.objects.get()
    assert response.url == reverse("verification:correction_detail", args=[change.pk])
    assert change.employment == entered and change.comment == "Я не работала в этой организации"
    assert change.status == ChangeRequest.Status.PENDING and change.proof_document is None
    assert entered.organization.short_name in change.changes["employment_dispute"]["old"]
    assert AuditEntry.objects.filter(details__action="employment_disputed", actor=worker_user).exists()
    again = client.post(url, {"comment": "Я не работала в этой организации"})
    assert "уже оспорена" in again.content.decode() and ChangeRequest.objects.count() == 1


def test_support_closes_a_dispute_without_applying_the_workers_words(worker_user, entered, support_agent):
    change = services.employment_dispute_submit(
        user=worker_user, employment_id=entered.pk, comment="Ставка 0,5, а не 1"
    )
    services.change_request_approve(change_request=change, actor=support_agent)
    change.refresh_from_db()
    entered.refresh_from_db()
    assert change.status == ChangeRequest.Status.APPROVED and entered.rate == 1


def test_a_dispute_does_not_hold_up_a_correction(worker_user, entered):
    services.employment_dispute_submit(user=worker_user, employment_id=entered.pk, comment="Ставка 0,5, а не 1")
    assert not services._pending_corrections(worker_user.worker).exists()


def test_only_an_employers_entry_of_ones_own_can_be_disputed(worker_user, second_worker_user):
    own = EmploymentFactory(worker=worker_user.worker)  # from an import
    with pytest.raises(VerificationError, match="внесённую работодателем"):
        services.employment_dispute_submit(user=worker_user, employment_id=own.pk, comment="Всё неправильно тут")
    theirs = EmploymentFactory(worker=second_worker_user.worker, source=Employment.Source.ORGANIZATION)
    with pytest.raises(VerificationError, match="не найдено"):
        services.employment_dispute_submit(user=worker_user, employment_id=theirs.pk, comment="Всё неправильно тут")
