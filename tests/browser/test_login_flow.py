"""A demo worker logs in through the real pages: SNILS + password, then an SMS code read from
the outbox, and again with a code from an authenticator app."""

import re

import pyotp
import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import SmsOutbox, TotpDevice, User

DEMO_SNILS = "112-233-445 95"
DEMO_PASSWORD = "Medreg-demo-2026"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings):
    settings.SMS_BACKEND = "accounts.sms.DatabaseBackend"
    call_command("load_directories", verbosity=0)
    call_command("seed_demo", verbosity=0)
    return User.objects.get(username="11223344595")


def _password_step(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Медицинский работник").check()
    page.get_by_label("СНИЛС или логин сотрудника").fill(DEMO_SNILS)
    page.get_by_label("Пароль").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Продолжить").click()
    page.wait_for_url("**/accounts/login/verify/**")


def test_demo_worker_logs_in_with_sms_code_from_outbox(browser_page, live_server, demo, screenshot_dir):
    page = browser_page
    _password_step(page, live_server)
    assert "Мы отправили SMS" in page.content()
    page.screenshot(path=str(screenshot_dir / "login-sms-code.png"), full_page=True)

    code = re.search(r"\b(\d{6})\b", SmsOutbox.objects.latest("created_at").text).group(1)
    page.get_by_label("Код").fill(code)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(f"{live_server.url}/cabinet/")  # settings.LOGIN_LANDING: a worker lands in the cabinet
    assert page.locator(".site-nav__user", has_text="Иванова Мария Петровна").is_visible()
    page.screenshot(path=str(screenshot_dir / "login-done.png"), full_page=True)


def test_demo_worker_logs_in_with_totp(browser_page, live_server, demo, screenshot_dir):
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=demo, secret=secret, confirmed_at=timezone.now())
    page = browser_page
    _password_step(page, live_server)
    assert "приложение-аутентификатор" in page.content().lower()
    page.get_by_label("Код").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(f"{live_server.url}/cabinet/")  # settings.LOGIN_LANDING: a worker lands in the cabinet
    assert page.locator(".site-nav__user", has_text="Иванова Мария Петровна").is_visible()
    assert not SmsOutbox.objects.exists()  # the app's code was enough: no SMS was sent


def test_wrong_code_shows_a_clear_error(browser_page, live_server, demo, screenshot_dir):
    page = browser_page
    _password_step(page, live_server)
    page.get_by_label("Код").fill("12345")
    page.get_by_role("button", name="Войти").click()
    assert page.get_by_text("Код: должно быть 6 цифр.").is_visible()
    page.screenshot(path=str(screenshot_dir / "login-code-error.png"), full_page=True)
