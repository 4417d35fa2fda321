"""Notification delivery: a failing gateway is retried by the worker and never breaks a page."""

from unittest import mock

import pytest

from accounts import sms, tasks


def test_failed_sms_is_retried_with_backoff(settings):
    settings.SMS_BACKEND = "accounts.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/send"
    with mock.patch.object(tasks.deliver_sms, "retry", side_effect=RuntimeError("retry scheduled")) as retry:
        with pytest.raises(RuntimeError, match="retry scheduled"):
            tasks.deliver_sms.run("+79161234567", "text")  # as a worker would run it, not inline
    assert retry.call_args.kwargs["countdown"] == 30
    assert isinstance(retry.call_args.kwargs["exc"], sms.SmsDeliveryError)


def test_inline_mode_swallows_a_failed_delivery(settings):
    settings.SMS_BACKEND = "accounts.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/send"
    assert tasks.deliver_sms.apply(args=["+79161234567", "text"]).successful()


def test_backoff_grows_and_is_capped():
    assert [tasks._backoff(n) for n in (0, 1, 2, 10)] == [30, 60, 120, 900]
