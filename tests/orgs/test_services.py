"""The HR operations of the organization cabinet: checked like an import row, all or nothing, journaled,
announced to the worker; the register's derived columns follow."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Notification, OutboundMessage, User
from core import validators
from core.models import AuditEntry
from orgs import services
from orgs.models import OrgMembership
from orgs.services import OrgError, PersonInput, PostInput
from registry.models import Employment, MedicalWorker
from tests.factories import (
    DismissalReasonFactory,
    EmploymentFactory,
    OrganizationFactory,
    OrgMembershipFactory,
    PositionFactory,
    SpecialtyFactory,
    StaffFactory,
    UserFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def hr():
    return OrgMembershipFactory()


@pytest.fixture
def position():
    return PositionFactory()


@pytest.fixture
def registered(worker_user):
    return worker_user.worker


def _post(position_, **overrides):
    values = {"position": position_.code, "rate": "1", "started_on": timezone.localdate() - dt.timedelta(days=3)}
    values.update(overrides)
    return PostInput(**values)


def test_hire_of_a_registered_worker_writes_the_row_journals_and_notifies(hr, position, registered):
    User.objects.filter(pk=registered.user_id).update(email="worker@example.org")
    registered.user.refresh_from_db()
    specialty = SpecialtyFactory()
    employment = services.employment_hire(
        actor=hr.user,
        organization=hr.organization,
        snils=validators.format_snils(registered.snils),
        post=_post(position, specialty=specialty.code, rate="0,5", department="Хирургия", kind="external"),
    )

    assert employment.source == Employment.Source.ORGANIZATION
    assert (employment.rate, employment.department, employment.kind) == (Decimal("0.50"), "Хирургия", "external")
    registered.refresh_from_db()
    assert registered.region_id == hr.organization.region_id  # derived columns refreshed
    assert registered.primary_specialty_id == specialty.pk
    entry = AuditEntry.objects.get(object_type="employment", object_id=str(employment.pk))
    assert entry.actor == hr.user and entry.subject == registered.user
    assert entry.details["organization"] == hr.organization.ogrn
    assert entry.details["worker"] == registered.registry_number
    assert entry.details["action"] == "hired"
    note = Notification.objects.get(user=registered.user)
    assert hr.organization.short_name in note.title and position.name in note.body
    assert OutboundMessage.objects.filter(
        to="worker@example.org", subject__contains=hr.organization.short_name
    ).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"rate": "1.55"}, "rate", "от 0,25 до 1,5"),
        ({"rate": "0.2"}, "rate", "от 0,25 до 1,5"),
        ({"rate": "много"}, "rate", "число"),
        ({"started_on": dt.date(2099, 1, 1)}, "started_on", "ещё не наступила"),
        ({"position": "no-such"}, "position", "нет в справочнике"),
        ({"specialty": "no-such"}, "specialty", "нет в справочнике"),
        ({"kind": "weird"}, "kind", "допустимые значения"),
    ],
)
def test_hire_refuses_bad_values_naming_the_field_and_writes_nothing(
    hr, position, registered, overrides, field, fragment
):
    with pytest.raises(OrgError) as caught:
        services.employment_hire(
            actor=hr.user, organization=hr.organization, snils=registered.snils, post=_post(position, **overrides)
        )
    assert caught.value.field == field and fragment in caught.value.message
    assert not Employment.objects.exists()
    assert not Notification.objects.exists()


def test_an_inactive_directory_code_is_refused(hr, registered):
    position = PositionFactory(is_active=False)
    with pytest.raises(OrgError, match="больше не действует"):
        services.employment_hire(
            actor=hr.user, organization=hr.organization, snils=registered.snils, post=_post(position)
        )


def test_a_second_main_workplace_is_refused_and_a_part_time_post_is_not(hr, position, registered):
    EmploymentFactory(worker=registered)  # main, elsewhere
    with pytest.raises(OrgError) as caught:
        services.employment_hire(
            actor=hr.user, organization=hr.organization, snils=registered.snils, post=_post(position)
        )
    assert caught.value.field == "kind"
    services.employment_hire(
        actor=hr.user, organization=hr.organization, snils=registered.snils, post=_post(position, kind="external")
    )
    assert registered.employments.count() == 2


def test_hiring_someone_twice_into_the_same_post_is_refused(hr, position, registered):
    services.employment_hire(
        actor=hr.user, organization=hr.organization, snils=registered.snils, post=_post(position, kind="internal")
    )
    with pytest.raises(OrgError, match="уже занимает"):
        services.employment_hire(
            actor=hr.user, organization=hr.organization, snils=registered.snils, post=_post(position, kind="internal")
        )


def test_a_snils_with_a_wrong_checksum_is_refused(hr, position):
    with pytest.raises(OrgError) as caught:
        services.employment_hire(
            actor=hr.user, organization=hr.organization, snils="112-233-445 96", post=_post(position)
        )
    assert caught.value.field == "snils"


def test_an_unknown_snils_needs_the_person(hr, position):
    snils = validators.snils_from_number(555_000_111)
    with pytest.raises(OrgError, match="нет в регистре"):
        services.employment_hire(actor=hr.user, organization=hr.organization, snils=snils, post=_post(position))


def _person(**overrides):
    values = {
        "last_name": "Новикова",
        "first_name": "Анна",
        "middle_name": "Игоревна",
        "sex": "F",
        "birth_date": "12.04.1990",
    }
    values.update(overrides)
    return PersonInput(**values)


def test_hiring_a_new_person_adds_the_worker_with_a_registry_number(hr, position):
    snils = validators.snils_from_number(555_000_111)
    employment = services.employment_hire(
        actor=hr.user, organization=hr.organization, snils=snils, post=_post(position), person=_person()
    )
    worker = MedicalWorker.objects.get(pk=employment.worker_id)
    assert worker.snils == snils and worker.birth_date == dt.date(1990, 4, 12)
    assert validators.normalize_registry_number(worker.registry_number) == worker.registry_number
    assert worker.region_id == hr.organization.region_id
    created = AuditEntry.objects.get(object_type="worker", object_id=worker.registry_number)
    assert created.details["via"] == "organization" and created.actor == hr.user


def test_a_new_person_who_is_probably_in_the_register_is_refused_until_confirmed(hr, position):
    twin = WorkerFactory(
        last_name="Новикова", first_name="Анна", middle_name="Игоревна", birth_date=dt.date(1990, 4, 12), sex="F"
    )
    snils = validators.snils_from_number(555_000_111)
    with pytest.raises(OrgError) as caught:
        services.employment_hire(
            actor=hr.user, organization=hr.organization, snils=snils, post=_post(position), person=_person()
        )
    assert caught.value.code == "probable_duplicate" and twin.registry_number_display in caught.value.message
    assert MedicalWorker.objects.count() == 1
    services.employment_hire(
        actor=hr.user,
        organization=hr.organization,
        snils=snils,
        post=_post(position),
        person=_person(),
        duplicate_confirmed=True,
    )
    assert MedicalWorker.objects.count() == 2


def test_a_new_person_whose_snils_is_in_the_register_is_refused(hr, position, registered):
    with pytest.raises(OrgError, match="уже есть в регистре"):
        services.employment_hire(
            actor=hr.user, organization=hr.organization, snils=registered.snils, post=_post(position), person=_person()
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"last_name": ""}, "last_name"),
        ({"sex": "X"}, "sex"),
        ({"birth_date": "31.02.1990"}, "birth_date"),
        ({"phone": "12345"}, "phone"),
        ({"inn": "123"}, "inn"),
    ],
)
def test_a_new_person_with_bad_data_is_refused_naming_the_field(hr, position, overrides, field):
    with pytest.raises(OrgError) as caught:
        services.employment_hire(
            actor=hr.user,
            organization=hr.organization,
            snils=validators.snils_from_number(555_000_111),
            post=_post(position),
            person=_person(**overrides),
        )
    assert caught.value.field == field
    assert not MedicalWorker.objects.exists()


def test_a_closed_organization_cannot_hire(position, registered):
    hr = OrgMembershipFactory(organization=OrganizationFactory(status="closed", closed_on=dt.date(2024, 1, 1)))
    with pytest.raises(OrgError, match="ликвидирована"):
        services.employment_hire(
            actor=hr.user, organization=hr.organization, snils=registered.snils, post=_post(position)
        )


def test_transfer_ends_the_post_the_day_before_and_opens_the_new_one(hr, position, registered):
    current = EmploymentFactory(worker=registered, organization=hr.organization, started_on=dt.date(2020, 1, 1))
    day = timezone.localdate() - dt.timedelta(days=1)
    new = services.employment_transfer(
        actor=hr.user,
        organization=hr.organization,
        employment_id=current.pk,
        post=_post(position, started_on=day, department="Приёмное"),
    )
    current.refresh_from_db()
    assert current.ended_on == day - dt.timedelta(days=1) and current.dismissal_reason == ""
    assert (new.position, new.started_on, new.department, new.ended_on) == (position, day, "Приёмное", None)
    assert AuditEntry.objects.get(object_type="employment", object_id=str(new.pk)).details["action"] == "transferred"


def test_transfer_before_the_post_began_is_refused(hr, position, registered):
    current = EmploymentFactory(worker=registered, organization=hr.organization, started_on=dt.date(2020, 1, 1))
    with pytest.raises(OrgError) as caught:
        services.employment_transfer(
            actor=hr.user,
            organization=hr.organization,
            employment_id=current.pk,
            post=_post(position, started_on=dt.date(2019, 1, 1)),
        )
    assert caught.value.field == "started_on"
    current.refresh_from_db()
    assert current.ended_on is None and Employment.objects.count() == 1


def test_change_rate_checks_the_range_and_journals_both_values(hr, registered):
    current = EmploymentFactory(worker=registered, organization=hr.organization, rate=1)
    with pytest.raises(OrgError, match="от 0,25 до 1,5"):
        services.employment_change_rate(actor=hr.user, organization=hr.organization, employment_id=current.pk, rate="2")
    services.employment_change_rate(actor=hr.user, organization=hr.organization, employment_id=current.pk, rate="0.75")
    current.refresh_from_db()
    assert current.rate == Decimal("0.75") and current.source == Employment.Source.ORGANIZATION
    entry = AuditEntry.objects.get(object_type="employment", details__action="rate_changed")
    assert (entry.details["from"], entry.details["to"]) == ("1.00", "0.75")


def test_dismissal_takes_the_reason_from_the_directory(hr, registered):
    reason = DismissalReasonFactory()
    current = EmploymentFactory(worker=registered, organization=hr.organization, started_on=dt.date(2020, 1, 1))
    with pytest.raises(OrgError) as caught:
        services.employment_dismiss(
            actor=hr.user,
            organization=hr.organization,
            employment_id=current.pk,
            ended_on=dt.date(2024, 1, 31),
            reason="по собственному",
        )
    assert caught.value.field == "reason"
    with pytest.raises(OrgError) as caught:
        services.employment_dismiss(
            actor=hr.user,
            organization=hr.organization,
            employment_id=current.pk,
            ended_on=dt.date(2019, 1, 31),
            reason=reason.code,
        )
    assert caught.value.field == "ended_on"
    services.employment_dismiss(
        actor=hr.user, organization=hr.organization, employment_id=current.pk, ended_on="31.01.2024", reason=reason.code
    )
    current.refresh_from_db()
    assert (current.ended_on, current.dismissal_reason) == (dt.date(2024, 1, 31), reason.name)
    registered.refresh_from_db()
    assert registered.region_id is None  # no current post any more
    assert "увольнение" in Notification.objects.get(user=registered.user).title
    with pytest.raises(OrgError, match="уволен"):
        services.employment_dismiss(
            actor=hr.user,
            organization=hr.organization,
            employment_id=current.pk,
            ended_on="01.02.2024",
            reason=reason.code,
        )


def test_another_organizations_post_cannot_be_changed(hr, registered):
    reason = DismissalReasonFactory()
    elsewhere = EmploymentFactory(worker=registered)
    with pytest.raises(OrgError, match="не найдено"):
        services.employment_dismiss(
            actor=hr.user,
            organization=hr.organization,
            employment_id=elsewhere.pk,
            ended_on="31.01.2024",
            reason=reason.code,
        )
    with pytest.raises(OrgError, match="не найдено"):
        services.employment_change_rate(
            actor=hr.user, organization=hr.organization, employment_id=elsewhere.pk, rate="0.5"
        )
    elsewhere.refresh_from_db()
    assert elsewhere.ended_on is None and elsewhere.rate == 1


# --- Memberships -------------------------------------------------------------------------------------


def test_membership_for_an_existing_account_by_ogrn_and_snils():
    agent, org, person = StaffFactory(), OrganizationFactory(), UserFactory()
    membership = services.membership_create(
        actor=agent, ogrn=org.ogrn, snils=validators.format_snils(person.snils), role="head"
    )
    assert (membership.user, membership.organization, membership.role) == (person, org, "head")
    assert membership.created_by == agent
    assert AuditEntry.objects.filter(object_type="org_membership", actor=agent, subject=person).exists()
    with pytest.raises(OrgError, match="уже сотрудник"):
        services.membership_create(actor=agent, ogrn=org.ogrn, snils=person.snils, role="hr")


def test_membership_for_a_new_person_creates_a_worker_kind_account():
    agent, org = StaffFactory(), OrganizationFactory()
    snils = validators.snils_from_number(555_000_222)
    new_user = services.NewUserInput(
        last_name="Кадрова", first_name="Ольга", phone="+7 916 000-11-22", password="Kadry-demo-2026-x"
    )
    membership = services.membership_create(actor=agent, ogrn=org.ogrn, snils=snils, role="hr", new_user=new_user)
    user = membership.user
    assert (user.username, user.snils, user.kind, user.phone) == (snils, snils, User.Kind.WORKER, "+79160001122")
    assert user.check_password("Kadry-demo-2026-x")


@pytest.mark.parametrize(
    ("ogrn", "snils", "field"),
    [("1027700000000", "112-233-445 95", "ogrn"), (None, "112-233-445 96", "snils"), (None, "112-233-445 95", "snils")],
)
def test_membership_refusals_name_the_field(ogrn, snils, field):
    org = OrganizationFactory()
    with pytest.raises(OrgError) as caught:
        services.membership_create(actor=StaffFactory(), ogrn=ogrn or org.ogrn, snils=snils, role="hr")
    assert caught.value.field == field
    assert not OrgMembership.objects.exists()


def test_a_weak_password_for_a_new_account_is_refused():
    org = OrganizationFactory()
    new_user = services.NewUserInput(last_name="Кадрова", first_name="Ольга", phone="+79160001122", password="123")
    with pytest.raises(OrgError) as caught:
        services.membership_create(
            actor=StaffFactory(),
            ogrn=org.ogrn,
            snils=validators.snils_from_number(555_000_222),
            role="hr",
            new_user=new_user,
        )
    assert caught.value.field == "password"
    assert not User.objects.filter(snils=validators.snils_from_number(555_000_222)).exists()
