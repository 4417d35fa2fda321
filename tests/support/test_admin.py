"""Staff side of the support desk in Django admin: queue, replies, notes, actions, chat, audit."""

import datetime as dt
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts import sms
from core.models import AuditEntry
from support import services
from support.models import CannedAnswer, ChatConversation, ChatMessage, Ticket, TicketMessage, TicketStatusChange
from tests.factories import StaffFactory, UserFactory

QUEUE = reverse("admin:support_ticket_changelist")
CHATS = reverse("admin:support_chatconversation_changelist")


@pytest.fixture(autouse=True)
def _outboxes(settings):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    sms.outbox.clear()


@pytest.fixture
def admin_user(db):
    return StaffFactory(is_superuser=True, last_name="Сотрудникова", first_name="Светлана")


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def make_ticket(user=None, **overrides) -> Ticket:
    data = {
        "full_name": "Иванова Мария Петровна",
        "topic": "no_access",
        "description": "Не могу войти в личный кабинет.",
        "contact_email": "" if user else "maria@example.org",
    }
    data.update(overrides)
    return services.ticket_create(data=services.TicketInput(**data), user=user)


def age(ticket: Ticket, **delta) -> Ticket:
    # Tests move the clock back by rewriting the creation time; the app never does this.
    Ticket.objects.filter(pk=ticket.pk).update(created_at=timezone.now() - dt.timedelta(**delta))
    ticket.refresh_from_db()
    return ticket


def change_url(obj) -> str:
    return reverse(f"admin:support_{obj._meta.model_name}_change", args=[obj.pk])


def reply_form(**overrides) -> dict:
    data = {"reply": "", "canned_answer": "", "internal_note": "", "new_status": "", "assign_to": ""}
    data.update(overrides)
    return data


def action(client, url, name, objects):
    return client.post(url, {"action": name, ACTION_CHECKBOX_NAME: [o.pk for o in objects], "index": 0})


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 220, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- Queue -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_queue_of_twenty_tickets_loads_in_bounded_queries(staff_client, django_assert_max_num_queries):
    tickets = [make_ticket(full_name=f"Заявитель {i}") for i in range(20)]
    services.ticket_assign(ticket=tickets[0], assignee=StaffFactory(), by=StaffFactory())
    with django_assert_max_num_queries(6):
        response = staff_client.get(QUEUE)
    assert response.status_code == 200
    page = response.content.decode()
    assert all(ticket.number in page for ticket in tickets)


@pytest.mark.django_db
def test_queue_shows_open_tickets_first_and_oldest_on_top(staff_client, admin_user):
    newest = make_ticket()
    oldest = age(make_ticket(), days=2)
    closed_old = age(make_ticket(), days=5)
    services.ticket_set_status(ticket=closed_old, status=Ticket.Status.CLOSED, by=admin_user)
    response = staff_client.get(QUEUE)
    shown = [t.number for t in response.context["cl"].result_list]
    assert shown == [oldest.number, newest.number, closed_old.number]


@pytest.mark.django_db
def test_queue_shows_age_overdue_flag_and_new_user_reply(staff_client, admin_user):
    overdue = age(make_ticket(), hours=30)
    answered = make_ticket()
    services.ticket_reply_staff(ticket=answered, staff=admin_user, body="Проверьте почту.")
    services.ticket_reply_user(ticket=answered, user=None, body="Письма нет.")
    age(make_ticket(), hours=3)
    page = staff_client.get(QUEUE).content.decode()
    assert "1 дн" in page and "3 ч" in page
    assert page.count("просрочено") >= 1
    assert "новый ответ пользователя" in page
    cl_rows = {t.number: t for t in staff_client.get(QUEUE).context["cl"].result_list}
    assert cl_rows[overdue.number].is_overdue()
    assert not cl_rows[answered.number].is_overdue()


