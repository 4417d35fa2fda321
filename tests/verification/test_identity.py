"""Identity confirmation: every transition (frozen time), every discrepancy kind, the 30-day fix
window, a state registry that is down, a crashed check retried that finishes once."""

import datetime as dt
from unittest import mock

import pytest
import time_machine
from celery.exceptions import Retry
from django.utils import timezone

from accounts.models import Notification
from core.models import AuditEntry
from registry.models import MedicalWorker
from tests.verification.conftest import identity_files, identity_input, other_inn, reference_for
from verification import deadlines, services
from verification.gateways import GatewayUnavailable
from verification.models import ApplicationHistory, IdentityApplication, StateRegistryReference, StoredDocument
from verification.tasks import check_identity_application

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _submit(worker, **overrides):
    return services.identity_application_submit(
        user=worker.user, data=identity_input(worker, **overrides), files=identity_files()
    )


def _check(application):
    status = services.identity_application_check(application_id=application.pk)
    application.refresh_from_db()
    return status


def _statuses(application):
    return list(
        ApplicationHistory.objects.filter(kind="identity", application_id=application.pk)
        .order_by("id")
        .values_list("from_status", "to_status")
    )


def test_matching_data_is_confirmed_and_worker_gains_edit_rights(worker):
    with time_machine.travel(T0, tick=False):
        application = _submit(worker)
        assert application.status == IdentityApplication.Status.SUBMITTED
        worker.refresh_from_db()
        assert worker.identity_status == MedicalWorker.IdentityStatus.PENDING
        assert _check(application) == IdentityApplication.Status.CONFIRMED
    worker.refresh_from_db()
    assert worker.identity_status == MedicalWorker.IdentityStatus.CONFIRMED
    assert worker.last_confirmed_at == T0
    assert application.decided_at == T0
    assert _statuses(application) == [("", "submitted"), ("submitted", "checking"), ("checking", "confirmed")]
    note = Notification.objects.get(user=worker.user, kind="identity_confirmed")
    assert note.important
    assert AuditEntry.objects.filter(subject=worker.user, details__action="identity_confirmed").exists()


def test_names_differing_only_in_yo_and_case_match(worker):
    StateRegistryReference.objects.filter(source="tax").update(last_name=worker.last_name.upper())
    application = _submit(worker, first_name=worker.first_name.lower())
    assert _check(application) == IdentityApplication.Status.CONFIRMED


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"last_name": "Другая"}, "last_name", "Фамилия: не совпадает"),
        ({"first_name": "Другое"}, "first_name", "Имя: не совпадает"),
        ({"middle_name": "Иное"}, "middle_name", "Отчество: не совпадает"),
        ({"birth_date": dt.date(1990, 1, 1)}, "birth_date", "Дата рождения: не совпадает"),
        ({"inn": "500100732259"}, "inn", "ИНН: такой ИНН не найден"),
    ],
)
def test_rejected_application_lists_each_mismatch(worker, overrides, field, fragment):
    with time_machine.travel(T0, tick=False):
        application = _submit(worker, **overrides)
        assert _check(application) == IdentityApplication.Status.REJECTED
    fields = [d["field"] for d in application.discrepancies]
    assert fields == [field]
    assert fragment in application.discrepancies[0]["message"]
    assert application.fix_deadline == T0 + dt.timedelta(days=30)
    worker.refresh_from_db()
    assert worker.identity_status == MedicalWorker.IdentityStatus.REJECTED
    note = Notification.objects.get(user=worker.user, kind="identity_rejected")
    assert fragment in note.body


def test_name_mismatch_names_both_registries(worker):
    application = _submit(worker, last_name="Другая")
    _check(application)
    message = application.discrepancies[0]["message"]
    assert "Социального фонда" in message and "налоговой службы" in message
    assert application.discrepancies[0]["entered"] == "Другая"


def test_unknown_snils_is_a_discrepancy(worker):
    StateRegistryReference.objects.filter(source="social_fund").delete()
    application = _submit(worker)
    _check(application)
    assert [d["field"] for d in application.discrepancies] == ["snils"]
    assert "не найден в данных Социального фонда" in application.discrepancies[0]["message"]


