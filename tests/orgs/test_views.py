"""The organization cabinet's pages: the landing after login, the staff list, a worker's page and the
HR forms, seen by an HR officer of the organization."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from orgs.selectors import SESSION_KEY
from portal.views import after_login_url
from registry.models import Employment
from tests.factories import DismissalReasonFactory, OrgMembershipFactory, PositionFactory
from tests.orgs.conftest import logged_in

pytestmark = pytest.mark.django_db


def test_an_hr_officer_lands_in_the_cabinet_of_their_organization(rf, hr_a):
    request = rf.get("/")
    request.session = {}
    assert after_login_url(request, hr_a.user) == reverse("orgs:staff")
    assert request.session[SESSION_KEY] == hr_a.organization_id


def test_a_person_serving_two_organizations_chooses_one(rf, hr_a, org_b):
    OrgMembershipFactory(user=hr_a.user, organization=org_b)
    request = rf.get("/")
    request.session = {}
    assert after_login_url(request, hr_a.user) == reverse("orgs:choose")
    client = logged_in(hr_a.user)
    assert client.get(reverse("orgs:staff")).url == reverse("orgs:choose")
    page = client.get(reverse("orgs:choose")).content.decode()
    assert "Больница А" in page and "Больница Б" in page
    assert client.post(reverse("orgs:choose"), {"organization": org_b.pk}).url == reverse("orgs:staff")
    assert "Больница Б" in client.get(reverse("orgs:staff")).content.decode()


def test_choosing_an_organization_one_does_not_serve_is_refused(hr_a, org_b):
    client = logged_in(hr_a.user)
    response = client.post(reverse("orgs:choose"), {"organization": org_b.pk})
    assert response.status_code == 200 and client.session.get(SESSION_KEY) != org_b.pk


def test_a_worker_and_staff_still_land_where_they_did(rf, worker_user, support_agent):
    request = rf.get("/")
    request.session = {}
    assert after_login_url(request, worker_user) == reverse("verification:cabinet")
    assert after_login_url(request, support_agent) == reverse("admin:index")


def test_staff_list_shows_own_staff_only_with_bounded_queries(hr_a, staff_a, staff_b, django_assert_max_num_queries):
    from tests.factories import EmploymentFactory

    for _ in range(30):
        EmploymentFactory(organization=hr_a.organization)
    client = logged_in(hr_a.user)
    client.get(reverse("orgs:staff"))  # the filter choices are cached from here on
    with django_assert_max_num_queries(7):
        response = client.get(reverse("orgs:staff"))
    page = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert staff_a[0].worker.full_name in page
    assert staff_a[1].worker.full_name not in page  # past staff only on the «Уволены» tab
    assert staff_b.worker.full_name not in page
    assert "Страница 1 из 2" in page
    past = client.get(reverse("orgs:staff"), {"state": "past"}).content.decode()
    assert staff_a[1].worker.full_name in past


def test_staff_list_ignores_bad_filter_values(hr_a, staff_a):
    client = logged_in(hr_a.user)
    response = client.get(reverse("orgs:staff"), {"state": "x", "position": "abc", "expiring": "7", "sort": "?"})
    assert response.status_code == 200


def test_export_holds_own_staff_and_is_journaled(hr_a, staff_a, staff_b):
    client = logged_in(hr_a.user)
    response = client.get(reverse("orgs:export_csv"), {"state": "all"})
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("\ufeffФИО;СНИЛС")
    assert staff_a[0].worker.snils_display in text and staff_a[1].worker.snils_display in text
    assert staff_b.worker.snils_display not in text
    entry = AuditEntry.objects.get(event=AuditEntry.Event.EXPORT, object_type="org_staff")
    assert entry.actor == hr_a.user and entry.details["rows"] == 2
    xlsx = client.get(reverse("orgs:export_xlsx"))
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")


def test_the_worker_page_shows_protected_fields_and_journals_the_view(hr_a, staff_a):
    worker = staff_a[0].worker
    response = logged_in(hr_a.user).get(reverse("orgs:worker", args=[worker.pk]))
    assert response.status_code == 200 and worker.snils_display in response.content.decode()
    entry = AuditEntry.objects.get(event=AuditEntry.Event.DATA_VIEWED, object_id=worker.registry_number)
    assert entry.actor == hr_a.user and entry.subject == worker.user
    assert entry.details == {"via": "organization", "organization": hr_a.organization.ogrn}


def test_hire_by_snils_through_the_form(hr_a, worker_user):
    position = PositionFactory()
    worker = worker_user.worker
    client = logged_in(hr_a.user)
    form = {
        "snils": worker.snils_display,
        "position": position.code,
        "rate": "0,5",
        "kind": "external",
        "started_on": timezone.localdate().isoformat(),
        "department": "Приёмное",
    }
    response = client.post(reverse("orgs:hire"), form)
    assert response.url == reverse("orgs:worker", args=[worker.pk])
    assert Employment.objects.get(organization=hr_a.organization, worker=worker).department == "Приёмное"


def test_hire_form_errors_name_the_field(hr_a, worker_user):
    position = PositionFactory()
    client = logged_in(hr_a.user)
    form = {
        "snils": worker_user.worker.snils_display,
        "position": position.code,
        "rate": "3",
        "kind": "main",
        "started_on": timezone.localdate().isoformat(),
    }
    response = client.post(reverse("orgs:hire"), form)
    assert response.status_code == 400 and "Ставка: ставка — от 0,25 до 1,5" in response.content.decode()
    assert not Employment.objects.exists()


def test_hiring_is_rate_limited(hr_a, settings):
    client = logged_in(hr_a.user)
    statuses = [client.post(reverse("orgs:hire"), {"snils": "1"}).status_code for _ in range(31)]
    assert statuses[:30] == [400] * 30 and statuses[30] == 429


def test_dismiss_through_the_worker_page(hr_a, staff_a):
    reason = DismissalReasonFactory()
    employment = staff_a[0]
    client = logged_in(hr_a.user)
    prefix = f"d{employment.pk}"
    bad = client.post(
        reverse("orgs:dismiss", args=[employment.pk]),
        {f"{prefix}-ended_on": "2001-01-01", f"{prefix}-reason": reason.code},
    )
    assert bad.status_code == 400 and "Дата окончания: не раньше даты начала" in bad.content.decode()
    response = client.post(
        reverse("orgs:dismiss", args=[employment.pk]),
        {f"{prefix}-ended_on": "2024-12-31", f"{prefix}-reason": reason.code},
    )
    assert response.url == reverse("orgs:worker", args=[employment.worker_id])
    employment.refresh_from_db()
    assert employment.ended_on == dt.date(2024, 12, 31) and employment.dismissal_reason == reason.name


def test_a_head_sees_but_cannot_change(hr_a, staff_a):
    head = OrgMembershipFactory(organization=hr_a.organization, role="head")
    client = logged_in(head.user)
    assert client.get(reverse("orgs:worker", args=[staff_a[0].worker_id])).status_code == 200
    assert client.get(reverse("orgs:hire")).status_code == 404
    assert client.post(reverse("orgs:change_rate", args=[staff_a[0].pk])).status_code == 404


def test_withdrawn_access_ends_at_once(hr_a, staff_a):
    client = logged_in(hr_a.user)
    assert client.get(reverse("orgs:staff")).status_code == 200
    hr_a.is_active = False
    hr_a.save(update_fields=["is_active"])
    assert client.get(reverse("orgs:staff")).status_code == 404


def test_forms_need_the_csrf_token(hr_a, staff_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(hr_a.user)
    assert client.post(reverse("orgs:change_rate", args=[staff_a[0].pk]), {}).status_code == 403