@pytest.mark.django_db
def test_overdue_filter_shows_only_overdue_tickets(staff_client, admin_user):
    overdue = age(make_ticket(), hours=30)
    fresh = make_ticket()
    answered_late = age(make_ticket(), hours=30)
    services.ticket_reply_staff(ticket=answered_late, staff=admin_user, body="Ответ.")
    closed_late = age(make_ticket(), hours=30)
    services.ticket_set_status(ticket=closed_late, status=Ticket.Status.CLOSED, by=admin_user)
    response = staff_client.get(QUEUE, {"age": "overdue"})
    assert [t.number for t in response.context["cl"].result_list] == [overdue.number]
    assert fresh.number not in response.content.decode()


@pytest.mark.django_db
def test_age_filters_split_today_and_older(staff_client):
    today = make_ticket()
    two_days = age(make_ticket(), days=2)
    week = age(make_ticket(), days=7)

    def shown(value):
        return {t.number for t in staff_client.get(QUEUE, {"age": value}).context["cl"].result_list}

    assert today.number in shown("today") and week.number not in shown("today")
    assert shown("1-3") == {two_days.number}
    assert shown("older") == {week.number}


@pytest.mark.django_db
def test_assignee_filter_finds_unassigned_and_mine(staff_client, admin_user):
    mine = make_ticket()
    services.ticket_assign(ticket=mine, assignee=admin_user, by=admin_user)
    nobody = make_ticket()
    colleague = StaffFactory()
    other = services.ticket_assign(ticket=make_ticket(), assignee=colleague, by=admin_user)

    def shown(value):
        return [t.number for t in staff_client.get(QUEUE, {"assignee": value}).context["cl"].result_list]

    assert shown("none") == [nobody.number]
    assert shown("me") == [mine.number]
    assert shown(str(colleague.pk)) == [other.number]


@pytest.mark.django_db
def test_search_by_exact_number_and_email(staff_client):
    wanted = make_ticket(contact_email="wanted@example.org")
    make_ticket()
    by_number = staff_client.get(QUEUE, {"q": wanted.number}).context["cl"].result_list
    by_email = staff_client.get(QUEUE, {"q": "wanted@example.org"}).context["cl"].result_list
    assert [t.pk for t in by_number] == [wanted.pk] and [t.pk for t in by_email] == [wanted.pk]


# --- Change page -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_change_page_shows_thread_with_marked_notes_and_escapes_user_text(staff_client, admin_user):
    ticket = make_ticket(description="<script>alert('x')</script> помогите")
    services.ticket_reply_staff(ticket=ticket, staff=admin_user, body="Проверим <b>доступ</b>", internal=True)
    response = staff_client.get(change_url(ticket))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert('x')</script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; помогите" in page
    assert "Проверим &lt;b&gt;доступ&lt;/b&gt;" in page
    assert "Внутренняя заметка" in page and "пользователь не видит" in page
    assert "История статусов" in page
    # The form offers only statuses reachable from "new".
    assert [value for value, _ in response.context["adminform"].form.fields["new_status"].choices] == [
        "",
        "in_progress",
        "waiting_user",
        "resolved",
        "closed",
    ]


@pytest.mark.django_db
def test_staff_cannot_edit_applicant_data_through_the_form(staff_client):
    ticket = make_ticket()
    staff_client.post(change_url(ticket), reply_form(full_name="Подмена", status="closed", contact_email="x@x.ru"))
    ticket.refresh_from_db()
    assert ticket.full_name == "Иванова Мария Петровна"
    assert ticket.status == Ticket.Status.NEW
    assert ticket.contact_email == "maria@example.org"


@pytest.mark.django_db
def test_reply_through_change_form_notifies_and_waits_for_user(staff_client, admin_user, on_commit_immediate):
    ticket = make_ticket()
    mail.outbox.clear()
    response = staff_client.post(change_url(ticket), reply_form(reply="Сбросили пароль, попробуйте снова."))
    assert response.status_code == 302
    ticket.refresh_from_db()
    message = ticket.messages.get(author_kind=TicketMessage.Author.STAFF)
    assert message.body == "Сбросили пароль, попробуйте снова." and not message.internal
    assert message.author == admin_user
    assert ticket.status == Ticket.Status.WAITING_USER
    assert ticket.first_response_at is not None and ticket.assignee == admin_user
    assert len(mail.outbox) == 1 and ticket.number in mail.outbox[0].subject
    assert mail.outbox[0].to == ["maria@example.org"]


