"""E-mail and SMS through the outbox (accounts.outbox): written with the change, sent once, never lost
with a broker message, retried, retaken from a dead worker, purged after 30 days."""

import datetime as dt
from unittest import mock

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from accounts import outbox, tasks
from accounts.models import OutboundMessage
from accounts.notifications import notification_send
from core import reconcile
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _notify(user, **kwargs):
    return notification_send(
        user=user, kind="test", template="verification/emails/identity_confirmed", context={"user": user}, **kwargs
    )


def test_a_rolled_back_change_leaves_no_message_and_a_committed_one_is_sent_once(django_capture_on_commit_callbacks):
    user = UserFactory(email="anna@example.org")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            _notify(user)
            raise RuntimeError("the decision failed")
    assert not OutboundMessage.objects.exists() and not callbacks and not mail.outbox

    with django_capture_on_commit_callbacks(execute=True):
        _notify(user)  # inline mode: sent once the change commits
    message = OutboundMessage.objects.get()
    assert (message.channel, message.to, message.state, message.attempts) == ("email", "anna@example.org", "sent", 1)
    assert [m.to for m in mail.outbox] == [["anna@example.org"]]
    assert tasks.send_message.apply(args=[str(message.pk)]).get() == "skipped"  # a duplicate delivery
    assert len(mail.outbox) == 1


def test_important_notifications_also_go_by_sms_to_a_confirmed_phone(django_capture_on_commit_callbacks, settings):
    settings.SMS_BACKEND = "accounts.sms.DatabaseBackend"
    user = UserFactory(email="", phone="+79161234567", phone_confirmed_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        _notify(user, important=True)
    assert list(OutboundMessage.objects.values_list("channel", "to", "state")) == [("sms", "+79161234567", "sent")]


def test_a_failing_gateway_is_retried_and_the_claim_released(settings):
    user = UserFactory(email="anna@example.org")
    _notify(user)  # the test transaction never commits: queued, not sent
    message = OutboundMessage.objects.get()
    assert message.state == "queued"
    with (
        mock.patch("accounts.outbox.EmailMultiAlternatives.send", side_effect=OSError("mail server down")),
        mock.patch.object(tasks.send_message, "retry", side_effect=RuntimeError("retry scheduled")) as retry,
        pytest.raises(RuntimeError, match="retry scheduled"),
    ):
        tasks.send_message.run(str(message.pk))  # as a worker runs it, not inline
    assert retry.call_args.kwargs["countdown"] == 30
    message.refresh_from_db()
    assert (message.state, message.attempts, message.started_at) == ("queued", 1, None)
    assert tasks.send_message.run(str(message.pk)) == "sent"
    assert len(mail.outbox) == 1


def test_out_of_retries_the_message_is_failed_for_staff_to_see():
    message = outbox.send_email(to="anna@example.org", subject="Тема", body="Текст")
    with (
        mock.patch("accounts.outbox.EmailMultiAlternatives.send", side_effect=OSError("mail server down")),
        mock.patch.object(tasks.send_message, "max_retries", 0),
    ):
        assert tasks.send_message.run(str(message.pk)) == "failed"
    message.refresh_from_db()
    assert message.state == "failed"


def test_the_reconciler_sends_a_lost_message_and_retakes_one_from_a_dead_worker():
    now = timezone.now()
    lost = outbox.send_email(to="lost@example.org", subject="Тема", body="Текст")  # its publish never happened
    fresh = outbox.send_email(to="fresh@example.org", subject="Тема", body="Текст")
    dead = outbox.send_email(to="dead@example.org", subject="Тема", body="Текст")
    busy = outbox.send_email(to="busy@example.org", subject="Тема", body="Текст")
    OutboundMessage.objects.filter(pk=lost.pk).update(queued_at=now - outbox.LOST_AFTER - dt.timedelta(minutes=1))
    OutboundMessage.objects.filter(pk=dead.pk).update(state="sending", started_at=now - outbox.SEND_LEASE * 2)
    OutboundMessage.objects.filter(pk=busy.pk).update(state="sending", started_at=now)
    assert reconcile.reconcile_queued()["accounts.OutboundMessage"] == 2  # inline: sent at once
    states = dict(OutboundMessage.objects.values_list("to", "state"))
    assert states == {
        "lost@example.org": "sent",
        "fresh@example.org": "queued",
        "dead@example.org": "sent",
        "busy@example.org": "sending",
    }
    assert sorted(m.to[0] for m in mail.outbox) == ["dead@example.org", "lost@example.org"]
    assert outbox.claim(busy.pk) is None  # another worker holds it
    assert fresh.pk


def test_sent_messages_are_purged_after_30_days():
    old = outbox.send_email(to="old@example.org", subject="Тема", body="Текст")
    recent = outbox.send_email(to="recent@example.org", subject="Тема", body="Текст")
    unsent = outbox.send_email(to="unsent@example.org", subject="Тема", body="Текст")
    now = timezone.now()
    OutboundMessage.objects.filter(pk=old.pk).update(state="sent", sent_at=now - dt.timedelta(days=31))
    OutboundMessage.objects.filter(pk=recent.pk).update(state="sent", sent_at=now - dt.timedelta(days=1))
    OutboundMessage.objects.filter(pk=unsent.pk).update(queued_at=now - dt.timedelta(days=60))
    assert tasks.purge_sent_messages.apply().get() == 1
    assert set(OutboundMessage.objects.values_list("to", flat=True)) == {"recent@example.org", "unsent@example.org"}


def test_no_address_no_message():
    assert outbox.send_email(to="", subject="Тема", body="Текст") is None
    assert outbox.send_sms(to="", text="Текст") is None
    assert not OutboundMessage.objects.exists()