def test_inn_of_another_person_is_a_discrepancy(worker):
    # The INN exists, with the same name and birth date (a namesake), but the tax service links it
    # to a different SNILS.
    StateRegistryReference.objects.create(
        source="tax",
        key=other_inn(),
        last_name=worker.last_name,
        first_name=worker.first_name,
        middle_name=worker.middle_name,
        birth_date=worker.birth_date,
        linked_key="11223344595",
    )
    application = _submit(worker, inn=other_inn())
    _check(application)
    assert [d["field"] for d in application.discrepancies] == ["inn"]
    assert "принадлежит владельцу другого СНИЛС" in application.discrepancies[0]["message"]


def test_several_mismatches_are_all_listed_in_field_order(worker):
    application = _submit(worker, last_name="Другая", birth_date=dt.date(1990, 1, 1), inn=other_inn())
    _check(application)
    assert [d["field"] for d in application.discrepancies] == ["last_name", "birth_date", "inn"]


def test_unreadable_stored_document_rejects_by_field(worker, settings):
    application = _submit(worker)
    # The blob disappeared from storage (or was tampered with): the check says which file.
    (settings.DOCUMENT_STORAGE_DIR / application.passport_document.storage_name).unlink()
    _check(application)
    assert application.status == IdentityApplication.Status.REJECTED
    assert application.discrepancies[0]["field"] == "passport_document"
    assert "не удалось прочитать" in application.discrepancies[0]["message"]


def test_snils_other_than_the_account_is_refused(worker):
    with pytest.raises(services.VerificationError) as exc:
        _submit(worker, snils="11223344595")
    assert exc.value.field == "snils"
    assert not IdentityApplication.objects.exists()


def test_second_application_while_one_is_open_is_refused(worker):
    _submit(worker)
    with pytest.raises(services.VerificationError, match="уже на проверке"):
        _submit(worker)
    # The refused application's files were stored before the check and are removed again.
    assert StoredDocument.objects.count() == 2


def test_fix_within_30_days_then_confirmed(worker):
    with time_machine.travel(T0, tick=False):
        application = _submit(worker, inn=other_inn())
        _check(application)
    with time_machine.travel(T0 + dt.timedelta(days=29, hours=23), tick=False):
        application = services.identity_application_resubmit(
            application=application, user=worker.user, data=identity_input(worker), files={}
        )
        assert application.status == IdentityApplication.Status.SUBMITTED
        assert _check(application) == IdentityApplication.Status.CONFIRMED
    assert _statuses(application) == [
        ("", "submitted"),
        ("submitted", "checking"),
        ("checking", "rejected"),
        ("rejected", "submitted"),
        ("submitted", "checking"),
        ("checking", "confirmed"),
    ]
    entry = AuditEntry.objects.get(subject=worker.user, details__action="identity_resubmitted")
    assert entry.details["fields"] == ["inn"]


def test_fix_after_30_days_is_refused_and_the_sweep_expires_it(worker):
    with time_machine.travel(T0, tick=False):
        application = _submit(worker, inn=other_inn())
        _check(application)
    with time_machine.travel(T0 + dt.timedelta(days=30, seconds=1), tick=False):
        with pytest.raises(services.VerificationError, match="срок исправления истёк"):
            services.identity_application_resubmit(
                application=application, user=worker.user, data=identity_input(worker), files={}
            )
        assert deadlines.run_all()["expired"] == 1
        assert deadlines.run_all()["expired"] == 0  # idempotent
    application.refresh_from_db()
    assert application.status == IdentityApplication.Status.EXPIRED
    assert Notification.objects.filter(user=worker.user, kind="identity_expired").count() == 1
    # A new application may be filed after expiry.
    assert _submit(worker).status == IdentityApplication.Status.SUBMITTED


