"""Tickets: creation, numbering, follow-ups, status, replies, access, anonymous lookup, chat."""

import io
import re
import threading

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts import sms
from support import services
from support.models import ChatConversation, Ticket, TicketStatusChange
from tests.conftest import skip_or_fail
from tests.factories import StaffFactory, UserFactory

NEW = reverse("support:ticket_new")
SNILS = "112-233-445 95"


@pytest.fixture(autouse=True)
def _outboxes(settings, on_commit_immediate):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    sms.outbox.clear()


@pytest.fixture
def user(db):
    return UserFactory(email="owner@example.org", phone="+79161234567", phone_confirmed_at=timezone.now())


@pytest.fixture
def staff(db):
    return StaffFactory()


def anonymous_form(**overrides):
    data = {
        "full_name": "Петрова Анна Сергеевна",
        "inn_or_snils": SNILS,
        "account_number": "",
        "topic": "no_access",
        "description": "Не могу войти: пишет, что пароль неверный.",
        "contact_email": "anna@example.org",
        "contact_phone": "",
        "follows_number": "",
    }
    data.update(overrides)
    return data


def png_bytes(size=(300, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 220, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_ticket(user=None, **overrides) -> Ticket:
    data = {
        "full_name": "Иванова Мария",
        "topic": "other",
        "description": "Вопрос",
        "inn_or_snils": "11223344595",
        "contact_email": "" if user else "anon@example.org",
    }
    data.update(overrides)
    return services.ticket_create(data=services.TicketInput(**data), user=user)


# --- Creation --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_logged_in_user_gets_a_number_at_once_and_by_email(client, user):
    client.force_login(user)
    page = client.get(NEW)
    assert page.context["form"].initial["inn_or_snils"] == user.snils
    response = client.post(NEW, anonymous_form(inn_or_snils=user.snils), follow=True)
    ticket = Ticket.objects.get()
    assert re.fullmatch(r"SUP-\d{4}-000001", ticket.number)
    assert ticket.user == user and ticket.contact_email == user.email
    assert ticket.number in response.content.decode()
    assert ticket.number in mail.outbox[-1].subject and ticket.number in sms.outbox[-1].text
    assert TicketStatusChange.objects.get(ticket=ticket).to_status == Ticket.Status.NEW


@pytest.mark.django_db
def test_anonymous_ticket_needs_a_way_to_answer(client):
    response = client.post(NEW, anonymous_form(contact_email=""))
    assert "e-mail или телефон" in response.content.decode()
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_anonymous_user_sees_the_number_and_the_ticket_in_the_same_session(client):
    response = client.post(NEW, anonymous_form(contact_phone="8 916 555-44-33"), follow=True)
    ticket = Ticket.objects.get()
    assert response.status_code == 200 and ticket.number in response.content.decode()
    assert ticket.user is None and ticket.contact_phone == "+79165554433"
    assert Client().get(reverse("support:ticket_detail", args=[ticket.number])).status_code == 404


@pytest.mark.django_db
def test_numbers_increase_within_the_year(user):
    first, second = make_ticket(user), make_ticket(user)
    year = timezone.localdate().year
    assert (first.number, second.number) == (f"SUP-{year}-000001", f"SUP-{year}-000002")


@pytest.mark.django_db(transaction=True)
def test_concurrent_tickets_never_share_a_number():
    if connection.vendor != "postgresql":
        skip_or_fail("row locks under real concurrency are tested on PostgreSQL")
    numbers, errors = [], []

    def create():
        try:
            numbers.append(make_ticket().number)
        except Exception as exc:  # collected and reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(numbers) == len(set(numbers)) == 12


@pytest.mark.django_db
def test_follow_up_links_an_earlier_ticket_of_the_same_person(client, user):
    earlier = make_ticket(user)
    client.force_login(user)
    client.post(NEW, anonymous_form(inn_or_snils=user.snils, follows_number=earlier.number.lower()))
    assert Ticket.objects.latest("id").follows == earlier


@pytest.mark.django_db
def test_follow_up_to_someone_elses_ticket_is_not_found(client, user):
    strangers = make_ticket(UserFactory())
    client.force_login(user)
    response = client.post(NEW, anonymous_form(inn_or_snils=user.snils, follows_number=strangers.number))
    assert "не найдено" in response.context["form"].errors["follows_number"][0]
    assert Ticket.objects.count() == 1


# --- Bad input -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"inn_or_snils": "112-233-445 96"}, "inn_or_snils", "СНИЛС"),
        ({"inn_or_snils": "123456789037"}, "inn_or_snils", "ИНН"),
        ({"inn_or_snils": "12345"}, "inn_or_snils", "ИНН или СНИЛС"),
        ({"full_name": "<script>alert(1)</script>"}, "full_name", "ФИО"),
        ({"description": "x" * 5001}, "description", "5000"),
        ({"description": ""}, "description", ""),
        ({"follows_number": "12345"}, "follows_number", "SUP-2026-000123"),
        ({"contact_phone": "+7 495 111-22-33"}, "contact_phone", "Телефон для ответа"),
        ({"topic": "hacking"}, "topic", ""),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(client, overrides, field, text):
    response = client.post(NEW, anonymous_form(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert text in errors[0]
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_screenshot_is_stored_encrypted_and_served_to_the_owner_only(client, user):
    client.force_login(user)
    shot = SimpleUploadedFile("screen.png", png_bytes(), content_type="image/png")
    client.post(NEW, {**anonymous_form(inn_or_snils=user.snils), "screenshot": shot})
    ticket = Ticket.objects.get()
    message = ticket.messages.get()
    assert message.attachment.content_type == "image/png"
    url = reverse("support:ticket_attachment", args=[ticket.number, message.pk])
    response = client.get(url)
    assert response.status_code == 200 and response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response) == png_bytes()
    other = Client()
    other.force_login(UserFactory())
    assert other.get(url).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("page.png", b"<html><script>alert(1)</script></html>"),
        ("poly.png", png_bytes() + b"<script>alert(1)</script>"),
    ],
)
def test_hostile_screenshot_is_refused_with_a_clear_error(client, name, payload):
    shot = SimpleUploadedFile(name, payload, content_type="image/png")
    response = client.post(NEW, {**anonymous_form(), "screenshot": shot})
    assert "Скриншот" in response.context["form"].errors["screenshot"][0]
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_oversized_screenshot_is_refused(client):
    shot = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (5 * 1024 * 1024 + 10), content_type="image/png")
    response = client.post(NEW, {**anonymous_form(), "screenshot": shot})
    assert "больше 5 МБ" in response.context["form"].errors["screenshot"][0]