@pytest.mark.django_db
def test_internal_note_is_never_shown_or_sent_to_the_user(staff_client, on_commit_immediate):
    ticket = make_ticket()
    mail.outbox.clear()
    staff_client.post(change_url(ticket), reply_form(internal_note="Похоже на блокировку после 5 попыток."))
    ticket.refresh_from_db()
    note = ticket.messages.get(internal=True)
    assert note.body == "Похоже на блокировку после 5 попыток."
    assert not ticket.messages.filter(internal=False, body=note.body).exists()
    assert ticket.status == Ticket.Status.NEW and ticket.first_response_at is None
    assert mail.outbox == []


@pytest.mark.django_db
def test_canned_answer_is_sent_when_reply_is_empty(staff_client):
    answer = CannedAnswer.objects.create(
        title="Сброс пароля", topic="no_access", body="Воспользуйтесь ссылкой «Забыли пароль?»."
    )
    ticket = make_ticket()
    staff_client.post(change_url(ticket), reply_form(canned_answer=answer.pk))
    assert ticket.messages.filter(author_kind=TicketMessage.Author.STAFF, body=answer.body).exists()


@pytest.mark.django_db
def test_typed_reply_wins_over_canned_answer(staff_client):
    answer = CannedAnswer.objects.create(title="Общий", body="Шаблонный текст.")
    ticket = make_ticket()
    staff_client.post(change_url(ticket), reply_form(canned_answer=answer.pk, reply="Свой текст."))
    staff_bodies = list(ticket.messages.filter(author_kind=TicketMessage.Author.STAFF).values_list("body", flat=True))
    assert staff_bodies == ["Свой текст."]


@pytest.mark.django_db
def test_canned_answer_of_another_topic_is_refused(staff_client):
    other = CannedAnswer.objects.create(title="Права", topic="access_rights", body="Про права.")
    ticket = make_ticket(topic="no_access")
    response = staff_client.post(change_url(ticket), reply_form(canned_answer=other.pk))
    assert response.status_code == 200 and "canned_answer" in response.context["adminform"].form.errors
    assert not ticket.messages.filter(author_kind=TicketMessage.Author.STAFF).exists()


@pytest.mark.django_db
def test_status_change_alone_goes_through_the_service(staff_client, admin_user, on_commit_immediate):
    ticket = make_ticket()
    mail.outbox.clear()
    staff_client.post(change_url(ticket), reply_form(new_status="resolved"))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED and ticket.resolved_at is not None
    change = ticket.status_changes.last()
    assert (change.from_status, change.to_status, change.changed_by) == ("new", "resolved", admin_user)
    assert "решено" in mail.outbox[-1].subject


@pytest.mark.django_db
def test_reply_with_chosen_status_resolves(staff_client):
    ticket = make_ticket()
    staff_client.post(change_url(ticket), reply_form(reply="Готово.", new_status="resolved"))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED


@pytest.mark.django_db
def test_reply_to_resolved_ticket_keeps_it_resolved(staff_client, admin_user):
    ticket = make_ticket()
    services.ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=admin_user)
    staff_client.post(change_url(ticket), reply_form(reply="Дополнение к ответу."))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
    assert ticket.messages.filter(body="Дополнение к ответу.").exists()


