"""Qualification confirmation and the deadline sweeps: 24-hour escalation, 7-day closure,
admission expiry reminders at 90/30/7 days; each idempotent, with frozen time."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification
from registry.models import AdmissionDocument, MedicalWorker
from tests.factories import AdmissionDocumentFactory
from tests.verification.conftest import pdf_upload, upload
from verification import deadlines, services
from verification.models import ApplicationHistory, DeadlineNotice, QualificationApplication

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _files(**skip):
    files = {
        "diploma_document": pdf_upload("diploma.pdf"),
        "residency_document": pdf_upload("residency.pdf"),
        "admission_document": upload("cert.png"),
        "no_sanctions_document": pdf_upload("statement.pdf"),
    }
    return {k: v for k, v in files.items() if k not in skip}


def _submit(worker, files=None, diploma="1234567", admission="0177000000001"):
    return services.qualification_application_submit(
        user=worker.user,
        data=services.QualificationInput(diploma_number=diploma, admission_number=admission),
        files=_files() if files is None else files,
    )


def _check(application):
    services.qualification_application_check(application_id=application.pk)
    application.refresh_from_db()
    return application.status


def test_identity_must_be_confirmed_first(worker):
    with pytest.raises(services.VerificationError, match="подтвердите личность"):
        _submit(worker)


def test_complete_set_is_confirmed_and_shown_on_public_profile(confirmed_worker, client):
    worker = confirmed_worker
    profile = client.get(reverse("registry:profile", args=[worker.registry_number]))
    assert "Подтверждён" not in profile.content.decode()
    with time_machine.travel(T0, tick=False):
        application = _submit(worker)
        assert _check(application) == QualificationApplication.Status.CONFIRMED
    worker.refresh_from_db()
    assert worker.has_confirmed_documents
    assert worker.last_confirmed_at == T0
    page = client.get(reverse("registry:profile", args=[worker.registry_number])).content.decode()
    assert "Подтверждён" in page
    assert Notification.objects.filter(user=worker.user, kind="qualification_confirmed").count() == 1


@pytest.mark.parametrize(
    "missing", ["diploma_document", "residency_document", "admission_document", "no_sanctions_document"]
)
def test_missing_document_is_listed_with_7_days_to_fix(confirmed_worker, missing):
    with time_machine.travel(T0, tick=False):
        application = _submit(confirmed_worker, files=_files(**{missing: True}))
        assert _check(application) == QualificationApplication.Status.NEEDS_FIX
    assert [p["field"] for p in application.problems] == [missing]
    assert "документ не приложен" in application.problems[0]["message"]
    assert application.fix_deadline == T0 + dt.timedelta(days=7)


def test_wrong_numbers_are_listed(confirmed_worker):
    application = _submit(confirmed_worker, diploma="999", admission="X-1")
    _check(application)
    assert [p["field"] for p in application.problems] == ["diploma_number", "admission_number"]


def test_redelivered_check_retakes_the_claim_of_its_dead_worker_and_decides_once(confirmed_worker):
    application = _submit(confirmed_worker)
    QualificationApplication.objects.filter(pk=application.pk).update(
        status="checking", check_started_at=timezone.now()
    )
    check = services.qualification_application_check
    assert check(application_id=application.pk) == "skipped"  # a live claim is left alone
    assert check(application_id=application.pk, redelivered=True) == QualificationApplication.Status.CONFIRMED
    assert check(application_id=application.pk, redelivered=True) == "skipped"
    assert Notification.objects.filter(user=confirmed_worker.user).count() == 1


def test_fix_within_7_days_then_confirmed(confirmed_worker):
    with time_machine.travel(T0, tick=False):
        application = _submit(confirmed_worker, files=_files(residency_document=True))
        _check(application)
    with time_machine.travel(T0 + dt.timedelta(days=6, hours=23), tick=False):
        services.qualification_application_resubmit(
            application=application,
            user=confirmed_worker.user,
            data=services.QualificationInput(diploma_number="1234567", admission_number="0177000000001"),
            files={"residency_document": pdf_upload("residency.pdf")},
        )
        assert _check(application) == QualificationApplication.Status.CONFIRMED


def test_not_fixed_in_7_days_is_closed_once(confirmed_worker):
    with time_machine.travel(T0, tick=False):
        application = _submit(confirmed_worker, files=_files(residency_document=True))
        _check(application)
    with time_machine.travel(T0 + dt.timedelta(days=7) - dt.timedelta(seconds=1), tick=False):
        assert deadlines.run_all()["closed"] == 0
    with time_machine.travel(T0 + dt.timedelta(days=7), tick=False):
        assert deadlines.run_all()["closed"] == 1
        assert deadlines.run_all()["closed"] == 0
        with pytest.raises(services.VerificationError):
            services.qualification_application_resubmit(
                application=application,
                user=confirmed_worker.user,
                data=services.QualificationInput(diploma_number="1", admission_number="1"),
                files={},
            )
    application.refresh_from_db()
    assert application.status == QualificationApplication.Status.CLOSED
    assert Notification.objects.filter(kind="qualification_closed").count() == 1


def test_check_not_finished_in_24_hours_is_escalated_once(confirmed_worker, support_agent):
    with time_machine.travel(T0, tick=False):
        application = _submit(confirmed_worker)  # no worker ran the check
    with time_machine.travel(T0 + dt.timedelta(hours=23, minutes=59), tick=False):
        assert services.qualification_applications_escalate() == 0
    with time_machine.travel(T0 + dt.timedelta(hours=24), tick=False):
        assert deadlines.run_all()["escalated"] == 1
        assert deadlines.run_all()["escalated"] == 0
    application.refresh_from_db()
    assert application.status == QualificationApplication.Status.ESCALATED
    # A late automatic check no longer decides: staff do.
    assert services.qualification_application_check(application_id=application.pk) == "skipped"
    services.qualification_application_approve(application=application, actor=support_agent)
    application.refresh_from_db()
    assert application.status == QualificationApplication.Status.CONFIRMED
    assert list(
        ApplicationHistory.objects.filter(application_id=application.pk, kind="qualification").values_list(
            "to_status", flat=True
        )
    ) == ["submitted", "escalated", "confirmed"]


def test_staff_return_escalated_application_with_reason(confirmed_worker, support_agent):
    application = _submit(confirmed_worker)
    QualificationApplication.objects.filter(pk=application.pk).update(status="escalated")
    services.qualification_application_reject(
        application=application, actor=support_agent, reason="Скан справки нечитаем"
    )
    application.refresh_from_db()
    assert application.status == QualificationApplication.Status.NEEDS_FIX
    assert "Скан справки нечитаем" in application.problems[0]["message"]


# --- Admission expiry reminders ----------------------------------------------------------------------


@pytest.mark.parametrize(("days_left", "stage", "important"), [(90, 90, False), (30, 30, True), (7, 7, True)])
def test_admission_reminder_at_each_stage_sent_once(worker, days_left, stage, important):
    today = dt.date(2026, 3, 2)
    AdmissionDocument.objects.filter(worker=worker).update(
        valid_until=today + dt.timedelta(days=days_left), issued_on=today - dt.timedelta(days=1000)
    )
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        assert deadlines.admission_expiry_reminders() == 1
        assert deadlines.admission_expiry_reminders() == 0
    note = Notification.objects.get(user=worker.user, kind="admission_expiring")
    assert note.important is important
    assert f"осталось {days_left} дн." in note.body
    assert DeadlineNotice.objects.filter(key__endswith=f":{stage}").count() == 1


def test_no_reminder_outside_the_stages(worker):
    AdmissionDocument.objects.filter(worker=worker).update(
        valid_until=dt.date(2026, 3, 2) + dt.timedelta(days=91), issued_on=dt.date(2022, 1, 1)
    )
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        assert deadlines.admission_expiry_reminders() == 0


def test_reminder_stages_advance_as_days_pass(worker):
    AdmissionDocument.objects.filter(worker=worker).update(
        valid_until=dt.date(2026, 6, 1), issued_on=dt.date(2021, 6, 2)
    )
    sent = []
    for day in (
        dt.date(2026, 3, 3),
        dt.date(2026, 3, 20),
        dt.date(2026, 5, 2),
        dt.date(2026, 5, 25),
        dt.date(2026, 5, 26),
    ):
        with time_machine.travel(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), tick=False):
            sent.append(deadlines.admission_expiry_reminders())
    assert sent == [1, 0, 1, 1, 0]


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_one_reminder(worker):
    """The unique DeadlineNotice key is the claim: racing inserts cannot both win."""
    AdmissionDocument.objects.filter(worker=worker).update(
        valid_until=dt.date.today() + dt.timedelta(days=20), issued_on=dt.date(2022, 1, 1)
    )
    results = []
    barrier = threading.Barrier(2)

    def sweep():
        try:
            barrier.wait()
            results.append(deadlines.admission_expiry_reminders())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1]
    assert Notification.objects.filter(kind="admission_expiring").count() == 1


def test_suspended_or_unlinked_documents_get_no_reminder(worker):
    AdmissionDocument.objects.filter(worker=worker).update(
        valid_until=dt.date.today() + dt.timedelta(days=20), issued_on=dt.date(2022, 1, 1), status="suspended"
    )
    AdmissionDocumentFactory(valid_until=dt.date.today() + dt.timedelta(days=20))  # worker without account
    assert deadlines.admission_expiry_reminders() == 0
    assert MedicalWorker.objects.count() == 2
