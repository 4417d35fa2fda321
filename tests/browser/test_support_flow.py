"""A worker files a ticket with a screenshot, staff answer it in admin, the worker sees the answer
and the new status."""

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from support.models import Ticket
from tests.factories import StaffFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _logged_in_page(browser, live_server, user):
    """A browser context carrying a session of `user` (the login flow itself has its own test)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    context.set_default_timeout(10_000)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return context.new_page()


def test_ticket_with_screenshot_answered_in_admin(_chromium, live_server, tmp_path, screenshot_dir):
    worker = UserFactory(email="worker@example.org", phone="+79161234567", phone_confirmed_at=timezone.now())
    staff = StaffFactory(is_superuser=True)
    shot = tmp_path / "screen.png"
    Image.new("RGB", (400, 300), (230, 240, 255)).save(shot)

    page = _logged_in_page(_chromium, live_server, worker)
    page.goto(f"{live_server.url}/support/tickets/new/")
    page.get_by_label("Тема обращения").select_option("data_error")
    page.get_by_label("Опишите проблему").fill("В регистре указана неверная категория.")
    page.get_by_label("Скриншот (необязательно)").set_input_files(str(shot))
    page.get_by_role("button", name="Отправить обращение").click()
    page.wait_for_url("**/support/tickets/SUP-*/")
    ticket = Ticket.objects.get()
    assert ticket.number in page.content()
    assert page.locator("[data-ticket-status]").inner_text() == "Новое"
    assert page.get_by_text("Вложение: screen.png").is_visible()
    page.screenshot(path=str(screenshot_dir / "support-ticket-created.png"), full_page=True)

    admin = _logged_in_page(_chromium, live_server, staff)
    admin.goto(f"{live_server.url}/admin/support/ticket/{ticket.pk}/change/")
    admin.fill("textarea[name=reply]", "Исправили категорию, проверьте, пожалуйста.")
    admin.click("input[name=_save]")
    admin.wait_for_url("**/admin/support/ticket/")
    admin.screenshot(path=str(screenshot_dir / "support-admin-queue.png"), full_page=True)

    page.goto(f"{live_server.url}/support/tickets/")
    assert page.get_by_text("новый ответ").is_visible()
    page.get_by_role("link", name=ticket.number).click()
    assert page.get_by_text("Исправили категорию, проверьте, пожалуйста.").is_visible()
    assert page.locator("[data-ticket-status]").inner_text() == "Ожидает ответа пользователя"
    page.screenshot(path=str(screenshot_dir / "support-ticket-answered.png"), full_page=True)


def test_chat_shows_staff_reply_without_reload(_chromium, live_server, screenshot_dir):
    from support import services
    from support.models import ChatConversation

    worker = UserFactory()
    staff = StaffFactory()
    page = _logged_in_page(_chromium, live_server, worker)
    page.goto(f"{live_server.url}/support/chat/")
    page.get_by_label("Сообщение").fill("Здравствуйте, не вижу свою категорию")
    page.get_by_role("button", name="Отправить").click()
    page.get_by_text("Здравствуйте, не вижу свою категорию").wait_for()
    assert page.get_by_label("Сообщение").input_value() == ""  # the form was swapped in fresh

    conversation = ChatConversation.objects.get(user=worker)
    services.chat_staff_reply(conversation=conversation, staff=staff, body="Сейчас проверим вашу запись")
    # No navigation: the polling request brings the reply in.
    page.get_by_text("Сейчас проверим вашу запись").wait_for(timeout=10_000)
    assert page.locator(".chat__msg").count() == 2
    page.screenshot(path=str(screenshot_dir / "support-chat.png"), full_page=True)
