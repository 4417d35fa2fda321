"""What an organization sees: its own current and past staff, nothing of other organizations."""

import datetime as dt

import pytest
from django.http import Http404

from orgs import selectors
from orgs.selectors import StaffFilters
from tests.factories import (
    AdmissionDocumentFactory,
    EmploymentFactory,
    OrganizationFactory,
    OrgMembershipFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 1)


def test_an_organization_sees_workers_employed_there_now_or_before_and_no_one_else():
    org, other = OrganizationFactory(), OrganizationFactory()
    current = EmploymentFactory(organization=org).worker
    past = EmploymentFactory(organization=org, ended_on=dt.date(2020, 1, 1)).worker
    stranger = EmploymentFactory(organization=other).worker
    assert selectors.org_can_see_worker(organization=org, worker=current)
    assert selectors.org_can_see_worker(organization=org, worker=past.pk)
    assert not selectors.org_can_see_worker(organization=org, worker=stranger)
    assert selectors.org_worker_or_404(organization=org, worker_id=past.pk) == past
    with pytest.raises(Http404):
        selectors.org_worker_or_404(organization=org, worker_id=stranger.pk)
    with pytest.raises(Http404):
        selectors.org_employment_or_404(organization=org, employment_id=stranger.employments.get().pk)


def test_memberships_leave_out_withdrawn_access_and_closed_organizations():
    hr = OrgMembershipFactory()
    OrgMembershipFactory(user=hr.user, is_active=False)
    OrgMembershipFactory(user=hr.user, organization=OrganizationFactory(status="closed", closed_on=TODAY))
    assert selectors.memberships_of(user=hr.user) == [hr]
    assert selectors.membership_for(user=hr.user, organization_id=hr.organization_id) == hr


def test_staff_list_filters_current_past_and_searches_by_name_snils_and_number(django_assert_num_queries):
    org = OrganizationFactory()
    now = EmploymentFactory(organization=org, worker=WorkerFactory(last_name="Андреева"), department="Хирургия")
    gone = EmploymentFactory(organization=org, worker=WorkerFactory(last_name="Борисова"), ended_on=dt.date(2025, 1, 1))
    EmploymentFactory(worker=WorkerFactory(last_name="Андреева"))  # another organization's

    def rows(**kwargs):
        with django_assert_num_queries(1):
            return list(selectors.org_staff(organization=org, filters=StaffFilters(**kwargs), today=TODAY))

    assert rows() == [now]
    assert rows(state="past") == [gone]
    assert rows(state="all") == [now, gone]
    assert rows(state="all", sort="-name") == [gone, now]
    assert rows(state="all", q="андр") == [now]
    assert rows(state="all", q=gone.worker.snils_display) == [gone]
    assert rows(state="all", q=now.worker.registry_number) == [now]
    assert rows(department="Хирургия") == [now]
    assert rows(department="Терапия") == []
    assert rows(position=now.position_id) == [now]


def test_staff_list_finds_admissions_expiring_within_the_window():
    from registry.services import worker_refresh_derived

    org = OrganizationFactory()
    soon = EmploymentFactory(organization=org)
    later = EmploymentFactory(organization=org)
    AdmissionDocumentFactory(worker=soon.worker, specialty=soon.specialty, valid_until=TODAY + dt.timedelta(days=20))
    AdmissionDocumentFactory(worker=later.worker, specialty=later.specialty, valid_until=TODAY + dt.timedelta(days=80))
    worker_refresh_derived(worker_ids=[soon.worker_id, later.worker_id], today=TODAY)

    def rows(**kwargs):
        return set(selectors.org_staff(organization=org, filters=StaffFilters(**kwargs), today=TODAY))

    assert rows(expiring_within=30) == {soon}
    assert rows(expiring_within=90) == {soon, later}
    assert rows(admission_status="expiring") == {soon, later}
