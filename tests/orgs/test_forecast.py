"""The expiry forecast (/org/expiry/) and its weekly digest to the organization's HR officers."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import OutboundMessage
from core.models import AuditEntry
from orgs import digest, forecast
from orgs.models import ExpiryDigest
from registry.models import AdmissionDocument, OrganizationLicense
from tests.factories import (
    AdmissionDocumentFactory,
    EmploymentFactory,
    OrganizationFactory,
    OrgMembershipFactory,
    SpecialtyFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()  # the page counts from today


def _doc(worker, specialty, days: int, **kwargs):
    until = TODAY + dt.timedelta(days=days)
    return AdmissionDocumentFactory(
        worker=worker, specialty=specialty, valid_until=until, issued_on=until - dt.timedelta(days=5 * 365), **kwargs
    )


@pytest.fixture
def staff():
    """An organization with: a document ending in 10 days, one in 60, one in 200, one renewed, an expired
    post, a dismissed worker's expiring document, and another organization's worker."""
    org = OrganizationFactory()
    spec = SpecialtyFactory()
    people = {
        name: WorkerFactory(last_name=name) for name in ("Скоро", "Позже", "Нескоро", "Продлён", "Истёк", "Уволен")
    }
    for name, worker in people.items():
        EmploymentFactory(
            worker=worker,
            organization=org,
            specialty=spec,
            ended_on=TODAY - dt.timedelta(days=5) if name == "Уволен" else None,
        )
    _doc(people["Скоро"], spec, 10)
    _doc(people["Позже"], spec, 60)
    _doc(people["Нескоро"], spec, 200)
    _doc(people["Продлён"], spec, 20)
    _doc(people["Продлён"], spec, 1500)  # renewed: the old one is not news
    _doc(people["Истёк"], spec, -40)
    _doc(people["Уволен"], spec, 15)
    outsider = WorkerFactory(last_name="Чужой")
    EmploymentFactory(worker=outsider, specialty=spec)
    _doc(outsider, spec, 5)
    OrganizationLicense.objects.create(
        organization=org,
        number="Л041-01137-77/00368557",
        issued_on=dt.date(2015, 1, 1),
        valid_until=TODAY + dt.timedelta(days=45),
        authority="Росздравнадзор",
    )
    return org, people


def test_forecast_lists_expiring_and_expired_of_current_staff_only(staff):
    org, _ = staff
    result = forecast.organization_forecast(organization_id=org.pk, today=TODAY)
    assert [d.worker.last_name for d in result.expiring] == ["Скоро", "Позже"]
    assert (result.expiring_total, result.soon_total) == (2, 1)
    assert [d.days_left for d in result.expiring] == [10, 60] and result.expiring[0].soon
    assert [p.worker.last_name for p in result.expired] == ["Истёк"] and result.expired_total == 1
    assert result.expired[0].document_until == TODAY - dt.timedelta(days=40)
    [lic] = result.licenses
    assert lic.expiring and lic.attention and not lic.expired


def test_annulled_document_is_not_counted_as_expiring(staff):
    org, people = staff
    AdmissionDocument.objects.filter(worker=people["Скоро"]).update(status=AdmissionDocument.Status.ANNULLED)
    result = forecast.organization_forecast(organization_id=org.pk, today=TODAY)
    assert [d.worker.last_name for d in result.expiring] == ["Позже"]


def test_forecast_takes_a_fixed_number_of_queries(staff):
    org, _ = staff
    for n in range(10):
        worker = WorkerFactory()
        EmploymentFactory(worker=worker, organization=org, specialty=SpecialtyFactory())
        _doc(worker, SpecialtyFactory(), 3 + n)
    with CaptureQueriesContext(connection) as queries:
        result = forecast.organization_forecast(organization_id=org.pk, today=TODAY)
        [d.worker.full_name + d.specialty.name for d in result.expiring]
    assert result.expiring_total == 12 and len(queries) == 4


def test_expiry_page_shows_forecast_to_a_member_and_is_journaled(client, staff, django_assert_max_num_queries):
    org, _ = staff
    member = OrgMembershipFactory(organization=org, role="head")
    client.force_login(member.user)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("orgs:expiry"))
    text = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert "Чужой" not in text and "Уволен" not in text and "Нескоро" not in text
    assert "Л041-01137-77/00368557" in text
    assert AuditEntry.objects.filter(
        event=AuditEntry.Event.DATA_VIEWED, object_type="organization", object_id=str(org.pk), actor=member.user
    ).exists()


def test_expiry_page_needs_a_membership(client, worker_user):
    assert client.get(reverse("orgs:expiry")).status_code == 302
    client.force_login(worker_user)
    assert client.get(reverse("orgs:expiry")).status_code == 404


def test_expiry_page_of_another_organization_is_never_shown(client, staff):
    org, _ = staff
    stranger = OrgMembershipFactory()
    client.force_login(stranger.user)
    session = client.session
    session["org_id"] = org.pk  # a forged choice of an organization the user does not serve
    session.save()
    response = client.get(reverse("orgs:expiry"))
    assert "Скоро" not in response.content.decode()


# --- The weekly digest -------------------------------------------------------------------------------


def _officers(org):
    hr = OrgMembershipFactory(organization=org, user__email="hr@example.org")
    OrgMembershipFactory(organization=org, user__email="head@example.org", role="head")
    OrgMembershipFactory(organization=org, user__email="gone@example.org", is_active=False)
    return hr


def test_digest_goes_to_active_hr_officers_once_a_week(staff, on_commit_immediate):
    org, _ = staff
    _officers(org)
    assert digest.expiry_digest_run(today=TODAY) == 1
    [message] = OutboundMessage.objects.filter(channel="email")
    assert message.to == "hr@example.org" and org.short_name in message.subject
    assert "Скоро" in message.body and "Истёк" in message.body and "/org/expiry/" in message.body
    assert "Чужой" not in message.body
    assert message.html_body.startswith("<!DOCTYPE html>") and "/org/expiry/" in message.html_body
    # Again the same week (a second beat, a redelivered task): nothing more.
    assert digest.expiry_digest_run(today=digest.week_of(TODAY) + dt.timedelta(days=6)) == 0
    assert OutboundMessage.objects.count() == 1
    # Next week: a new digest.
    assert digest.expiry_digest_run(today=TODAY + dt.timedelta(days=7)) == 1
    assert list(ExpiryDigest.objects.order_by("week").values_list("week", flat=True)) == [
        digest.week_of(TODAY),
        digest.week_of(TODAY) + dt.timedelta(days=7),
    ]


def test_digest_of_an_organization_with_nothing_to_report_sends_nothing(on_commit_immediate):
    org = OrganizationFactory()
    _officers(org)
    assert digest.expiry_digest_run(today=TODAY) == 0
    assert not OutboundMessage.objects.exists() and ExpiryDigest.objects.filter(organization=org).exists()


def test_failed_digest_leaves_no_claim_and_is_sent_by_the_retry(staff, monkeypatch):
    org, _ = staff
    _officers(org)

    def broken(**kwargs):
        raise RuntimeError("mail template broke")

    monkeypatch.setattr(digest.outbox, "send_email", broken)
    with pytest.raises(RuntimeError):
        digest.expiry_digest_send(organization_id=org.pk, today=TODAY)
    assert not ExpiryDigest.objects.exists()
    monkeypatch.undo()
    assert digest.expiry_digest_send(organization_id=org.pk, today=TODAY) == 1


def test_digest_task_runs_the_digest(staff, on_commit_immediate):
    from orgs.tasks import expiry_digest

    org, _ = staff
    _officers(org)
    assert expiry_digest.apply().get() in (0, 1)
    assert ExpiryDigest.objects.filter(organization=org, week=digest.week_of(timezone.localdate())).exists()


def test_counts_are_exact_beyond_the_listed_rows(staff):
    org, _ = staff
    spec = SpecialtyFactory()
    for _n in range(3):
        worker = WorkerFactory()
        EmploymentFactory(worker=worker, organization=org, specialty=spec)
        _doc(worker, spec, -10)
        _doc(worker, spec, 5, kind=AdmissionDocument.Kind.CERTIFICATE, status=AdmissionDocument.Status.SUSPENDED)
    result = forecast.organization_forecast(organization_id=org.pk, today=TODAY, limit=1)
    assert (len(result.expired), result.expired_total) == (1, 4)
    assert (len(result.expiring), result.expiring_total) == (1, 2)