def test_not_expired_one_second_before_the_deadline(worker):
    with time_machine.travel(T0, tick=False):
        application = _submit(worker, inn=other_inn())
        _check(application)
    with time_machine.travel(T0 + dt.timedelta(days=30) - dt.timedelta(seconds=1), tick=False):
        assert services.identity_applications_expire() == 0


# --- Gateway down, crashes and retries -------------------------------------------------------------


class DownGateway:
    def tax_lookup(self, *, inn):
        raise GatewayUnavailable("timeout")

    def social_fund_lookup(self, *, snils):
        raise GatewayUnavailable("timeout")


def _run_task(application_id, *, retries, redelivered=False):
    """Run the task body as a worker would, with the given retry count (not eager); ``redelivered``
    as the broker marks a message it delivers again after its worker died."""
    check_identity_application.push_request(
        retries=retries, is_eager=False, called_directly=False, id="t", delivery_info={"redelivered": redelivered}
    )
    try:
        return check_identity_application.run(application_id)
    finally:
        check_identity_application.pop_request()


def test_gateway_down_retries_with_backoff_then_manual_review_never_a_pass(worker, settings):
    settings.VERIFICATION_GATEWAY = "tests.verification.test_identity.DownGateway"
    application = _submit(worker)
    with mock.patch.object(check_identity_application, "retry", side_effect=Retry()) as retry:
        with pytest.raises(Retry):
            _run_task(application.pk, retries=0)
        assert retry.call_args.kwargs["countdown"] == 60
        with pytest.raises(Retry):
            _run_task(application.pk, retries=3)
        assert retry.call_args.kwargs["countdown"] == 480
    application.refresh_from_db()
    assert application.status == IdentityApplication.Status.SUBMITTED  # claim released for the retry
    assert _run_task(application.pk, retries=check_identity_application.max_retries) == "manual_review"
    application.refresh_from_db()
    assert application.status == IdentityApplication.Status.MANUAL_REVIEW
    worker.refresh_from_db()
    assert worker.identity_status == MedicalWorker.IdentityStatus.PENDING
    assert not Notification.objects.filter(kind="identity_confirmed").exists()


def test_gateway_down_inline_goes_to_manual_review(worker, settings):
    settings.VERIFICATION_GATEWAY = "tests.verification.test_identity.DownGateway"
    application = _submit(worker)
    assert check_identity_application.apply(args=[application.pk]).get() == "manual_review"
    application.refresh_from_db()
    assert application.status == IdentityApplication.Status.MANUAL_REVIEW


def test_crashed_check_is_retried_and_finishes_once(worker):
    application = _submit(worker)
    real = services.checks.identity_discrepancies
    calls = {"n": 0}

    def flaky(app, gateway):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker crashed mid-check")
        return real(app, gateway)

    with (
        mock.patch.object(services.checks, "identity_discrepancies", side_effect=flaky),
        mock.patch.object(check_identity_application, "retry", side_effect=Retry()),
    ):
        with pytest.raises(Retry):
            _run_task(application.pk, retries=0)
        application.refresh_from_db()
        assert application.status == IdentityApplication.Status.SUBMITTED
        assert _run_task(application.pk, retries=1) == IdentityApplication.Status.CONFIRMED
        # The broker delivers the same task again (acks_late): nothing happens twice.
        assert _run_task(application.pk, retries=1) == "skipped"
    application.refresh_from_db()
    assert application.check_attempts == 2
    assert Notification.objects.filter(user=worker.user, kind="identity_confirmed").count() == 1
    assert _statuses(application) == [
        ("", "submitted"),
        ("submitted", "checking"),
        ("checking", "submitted"),
        ("submitted", "checking"),
        ("checking", "confirmed"),
    ]


def test_check_killed_without_cleanup_is_reclaimed_after_the_lease(worker):
    with time_machine.travel(T0, tick=False):
        application = _submit(worker)
        # A worker process died after claiming: the row stays in CHECKING.
        IdentityApplication.objects.filter(pk=application.pk).update(status="checking", check_started_at=T0)
        assert services.identity_application_check(application_id=application.pk) == "skipped"
    with time_machine.travel(T0 + services.CHECK_LEASE + dt.timedelta(seconds=1), tick=False):
        assert services.identity_application_check(application_id=application.pk) == "confirmed"


