"""Two organizations with an HR officer each, and their staff."""

import datetime as dt

import pytest
from django.test import Client

from tests.factories import EmploymentFactory, OrganizationFactory, OrgMembershipFactory, WorkerFactory


@pytest.fixture
def org_a(db):
    return OrganizationFactory(short_name="Больница А")


@pytest.fixture
def org_b(db):
    return OrganizationFactory(short_name="Больница Б")


@pytest.fixture
def hr_a(org_a):
    return OrgMembershipFactory(organization=org_a)


@pytest.fixture
def hr_b(org_b):
    return OrgMembershipFactory(organization=org_b)


@pytest.fixture
def staff_a(org_a, worker_user):
    """The worker with an account works at A; another worked at A and left."""
    current = EmploymentFactory(organization=org_a, worker=worker_user.worker, department="Хирургия")
    past = EmploymentFactory(organization=org_a, worker=WorkerFactory(), ended_on=dt.date(2021, 5, 31))
    return current, past


@pytest.fixture
def staff_b(org_b):
    return EmploymentFactory(organization=org_b, worker=WorkerFactory(), department="Терапия")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