@pytest.mark.django_db
def test_injection_in_the_description_is_shown_as_text(client, user):
    client.force_login(user)
    hostile = "<img src=x onerror=alert(1)>'; DROP TABLE x;--"
    client.post(NEW, anonymous_form(inn_or_snils=user.snils, description=hostile))
    ticket = Ticket.objects.get()
    body = client.get(reverse("support:ticket_detail", args=[ticket.number])).content.decode()
    assert "<img src=x" not in body and "&lt;img src=x" in body


@pytest.mark.django_db
def test_ticket_creation_is_rate_limited_per_address():
    client = Client(REMOTE_ADDR="203.0.113.5")
    for _ in range(10):
        client.post(NEW, anonymous_form())
    response = client.post(NEW, anonymous_form())
    assert "Слишком много обращений" in response.content.decode()
    assert Ticket.objects.count() == 10


# --- Status, replies, notifications -------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_reply_notifies_user_and_waits_for_them(client, user, staff):
    ticket = make_ticket(user)
    mail.outbox.clear()
    services.ticket_reply_staff(ticket=ticket, staff=staff, body="Сбросили блокировку, попробуйте войти.")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING_USER and ticket.first_response_at and ticket.assignee == staff
    assert ticket.number in mail.outbox[-1].subject
    client.force_login(user)
    listing = client.get(reverse("support:my_tickets")).content.decode()
    assert "новый ответ" in listing
    detail = client.get(reverse("support:ticket_detail", args=[ticket.number])).content.decode()
    assert "Сбросили блокировку" in detail and "Ожидает ответа пользователя" in detail
    assert "новый ответ" not in client.get(reverse("support:my_tickets")).content.decode()


@pytest.mark.django_db
def test_internal_note_is_never_shown_to_the_user(client, user, staff):
    ticket = make_ticket(user)
    services.ticket_reply_staff(ticket=ticket, staff=staff, body="Похоже на дубль SUP-1", internal=True)
    client.force_login(user)
    assert "Похоже на дубль" not in client.get(reverse("support:ticket_detail", args=[ticket.number])).content.decode()


@pytest.mark.django_db
def test_user_reply_puts_a_waiting_ticket_back_in_work(client, user, staff):
    ticket = make_ticket(user)
    services.ticket_reply_staff(ticket=ticket, staff=staff, body="Уточните номер телефона.")
    client.force_login(user)
    client.post(reverse("support:ticket_detail", args=[ticket.number]), {"body": "+7 916 123-45-67"})
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.IN_PROGRESS
    assert list(ticket.status_changes.values_list("to_status", flat=True)) == [
        Ticket.Status.NEW,
        Ticket.Status.WAITING_USER,
        Ticket.Status.IN_PROGRESS,
    ]