@pytest.mark.django_db
def test_disallowed_status_change_is_a_form_error_not_a_500(staff_client, admin_user):
    ticket = make_ticket()
    services.ticket_set_status(ticket=ticket, status=Ticket.Status.CLOSED, by=admin_user)
    response = staff_client.post(change_url(ticket), reply_form(new_status="in_progress", reply="Ещё ответ"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "new_status" in errors and "reply" in errors
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED
    assert not ticket.messages.filter(body="Ещё ответ").exists()


@pytest.mark.django_db
def test_service_refusal_becomes_a_message_and_nothing_is_half_done(staff_client, admin_user, monkeypatch):
    ticket = make_ticket()
    colleague = StaffFactory()

    def refuse(**kwargs):
        raise services.SupportError("Обращение уже закрыто коллегой.")

    monkeypatch.setattr(services, "ticket_reply_staff", refuse)
    response = staff_client.post(change_url(ticket), reply_form(reply="Ответ", assign_to=colleague.pk))
    assert response.status_code == 302 and response.url == change_url(ticket)
    assert any("Обращение уже закрыто коллегой." in text for text in texts(response))
    ticket.refresh_from_db()
    # The assignment made before the refused reply was rolled back with it.
    assert ticket.assignee is None and ticket.status == Ticket.Status.NEW


@pytest.mark.django_db
def test_assignee_set_through_form_uses_the_service(staff_client, admin_user):
    ticket = make_ticket()
    colleague = StaffFactory()
    staff_client.post(change_url(ticket), reply_form(assign_to=colleague.pk))
    ticket.refresh_from_db()
    assert ticket.assignee == colleague and ticket.status == Ticket.Status.IN_PROGRESS
    assert ticket.status_changes.filter(to_status="in_progress", changed_by=admin_user).exists()


@pytest.mark.django_db
def test_non_staff_user_cannot_be_chosen_as_assignee(staff_client):
    ticket = make_ticket()
    worker = UserFactory()
    response = staff_client.post(change_url(ticket), reply_form(assign_to=worker.pk))
    assert response.status_code == 200 and "assign_to" in response.context["adminform"].form.errors
    ticket.refresh_from_db()
    assert ticket.assignee is None


# --- Actions -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_assign_to_me_action(staff_client, admin_user):
    first, second = make_ticket(), make_ticket()
    response = action(staff_client, QUEUE, "assign_to_me", [first, second])
    assert response.status_code == 302
    for ticket in (first, second):
        ticket.refresh_from_db()
        assert ticket.assignee == admin_user and ticket.status == Ticket.Status.IN_PROGRESS
    assert "Назначено вам: 2." in texts(response)


@pytest.mark.django_db
def test_take_in_progress_assigns_unassigned_ticket_to_me(staff_client, admin_user):
    ticket = make_ticket()
    action(staff_client, QUEUE, "take_in_progress", [ticket])
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.IN_PROGRESS and ticket.assignee == admin_user


@pytest.mark.django_db
def test_resolve_action_reports_each_refused_ticket(staff_client, admin_user):
    open_ticket, closed = make_ticket(), make_ticket()
    services.ticket_set_status(ticket=closed, status=Ticket.Status.CLOSED, by=admin_user)
    response = action(staff_client, QUEUE, "mark_resolved", [open_ticket, closed])
    open_ticket.refresh_from_db()
    closed.refresh_from_db()
    assert open_ticket.status == Ticket.Status.RESOLVED and closed.status == Ticket.Status.CLOSED
    messages_ = texts(response)
    assert "Отмечено решёнными: 1." in messages_
    assert any(m.startswith(closed.number) and "Нельзя перевести" in m for m in messages_)


@pytest.mark.django_db
def test_close_action(staff_client):
    ticket = make_ticket()
    action(staff_client, QUEUE, "close_tickets", [ticket])
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED
    assert TicketStatusChange.objects.filter(ticket=ticket, to_status="closed").exists()


@pytest.mark.django_db
def test_merge_action_joins_the_newer_ticket_into_the_older(staff_client):
    older = age(make_ticket(), days=1)
    newer = make_ticket()
    response = action(staff_client, QUEUE, "merge_two", [newer, older])
    older.refresh_from_db()
    newer.refresh_from_db()
    assert newer.merged_into == older and newer.status == Ticket.Status.CLOSED
    assert older.status == Ticket.Status.NEW
    assert older.messages.filter(internal=True, body__contains=newer.number).exists()
    assert any(newer.number in m and older.number in m for m in texts(response))


@pytest.mark.django_db
def test_merge_action_needs_exactly_two_tickets(staff_client):
    tickets = [make_ticket() for _ in range(3)]
    response = action(staff_client, QUEUE, "merge_two", tickets)
    assert not Ticket.objects.filter(merged_into__isnull=False).exists()
    assert any("ровно два" in m for m in texts(response))


@pytest.mark.django_db
def test_merge_into_closed_ticket_is_refused_with_a_message(staff_client, admin_user):
    older = age(make_ticket(), days=1)
    services.ticket_set_status(ticket=older, status=Ticket.Status.CLOSED, by=admin_user)
    newer = make_ticket()
    response = action(staff_client, QUEUE, "merge_two", [older, newer])
    newer.refresh_from_db()
    assert newer.merged_into is None and newer.status == Ticket.Status.NEW
    assert any("закрытым" in m for m in texts(response))


# --- Worker record and attachments -------------------------------------------------------------------


@pytest.mark.django_db
def test_opening_the_worker_record_is_written_to_the_audit_journal(staff_client, admin_user, worker_user):
    ticket = make_ticket(user=worker_user)
    worker = ticket.worker
    assert worker is not None
    page = staff_client.get(change_url(ticket)).content.decode()
    url = reverse("admin:support_ticket_open_worker", args=[ticket.pk])
    assert url in page and "Открыть запись в регистре" in page
    # The record is reached only through the audited view, not a plain admin link.
    assert reverse("admin:registry_medicalworker_change", args=[worker.pk]) not in page

    response = staff_client.get(url)
    assert response.status_code == 302
    assert response.url == reverse("admin:registry_medicalworker_change", args=[worker.pk])
    entry = AuditEntry.objects.get(event=AuditEntry.Event.DATA_VIEWED, object_type="worker")
    assert entry.actor == admin_user and entry.subject == worker_user
    assert entry.object_id == worker.registry_number
    assert entry.details == {"via_ticket": ticket.number}


@pytest.mark.django_db
def test_ticket_without_worker_has_no_record_link(staff_client):
    ticket = make_ticket()
    assert "Открыть запись в регистре" not in staff_client.get(change_url(ticket)).content.decode()
    response = staff_client.get(reverse("admin:support_ticket_open_worker", args=[ticket.pk]))
    assert response.status_code == 404
    assert not AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED, object_type="worker").exists()


@pytest.mark.django_db
def test_worker_record_view_refuses_non_staff(client, worker_user):
    ticket = make_ticket(user=worker_user)
    client.force_login(worker_user)
    response = client.get(reverse("admin:support_ticket_open_worker", args=[ticket.pk]))
    assert response.status_code == 302 and "login" in response.url
    assert not AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED).exists()


