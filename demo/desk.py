"""Tickets and chats in several states for the demo support agent, made through support.services.

The services stamp the current time; the demo then moves each ticket's dates back (seed data
only), so the desk shows fresh, overdue (no answer within Ticket.SLA) and old tickets.
Added once: the first demo ticket's contact address marks that the step has run.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from support.models import ChatConversation, Ticket, TicketMessage, TicketStatusChange
from support.services import (
    TicketInput,
    chat_close,
    chat_post,
    chat_staff_reply,
    chat_to_ticket,
    ticket_assign,
    ticket_reply_staff,
    ticket_reply_user,
    ticket_set_status,
)
from support.services import ticket_create as _ticket_create

MARK_EMAIL = "demo-ticket-1@example.org"
Status = Ticket.Status

# (status, hours ago, topic, description); anonymous tickets give a contact e-mail
TICKETS = (
    (Status.NEW, 2, "no_access", "Не могу войти в личный кабинет: пишет, что СНИЛС не найден."),
    (Status.NEW, 30, "data_error", "В регистре неверно указана дата окончания аккредитации."),
    (Status.NEW, 75, "account_locked", "Учётная запись заблокирована после нескольких попыток входа."),
    (Status.IN_PROGRESS, 10, "access_rights", "Прошу открыть доступ отделу кадров нашей больницы."),
    (Status.WAITING_USER, 50, "data_error", "Фамилия в регистре указана с ошибкой: «Иванва»."),
    (Status.IN_PROGRESS, 4 * 24, "other", "Как получить выписку из регистра для работодателя?"),
    (Status.RESOLVED, 6 * 24, "no_access", "Не приходит SMS с кодом при входе."),
    (Status.CLOSED, 21 * 24, "other", "Вопрос о сроках подтверждения квалификации."),
)
CHATS = (
    # (user messages, staff reply, what happens next: "open", "closed", "ticket")
    (("Здравствуйте! Подскажите, где скачать выписку?",), "", "open"),
    (("Добрый день. Заявление на проверке уже третий день.",), "Здравствуйте! Проверяем, ответим сегодня.", "open"),
    (("Спасибо, вопрос решён.",), "Рады помочь!", "closed"),
    (
        ("В сведениях о месте работы ошибка, прикладываю приказ.",),
        "Оформим обращение, чтобы исправить данные.",
        "ticket",
    ),
)


def _backdate(ticket: Ticket, hours: int) -> None:
    created = timezone.now() - dt.timedelta(hours=hours)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=created)
    TicketMessage.objects.filter(ticket=ticket, author_kind=TicketMessage.Author.USER).update(created_at=created)
    TicketStatusChange.objects.filter(ticket=ticket, to_status=Status.NEW).update(changed_at=created)
    if ticket.first_response_at:
        answered = created + dt.timedelta(hours=min(hours // 2, 20))
        Ticket.objects.filter(pk=ticket.pk).update(first_response_at=answered, last_staff_reply_at=answered)
        TicketMessage.objects.filter(ticket=ticket, author_kind=TicketMessage.Author.STAFF).update(created_at=answered)


def _ticket(n: int, row, user: User | None, staff: User) -> Ticket:
    status, hours, topic, description = row
    full_name = user.full_name if user else "Орлова Наталья Викторовна"
    ticket = _ticket_create(
        data=TicketInput(
            full_name=full_name,
            topic=topic,
            description=description,
            contact_email="" if user else f"demo-ticket-{n}@example.org",
            inn_or_snils=user.snils if user else "",
        ),
        user=user,
    )
    if status == Status.IN_PROGRESS:
        ticket = ticket_assign(ticket=ticket, assignee=staff, by=staff)
    elif status != Status.NEW:
        ticket_reply_staff(
            ticket=ticket,
            staff=staff,
            body="Здравствуйте! Уточните, пожалуйста, номер СНИЛС и приложите скриншот ошибки.",
        )
        if status in (Status.RESOLVED, Status.CLOSED):
            ticket_reply_user(ticket=ticket, user=user, body="Спасибо, всё получилось.")
            ticket_set_status(ticket=ticket, status=Status.RESOLVED, by=staff)
        if status == Status.CLOSED:
            ticket_set_status(ticket=ticket, status=Status.CLOSED, by=staff)
    ticket.refresh_from_db()
    _backdate(ticket, hours)
    return ticket


def tickets_seed(*, users: list[User], staff: User) -> int:
    """The demo tickets: every other one from a cabinet account, the rest anonymous."""
    if Ticket.objects.filter(contact_email=MARK_EMAIL).exists():
        return 0
    for n, row in enumerate(TICKETS, start=1):
        user = users[n % len(users)] if n % 2 == 0 and users else None
        with transaction.atomic():
            _ticket(n, row, user, staff)
    return len(TICKETS)


def chats_seed(*, users: list[User], staff: User) -> int:
    """Chats of cabinet accounts: waiting for staff, answered, closed and one turned into a ticket."""
    users = users[-len(CHATS) :]
    if len(users) < len(CHATS) or ChatConversation.objects.filter(user__in=users).exists():
        return 0
    for user, (texts, reply, then) in zip(users, CHATS, strict=True):
        with transaction.atomic():
            for text in texts:
                conversation = chat_post(user=user, body=text).conversation
            if reply:
                chat_staff_reply(conversation=conversation, staff=staff, body=reply)
            if then == "closed":
                chat_close(conversation=conversation, by=staff)
            elif then == "ticket":
                chat_to_ticket(conversation=conversation, by=staff, topic="data_error")
    return len(CHATS)