@pytest.mark.django_db
def test_status_changes_follow_the_allowed_transitions(user, staff):
    ticket = make_ticket(user)
    services.ticket_set_status(ticket=ticket, status=Ticket.Status.CLOSED, by=staff)
    with pytest.raises(services.SupportError, match="Нельзя перевести"):
        services.ticket_set_status(ticket=ticket, status=Ticket.Status.IN_PROGRESS, by=staff)
    assert "закрыт" in mail.outbox[-1].body.lower() or "Закрыто" in mail.outbox[-1].body


@pytest.mark.django_db
def test_closed_ticket_cannot_be_answered_by_the_user(client, user, staff):
    ticket = make_ticket(user)
    services.ticket_set_status(ticket=ticket, status=Ticket.Status.CLOSED, by=staff)
    client.force_login(user)
    response = client.post(reverse("support:ticket_detail", args=[ticket.number]), {"body": "ещё вопрос"})
    assert "закрыто" in response.content.decode().lower()
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_merge_closes_the_duplicate(user, staff):
    main, duplicate = make_ticket(user), make_ticket(user)
    services.ticket_merge(duplicate=duplicate, into=main, by=staff)
    duplicate.refresh_from_db()
    assert duplicate.merged_into == main and duplicate.status == Ticket.Status.CLOSED
    with pytest.raises(services.SupportError):
        services.ticket_merge(duplicate=duplicate, into=main, by=staff)


# --- Access ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_users_ticket_is_404(client, user):
    strangers = make_ticket(UserFactory())
    client.force_login(user)
    assert client.get(reverse("support:ticket_detail", args=[strangers.number])).status_code == 404
    assert client.post(reverse("support:ticket_detail", args=[strangers.number]), {"body": "x"}).status_code == 404
    assert client.get(reverse("support:ticket_detail", args=["SUP-2026-999999"])).status_code == 404


@pytest.mark.django_db
def test_my_tickets_lists_own_tickets_with_constant_queries(client, user, django_assert_max_num_queries):
    for _ in range(15):
        make_ticket(user)
    make_ticket(UserFactory())
    client.force_login(user)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("support:my_tickets"))
    assert len(response.context["tickets"]) == 15


@pytest.mark.django_db
def test_my_tickets_needs_login(client):
    assert client.get(reverse("support:my_tickets")).status_code == 302