@pytest.mark.django_db
def test_staff_downloads_ticket_attachment(staff_client, admin_user, worker_user):
    shot = SimpleUploadedFile("screen.png", png_bytes(), content_type="image/png")
    ticket = services.ticket_create(
        data=services.TicketInput(full_name="Иванова", topic="other", description="Скриншот ошибки"),
        user=worker_user,
        screenshot=shot,
    )
    message = ticket.messages.get()
    url = reverse("admin:support_ticket_attachment", args=[message.pk])
    assert url in staff_client.get(change_url(ticket)).content.decode()
    response = staff_client.get(url)
    assert response.status_code == 200 and b"".join(response) == png_bytes()
    assert AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED, object_type="document").exists()


@pytest.mark.django_db
def test_attachment_view_refuses_non_staff_and_unknown_ids(client, staff_client, worker_user):
    ticket = make_ticket()
    message = ticket.messages.get()
    assert staff_client.get(reverse("admin:support_ticket_attachment", args=[message.pk])).status_code == 404
    client.force_login(worker_user)
    response = client.get(reverse("admin:support_ticket_attachment", args=[message.pk]))
    assert response.status_code == 302 and "login" in response.url


# --- Chat --------------------------------------------------------------------------------------------


@pytest.fixture
def chat(worker_user) -> ChatConversation:
    services.chat_post(user=worker_user, body="Здравствуйте, <i>не вижу</i> свою запись.")
    return ChatConversation.objects.get(user=worker_user)


@pytest.mark.django_db
def test_chat_list_and_escaped_transcript(staff_client, chat):
    assert str(chat) in staff_client.get(CHATS, {"waiting_for_staff__exact": "1"}).content.decode()
    page = staff_client.get(change_url(chat)).content.decode()
    assert "&lt;i&gt;не вижу&lt;/i&gt;" in page and "<i>не вижу</i>" not in page


