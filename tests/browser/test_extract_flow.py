"""A demo worker logs in, downloads the official extract from /extracts/, opens the verification
link printed in it, and the page confirms the document; uploading the file confirms it too."""

import io
import re

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from accounts.models import SmsOutbox, User
from api.models import Extract

DEMO_SNILS = "112-233-445 95"
DEMO_PASSWORD = "Medreg-demo-2026"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings, live_server):
    settings.SMS_BACKEND = "accounts.sms.DatabaseBackend"
    settings.SITE_URL = live_server.url  # the link and QR code in the PDF point at this server
    call_command("load_directories", verbosity=0)
    call_command("seed_demo", verbosity=0)
    return User.objects.get(username="11223344595")


def _login(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/?next=/extracts/")
    page.get_by_label("Медицинский работник").check()
    page.get_by_label("СНИЛС или логин сотрудника").fill(DEMO_SNILS)
    page.get_by_label("Пароль").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Продолжить").click()
    page.wait_for_url("**/accounts/login/verify/**")
    code = re.search(r"\b(\d{6})\b", SmsOutbox.objects.latest("created_at").text).group(1)
    page.get_by_label("Код").fill(code)
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(f"{live_server.url}/extracts/")


def test_worker_downloads_an_extract_and_its_verification_page_confirms_it(
    browser_page, live_server, demo, screenshot_dir, tmp_path
):
    page = browser_page
    _login(page, live_server)
    page.screenshot(path=str(screenshot_dir / "extracts-page.png"), full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Скачать выписку из регистра (PDF)").click()
    path = tmp_path / "extract.pdf"
    download_info.value.save_as(path)
    data = path.read_bytes()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "Выписка из регистра медицинских" in text and "Иванова Мария Петровна" in text
    extract = Extract.objects.get(user=demo)
    assert extract.code_display in text

    # The verification link printed in the document (the QR code carries the same URL).
    url = re.search(r"(http://\S+/verify/[0-9A-Z]{12}/)", text.replace("\n", " ")).group(1)
    page.goto(url)
    verdict = page.locator("#verdict")
    assert "Документ подлинный" in verdict.inner_text()
    assert "Сведения актуальны" in page.locator("#currency").inner_text()
    assert page.get_by_text("Иванова Мария Петровна").first.is_visible()
    page.screenshot(path=str(screenshot_dir / "extract-verified.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(screenshot_dir / "extract-verified-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Whoever received the file can upload it: the file itself is checked.
    page.goto(f"{live_server.url}/verify/")
    page.get_by_label("Файл выписки (PDF)").set_input_files(str(path))
    page.get_by_role("button", name="Проверить файл").click()
    assert "текст файла совпадает" in page.locator("#verdict").inner_text()

    # Back on /extracts/ the issued extract is listed.
    page.goto(f"{live_server.url}/extracts/")
    assert page.get_by_role("link", name=extract.code_display).is_visible()