# --- Anonymous lookup ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("contact", ["anon@example.org", "ANON@example.org"])
def test_anonymous_lookup_with_the_right_contact_opens_the_ticket(client, contact):
    ticket = make_ticket()
    response = client.post(reverse("support:ticket_lookup"), {"number": ticket.number, "contact": contact})
    assert response["Location"] == reverse("support:ticket_detail", args=[ticket.number])
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_anonymous_lookup_by_phone_in_any_format(client):
    ticket = make_ticket(contact_email="", contact_phone="+79165554433")
    response = client.post(reverse("support:ticket_lookup"), {"number": ticket.number, "contact": "8 (916) 555-44-33"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_wrong_contact_and_unknown_number_get_the_same_answer(client):
    ticket = make_ticket()
    wrong = client.post(reverse("support:ticket_lookup"), {"number": ticket.number, "contact": "other@example.org"})
    unknown = Client().post(
        reverse("support:ticket_lookup"), {"number": "SUP-2026-999999", "contact": "anon@example.org"}
    )
    assert wrong.context["form"].errors == unknown.context["form"].errors
    assert client.get(reverse("support:ticket_detail", args=[ticket.number])).status_code == 404


@pytest.mark.django_db
def test_lookup_is_rate_limited():
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(20):
        client.post(reverse("support:ticket_lookup"), {"number": "SUP-2026-000001", "contact": "a@b.ru"})
    response = client.post(reverse("support:ticket_lookup"), {"number": "SUP-2026-000001", "contact": "a@b.ru"})
    assert "Слишком много попыток" in response.content.decode()


# --- Help and chat -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_help_page_lists_channels_and_common_problems(client):
    body = client.get(reverse("support:help")).content.decode()
    for text in (
        "Онлайн-чат",
        "8 800",
        "Не могу войти",
        "Не приходит код",
        "заблокирована",
        "не отображаются",
        "неверные данные",
    ):
        assert text in body


@pytest.mark.django_db
def test_chat_messages_appear_after_the_last_seen_id(client, user, staff):
    client.force_login(user)
    client.post(reverse("support:chat_send"), {"body": "Здравствуйте, не вижу свою категорию"})
    conversation = ChatConversation.objects.get(user=user)
    first = conversation.messages.get()
    services.chat_staff_reply(conversation=conversation, staff=staff, body="Сейчас проверим")
    poll = client.get(reverse("support:chat_messages"), {"after": first.pk}, HTTP_HX_REQUEST="true")
    body = poll.content.decode()
    assert "Сейчас проверим" in body and "не вижу свою категорию" not in body
    assert 'id="chat-poller"' in body


@pytest.mark.django_db
def test_chat_send_by_htmx_returns_the_new_messages_and_a_fresh_form(client, user):
    client.force_login(user)
    response = client.post(reverse("support:chat_send"), {"body": "Привет", "after": "0"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Привет" in body and 'hx-swap-oob="true"' in body


@pytest.mark.django_db
def test_empty_or_oversized_chat_message_gets_a_clear_error(client, user):
    client.force_login(user)
    response = client.post(reverse("support:chat_send"), {"body": "x" * 5001, "after": "0"}, HTTP_HX_REQUEST="true")
    assert "не больше 5000" in response.content.decode()
    assert not ChatConversation.objects.exists()


@pytest.mark.django_db
def test_chat_becomes_a_ticket_with_the_transcript(user, staff):
    services.chat_post(user=user, body="Не могу загрузить диплом")
    conversation = ChatConversation.objects.get(user=user)
    services.chat_staff_reply(conversation=conversation, staff=staff, body="Создаю обращение")
    ticket = services.chat_to_ticket(conversation=conversation, by=staff)
    assert ticket.source == Ticket.Source.CHAT and ticket.messages.count() == 2
    conversation.refresh_from_db()
    assert conversation.status == ChatConversation.Status.CLOSED and conversation.ticket == ticket
    assert services.chat_to_ticket(conversation=conversation, by=staff) == ticket  # idempotent


@pytest.mark.django_db
def test_anonymous_author_downloads_own_screenshot_in_the_proven_session(client):
    shot = SimpleUploadedFile("screen.png", png_bytes(), content_type="image/png")
    client.post(NEW, {**anonymous_form(), "screenshot": shot})
    ticket = Ticket.objects.get()
    url = reverse("support:ticket_attachment", args=[ticket.number, ticket.messages.get().pk])
    assert client.get(url).status_code == 200
    assert Client().get(url).status_code == 404


# --- Review findings ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_tickets_of_a_session_do_not_carry_over_to_a_logged_in_user(client, user):
    client.post(NEW, anonymous_form())
    ticket = Ticket.objects.get()
    assert client.get(reverse("support:ticket_detail", args=[ticket.number])).status_code == 200
    client.force_login(user)
    assert client.get(reverse("support:ticket_detail", args=[ticket.number])).status_code == 404


@pytest.mark.django_db
def test_anonymous_follow_up_cannot_link_a_cabinet_ticket_by_its_email(client, user):
    cabinet_ticket = make_ticket(user)
    response = client.post(NEW, anonymous_form(contact_email=user.email, follows_number=cabinet_ticket.number))
    assert "не найдено" in response.context["form"].errors["follows_number"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["SUP-2026-%00", "SUP-2026-0000001'--", "x" * 300])
def test_junk_ticket_numbers_are_404(client, number):
    assert client.get(f"/support/tickets/{number}/").status_code == 404


@pytest.mark.django_db
def test_unicode_digit_in_chat_after_is_not_a_500(client, user):
    client.force_login(user)
    response = client.post(reverse("support:chat_send"), {"body": "Привет", "after": "²"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200


@pytest.mark.django_db
def test_failed_ticket_leaves_no_stored_screenshot(client, user, monkeypatch):
    from verification.models import StoredDocument

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "ticket_number_next", broken)
    shot = SimpleUploadedFile("screen.png", png_bytes(), content_type="image/png")
    with pytest.raises(RuntimeError):
        services.ticket_create(
            data=services.TicketInput(full_name="А Б", topic="other", description="x", contact_email="a@b.ru"),
            user=None,
            screenshot=shot,
        )
    assert not StoredDocument.objects.exists()


@pytest.mark.django_db
def test_tickets_of_different_people_cannot_be_merged(user, staff):
    with pytest.raises(services.SupportError, match="одного и того же"):
        services.ticket_merge(duplicate=make_ticket(UserFactory()), into=make_ticket(user), by=staff)


@pytest.mark.django_db
def test_staff_reply_email_links_to_the_ticket_with_an_absolute_url(user, staff, settings):
    settings.SITE_URL = "https://registry.example.org"
    ticket = make_ticket(user)
    services.ticket_reply_staff(ticket=ticket, staff=staff, body="Ответ")
    assert f"https://registry.example.org/support/tickets/{ticket.number}/" in mail.outbox[-1].body


@pytest.mark.django_db
def test_worker_accounts_are_labelled_by_name_not_snils(user):
    assert user.snils not in str(user)