@pytest.mark.django_db
def test_staff_answers_chat_from_admin(staff_client, admin_user, chat):
    response = staff_client.post(change_url(chat), {"reply": "Проверяем, минуту."})
    assert response.status_code == 302
    answer = ChatMessage.objects.get(conversation=chat, from_staff=True)
    assert answer.body == "Проверяем, минуту." and answer.author == admin_user
    chat.refresh_from_db()
    assert not chat.waiting_for_staff


@pytest.mark.django_db
def test_reply_to_closed_chat_is_a_form_error(staff_client, admin_user, chat):
    services.chat_close(conversation=chat, by=admin_user)
    response = staff_client.post(change_url(chat), {"reply": "Поздно"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reply"] == ["Чат закрыт: ответ не будет доставлен."]
    assert not ChatMessage.objects.filter(from_staff=True).exists()


@pytest.mark.django_db
def test_chat_becomes_a_ticket_with_a_link_in_the_message(staff_client, admin_user, chat):
    response = action(staff_client, CHATS, "make_ticket", [chat])
    chat.refresh_from_db()
    ticket = chat.ticket
    assert ticket is not None and chat.status == ChatConversation.Status.CLOSED
    assert ticket.source == Ticket.Source.CHAT and ticket.assignee == admin_user
    assert ticket.messages.filter(body__contains="не вижу").exists()
    assert any(change_url(ticket) in m and ticket.number in m for m in texts(response))


@pytest.mark.django_db
def test_close_chat_action(staff_client, chat):
    action(staff_client, CHATS, "close_chats", [chat])
    chat.refresh_from_db()
    assert chat.status == ChatConversation.Status.CLOSED


# --- Access ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_non_staff_user_is_redirected_from_admin(client, worker_user):
    ticket = make_ticket(user=worker_user)
    client.force_login(worker_user)
    for url in (QUEUE, change_url(ticket), CHATS):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response.url


@pytest.fixture
def support_group_agent(db):
    group = Group.objects.create(name="Служба поддержки")
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["support", "registry"], codename__regex=r"^(view|change)_"
        )
    )
    agent = StaffFactory()
    agent.groups.add(group)
    return agent


@pytest.mark.django_db
def test_support_group_agent_works_the_queue(client, support_group_agent, worker_user):
    ticket = make_ticket(user=worker_user)
    client.force_login(support_group_agent)
    assert client.get(QUEUE).status_code == 200
    assert client.get(change_url(ticket)).status_code == 200
    client.post(change_url(ticket), reply_form(reply="Ответ сотрудника группы."))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING_USER and ticket.assignee == support_group_agent
    action(client, QUEUE, "mark_resolved", [ticket])
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED
    assert client.get(reverse("admin:support_ticket_open_worker", args=[ticket.pk])).status_code == 302
    assert AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED, actor=support_group_agent).exists()


@pytest.mark.django_db
def test_view_only_staff_sees_ticket_without_reply_form(client, worker_user):
    agent = StaffFactory()
    agent.user_permissions.set(Permission.objects.filter(codename="view_ticket"))
    ticket = make_ticket()
    client.force_login(agent)
    response = client.get(change_url(ticket))
    assert response.status_code == 200
    assert 'name="reply"' not in response.content.decode()
    client.post(change_url(ticket), reply_form(reply="Не должен уйти"))
    assert not ticket.messages.filter(author_kind=TicketMessage.Author.STAFF).exists()
    # Without access to registry records the journaled jump is refused before writing anything.
    assert client.get(reverse("admin:support_ticket_open_worker", args=[ticket.pk])).status_code == 403


@pytest.mark.django_db
def test_staff_opening_a_ticket_is_journaled(client):
    from core.models import AuditEntry
    from support.services import TicketInput, ticket_create
    from tests.factories import StaffFactory, UserFactory

    owner = UserFactory()
    ticket = ticket_create(
        data=TicketInput(full_name="А Б", topic="other", description="x", inn_or_snils=owner.snils), user=owner
    )
    client.force_login(StaffFactory(is_superuser=True))
    assert client.get(f"/admin/support/ticket/{ticket.pk}/change/").status_code == 200
    assert AuditEntry.objects.filter(
        event=AuditEntry.Event.DATA_VIEWED, subject=owner, object_type="ticket", object_id=ticket.number
    ).exists()