def test_redelivered_check_retakes_the_claim_of_its_dead_worker_at_once(worker):
    application = _submit(worker)
    # The worker process died mid-check; the broker gives its task again (reject on worker lost, or
    # the visibility timeout): the claim it left is fresh, far from the lease's end.
    IdentityApplication.objects.filter(pk=application.pk).update(status="checking", check_started_at=timezone.now())
    assert _run_task(application.pk, retries=0) == "skipped"  # a plain duplicate leaves a live claim alone
    assert _run_task(application.pk, retries=0, redelivered=True) == "confirmed"
    assert _run_task(application.pk, retries=0, redelivered=True) == "skipped"  # decided stays decided
    assert Notification.objects.filter(user=worker.user).count() == 1
    assert _statuses(application)[-2:] == [("checking", "checking"), ("checking", "confirmed")]


def test_staff_confirm_and_reject_from_manual_review(worker, support_agent):
    application = _submit(worker)
    services.identity_application_to_manual_review(application_id=application.pk, reason="ФНС недоступна")
    with pytest.raises(services.VerificationError, match="Причина"):
        services.identity_application_reject(application=application, actor=support_agent, reason=" ")
    services.identity_application_reject(application=application, actor=support_agent, reason="Нечитаемый скан")
    application.refresh_from_db()
    assert application.status == IdentityApplication.Status.REJECTED
    assert "Нечитаемый скан" in application.discrepancies[0]["message"]
    history = ApplicationHistory.objects.filter(kind="identity", application_id=application.pk).last()
    assert history.actor == support_agent
    with pytest.raises(services.VerificationError):
        services.identity_application_approve(application=application, actor=support_agent)


def test_reference_for_helper_gives_independent_workers(worker, second_worker_user):
    # Sanity of the fixture: another worker's records do not satisfy this one's check.
    reference_for(second_worker_user.worker)
    application = _submit(worker)
    assert _check(application) == "confirmed"
    assert timezone.now() >= application.decided_at


def test_inline_crash_does_not_fail_the_page_and_the_sweep_hands_it_to_staff(worker):
    with time_machine.travel(T0, tick=False):
        application = _submit(worker)
        with mock.patch.object(services.checks, "identity_discrepancies", side_effect=RuntimeError("bug")):
            assert check_identity_application.apply(args=[application.pk]).get() == "error"
        application.refresh_from_db()
        assert application.status == IdentityApplication.Status.SUBMITTED
    with time_machine.travel(T0 + dt.timedelta(hours=24), tick=False):
        assert deadlines.run_all()["escalated"] == 1
        assert deadlines.run_all()["escalated"] == 0
    application.refresh_from_db()
    assert application.status == IdentityApplication.Status.MANUAL_REVIEW


def test_a_check_the_broker_lost_is_enqueued_again_by_the_reconciler_and_decided_once(
    worker, monkeypatch, django_capture_on_commit_callbacks
):
    """Redis down at submit time: the request succeeds, the application waits as submitted, and the
    reconciler (core.reconcile) enqueues its check later; it ends in one final state."""
    from core import reconcile

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    from portal.celery import app

    monkeypatch.setattr(reconcile, "_send", broker_down)
    monkeypatch.setitem(app.conf, "task_always_eager", False)  # a real broker, which is down
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        application = _submit(worker)  # the enqueue after commit fails, without raising
    assert callbacks
    application.refresh_from_db()
    assert application.status == IdentityApplication.Status.SUBMITTED
    monkeypatch.undo()
    IdentityApplication.objects.filter(pk=application.pk).update(submitted_at=timezone.now() - dt.timedelta(hours=1))
    assert reconcile.reconcile_queued()["verification.IdentityApplication"] == 1
    application.refresh_from_db()
    assert application.status == IdentityApplication.Status.CONFIRMED
    assert reconcile.reconcile_queued()["verification.IdentityApplication"] == 0
