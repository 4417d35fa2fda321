"""Support staff give a person access to an organization's cabinet in the admin, by OGRN and SNILS."""

import pytest
from django.urls import reverse

from accounts.models import User
from core import validators
from orgs.models import OrgMembership
from tests.factories import OrganizationFactory, OrgMembershipFactory, StaffFactory

pytestmark = pytest.mark.django_db

URL = "admin:orgs_orgmembership_add"


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_adding_a_member_for_a_new_person_creates_the_account(admin_client):
    org = OrganizationFactory()
    snils = validators.snils_from_number(555_000_333)
    form = {"ogrn": org.ogrn, "snils": validators.format_snils(snils), "role": "hr", "last_name": "Кадрова",
            "first_name": "Ольга", "middle_name": "", "phone": "8 916 000-11-22", "email": "",
            "password": "Kadry-demo-2026-x"}  # fmt: skip
    response = admin_client.post(reverse(URL), form)
    assert response.status_code == 302
    membership = OrgMembership.objects.get()
    assert membership.organization == org and membership.user.snils == snils
    assert User.objects.get(snils=snils).check_password("Kadry-demo-2026-x")


def test_a_wrong_ogrn_or_a_missing_person_is_shown_on_the_form(admin_client):
    page = admin_client.post(reverse(URL), {"ogrn": "1027700000001", "snils": "112-233-445 95", "role": "hr"})
    assert page.status_code == 200 and "ОГРН" in page.content.decode()
    org = OrganizationFactory()
    page = admin_client.post(reverse(URL), {"ogrn": org.ogrn, "snils": "112-233-445 95", "role": "hr"})
    assert "учётной записи с таким СНИЛС нет" in page.content.decode()
    assert not OrgMembership.objects.exists()


def test_withdrawing_access_in_the_change_form_is_journaled(admin_client):
    from core.models import AuditEntry

    membership = OrgMembershipFactory()
    url = reverse("admin:orgs_orgmembership_change", args=[membership.pk])
    response = admin_client.post(url, {"role": "head", "is_active": ""})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.role, membership.is_active) == ("head", False)
    assert AuditEntry.objects.get(object_type="org_membership").details["after"] == {"role": "head", "is_active": False}
