"""The demo worker confirms identity in the cabinet: uploads documents, sees the rejection with
discrepancies (a wrong INN), fixes it, resubmits and ends «Подтверждено». Then a profile
correction: the difference is shown before sending, staff approve it in admin, the cabinet
shows the new data and «Актуализировано»."""

import io

import pytest
from django.core.management import call_command
from django.test import Client
from PIL import Image
from pypdf import PdfWriter

from accounts.models import User
from demo.people import DEMO_WRONG_INN, WORKERS
from tests.factories import StaffFactory
from verification.models import ChangeRequest, IdentityApplication

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _page_for(browser, live_server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")  # a phone
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return context.new_page()


def _files(tmp_path):
    passport = tmp_path / "passport.png"
    Image.new("RGB", (800, 600), (220, 220, 230)).save(passport)
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    certificate = tmp_path / "certificate.pdf"
    buffer = io.BytesIO()
    writer.write(buffer)
    certificate.write_bytes(buffer.getvalue())
    return passport, certificate


def test_identity_rejected_fixed_confirmed_and_correction_approved(_chromium, live_server, tmp_path, screenshot_dir):
    call_command("load_directories", verbosity=0)
    call_command("seed_demo", verbosity=0)
    demo = User.objects.get(username="11223344595")
    passport, certificate = _files(tmp_path)

    page = _page_for(_chromium, live_server, demo)
    page.goto(f"{live_server.url}/cabinet/")
    page.get_by_role("link", name="Подтвердить личность").click()
    page.get_by_label("ИНН", exact=True).fill(DEMO_WRONG_INN)
    page.get_by_label("Паспорт (страница с фотографией)").set_input_files(str(passport))
    page.get_by_label("Документ о квалификации (сертификат или свидетельство об аккредитации)").set_input_files(
        str(certificate)
    )
    page.get_by_role("button", name="Отправить на проверку").click()
    page.wait_for_url("**/cabinet/identity/*/")
    assert page.locator("[data-status]").inner_text() == "Отклонено"
    discrepancy = page.locator("[data-discrepancies] li[data-field=inn]")
    assert "ИНН: такой ИНН не найден в данных налоговой службы" in discrepancy.inner_text()
    assert DEMO_WRONG_INN in discrepancy.inner_text()
    page.screenshot(path=str(screenshot_dir / "cabinet-identity-rejected.png"), full_page=True)

    page.get_by_role("link", name="Исправить и отправить повторно").click()
    page.get_by_label("ИНН", exact=True).fill(WORKERS[0].inn)
    page.get_by_role("button", name="Отправить повторно").click()
    page.wait_for_url("**/cabinet/identity/*/")
    assert page.locator("[data-status]").inner_text() == "Подтверждено"
    assert IdentityApplication.objects.get(worker__user=demo).status == "confirmed"
    page.screenshot(path=str(screenshot_dir / "cabinet-identity-confirmed.png"), full_page=True)

    page.goto(f"{live_server.url}/cabinet/correction/")
    page.get_by_label("Фамилия").fill("Петрова")
    page.get_by_role("button", name="Показать изменения").click()
    diff = page.locator("[data-diff]")
    assert "Иванова" in diff.inner_text() and "Петрова" in diff.inner_text()
    page.get_by_label("Подтверждающий документ").set_input_files(str(certificate))
    page.screenshot(path=str(screenshot_dir / "cabinet-correction-diff.png"), full_page=True)
    page.get_by_role("button", name="Отправить на проверку").click()
    page.wait_for_url("**/cabinet/correction/*/")
    assert page.locator("[data-status]").inner_text() == "На проверке"
    change = ChangeRequest.objects.get(worker__user=demo)  # the demo seeds other workers' corrections too

    staff = StaffFactory(is_superuser=True)
    admin = _page_for(_chromium, live_server, staff)
    admin.set_viewport_size({"width": 1280, "height": 900})
    admin.goto(f"{live_server.url}/admin/verification/changerequest/")
    admin.get_by_role("link", name=str(change.pk), exact=True).click()
    admin.select_option("select[name=decision]", "approve")
    admin.click("input[name=_save]")
    admin.wait_for_url("**/admin/verification/changerequest/")
    admin.screenshot(path=str(screenshot_dir / "cabinet-admin-queue.png"), full_page=True)

    page.goto(f"{live_server.url}/cabinet/")
    assert page.locator("[data-full-name]").inner_text() == "Петрова Мария Петровна"
    assert page.locator("[data-change-status]").first.inner_text() == "Актуализировано"
    assert page.locator("[data-identity-application]").inner_text() == "Подтверждено"
    page.screenshot(path=str(screenshot_dir / "cabinet-after-correction.png"), full_page=True)
