"""Support desk writes: tickets, replies, status changes, merges and chat.

Each function locks what it changes, checks the current state, leaves a history row and sends
notifications only after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import emails, outbox
from accounts.models import User
from core.audit import audit_record
from core.models import AuditEntry
from core.validators import normalize_mobile_phone
from registry.models import MedicalWorker
from verification.documents import UploadRejected, document_discard, document_store

from .models import ChatConversation, ChatMessage, Ticket, TicketCounter, TicketMessage, TicketStatusChange

logger = logging.getLogger(__name__)

NUMBER_PREFIX = "SUP"
MAX_MESSAGE_LENGTH = 5000

# Which statuses a ticket may move to from each status (staff actions; user replies reopen).
TRANSITIONS: dict[str, set[str]] = {
    Ticket.Status.NEW: {
        Ticket.Status.IN_PROGRESS,
        Ticket.Status.WAITING_USER,
        Ticket.Status.RESOLVED,
        Ticket.Status.CLOSED,
    },
    Ticket.Status.IN_PROGRESS: {Ticket.Status.WAITING_USER, Ticket.Status.RESOLVED, Ticket.Status.CLOSED},
    Ticket.Status.WAITING_USER: {Ticket.Status.IN_PROGRESS, Ticket.Status.RESOLVED, Ticket.Status.CLOSED},
    Ticket.Status.RESOLVED: {Ticket.Status.IN_PROGRESS, Ticket.Status.CLOSED},
    Ticket.Status.CLOSED: set(),
}


class SupportError(Exception):
    """A refusal to show the user; `field` names the form field it belongs to, if any."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


# --- Numbers -----------------------------------------------------------------------------------------


def ticket_number_next(*, year: int) -> str:
    """The next number of the year, e.g. SUP-2026-000123. Must run inside a transaction: the
    counter row stays locked until commit, so concurrent tickets never share a number."""
    # INSERT ... ON CONFLICT DO NOTHING: two first tickets of a year cannot both create the row.
    TicketCounter.objects.bulk_create([TicketCounter(year=year, last=0)], ignore_conflicts=True)
    counter = TicketCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{NUMBER_PREFIX}-{year}-{counter.last:06d}"


def normalize_ticket_number(raw: str) -> str:
    return (raw or "").strip().upper().replace(" ", "")


# --- Creating tickets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketInput:
    full_name: str
    topic: str
    description: str
    inn_or_snils: str = ""
    account_number: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    follows_number: str = ""


def _visible_to(ticket: Ticket, *, user: User | None, email: str, phone: str) -> bool:
    if user is not None and user.is_authenticated:
        return ticket.user_id == user.pk
    if ticket.user_id is not None:
        return False  # a cabinet ticket is reached from the cabinet only, never by its contacts
    return bool(
        (email and ticket.contact_email and ticket.contact_email.lower() == email.lower())
        or (phone and ticket.contact_phone and ticket.contact_phone == phone)
    )


def ticket_create(*, data: TicketInput, user: User | None, screenshot=None, request=None) -> Ticket:
    """Register a ticket and give it a number at once; the number is sent to the contact."""
    user = user if user is not None and user.is_authenticated else None
    follows = None
    if data.follows_number:
        follows = Ticket.objects.filter(number=normalize_ticket_number(data.follows_number)).first()
        # Another person's ticket is "not found", never "not yours".
        if follows is None or not _visible_to(follows, user=user, email=data.contact_email, phone=data.contact_phone):
            raise SupportError(
                "Обращение с таким номером не найдено среди ваших обращений. Проверьте номер.",
                field="follows_number",
            )
    attachment = None
    if screenshot is not None:
        try:
            attachment = document_store(
                uploaded_file=screenshot,
                owner=user,
                kind="ticket_screenshot",
                field_label="Скриншот",
                allowed=frozenset({"image/png", "image/jpeg"}),
                max_bytes=5 * 1024 * 1024,
                min_pixels=100,
            )
        except UploadRejected as exc:
            raise SupportError(exc.message, field="screenshot") from None

    try:
        return _ticket_create_rows(data=data, user=user, follows=follows, attachment=attachment, request=request)
    except BaseException:
        if attachment is not None:
            document_discard(document=attachment)
        raise


def _ticket_create_rows(*, data: TicketInput, user, follows, attachment, request) -> Ticket:
    now = timezone.now()
    with transaction.atomic():
        worker = MedicalWorker.objects.filter(user=user).only("id").first() if user else None
        ticket = Ticket.objects.create(
            number=ticket_number_next(year=timezone.localdate().year),
            user=user,
            worker=worker,
            full_name=data.full_name,
            inn_or_snils=data.inn_or_snils,
            account_number=data.account_number,
            topic=data.topic,
            description=data.description,
            contact_email=data.contact_email or (user.email if user else ""),
            contact_phone=data.contact_phone or (user.phone if user and user.phone_confirmed else ""),
            follows=follows,
            created_at=now,
        )
        TicketMessage.objects.create(
            ticket=ticket,
            author=user,
            author_kind=TicketMessage.Author.USER,
            body=data.description,
            attachment=attachment,
            created_at=now,
        )
        TicketStatusChange.objects.create(ticket=ticket, to_status=Ticket.Status.NEW, changed_by=user, changed_at=now)
        if user is not None:
            audit_record(
                event=AuditEntry.Event.DATA_CHANGED,
                subject=user,
                request=request,
                object_type="ticket",
                object_id=ticket.number,
                details={"action": "ticket_created"},
            )
        transaction.on_commit(lambda: _notify_created(ticket.pk))
    return ticket


def _notify_created(ticket_id: int) -> None:
    _send(Ticket.objects.get(pk=ticket_id), template="ticket_created")


def _send(ticket: Ticket, *, template: str, context: dict | None = None) -> None:
    """E-mail (support/emails/<template>) and SMS to the ticket's contacts, through the outbox
    (accounts.outbox): with the broker down they wait in the database and the ticket stands."""
    context = {"ticket": ticket, **(context or {})}
    path = f"support/emails/{template}"
    emails.email_send(to=ticket.contact_email, template=path, context=context)
    text = " ".join(emails.render_text(f"{path}.txt", context).split())
    outbox.send_sms(to=ticket.contact_phone, text=f"Медрег: {text}")


# --- Status ----------------------------------------------------------------------------------------


def _lock(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _change_status(ticket: Ticket, to_status: str, *, by: User | None, note: str = "") -> None:
    """Caller holds the row lock. Saves status and its timestamps and writes the history row."""
    if ticket.status == to_status:
        return
    TicketStatusChange.objects.create(
        ticket=ticket, from_status=ticket.status, to_status=to_status, changed_by=by, note=note[:300]
    )
    ticket.status = to_status
    fields = ["status", "updated_at"]
    if to_status == Ticket.Status.RESOLVED:
        ticket.resolved_at = timezone.now()
        fields.append("resolved_at")
    ticket.save(update_fields=fields)


def ticket_set_status(*, ticket: Ticket, status: str, by: User, note: str = "") -> Ticket:
    with transaction.atomic():
        ticket = _lock(ticket)
        if status != ticket.status and status not in TRANSITIONS[ticket.status]:
            raise SupportError(
                f"Нельзя перевести обращение из статуса «{ticket.get_status_display()}» "
                f"в «{Ticket.Status(status).label}».",
                field="status",
            )
        old = ticket.status
        _change_status(ticket, status, by=by, note=note)
        if old != status:
            transaction.on_commit(lambda: _send(ticket, template="ticket_status"))
    return ticket


def ticket_assign(*, ticket: Ticket, assignee: User | None, by: User) -> Ticket:
    if assignee is not None and not assignee.is_staff:
        raise SupportError("Исполнителем может быть только сотрудник службы поддержки.", field="assignee")
    with transaction.atomic():
        ticket = _lock(ticket)
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee", "updated_at"])
        if assignee is not None and ticket.status == Ticket.Status.NEW:
            _change_status(ticket, Ticket.Status.IN_PROGRESS, by=by, note=f"назначено: {assignee.get_username()}")
    return ticket


# --- Replies ---------------------------------------------------------------------------------------


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise SupportError("Сообщение: введите текст.", field="body")
    if len(body) > MAX_MESSAGE_LENGTH:
        raise SupportError(f"Сообщение: не больше {MAX_MESSAGE_LENGTH} символов (сейчас {len(body)}).", field="body")
    return body


def ticket_reply_user(*, ticket: Ticket, user: User | None, body: str) -> TicketMessage:
    """The user writes in the thread; a reply to a waiting or resolved ticket puts it back in work."""
    body = _clean_body(body)
    with transaction.atomic():
        ticket = _lock(ticket)
        if ticket.status == Ticket.Status.CLOSED:
            raise SupportError(
                "Обращение закрыто. Создайте новое и укажите номер этого обращения как предыдущий.", field="body"
            )
        message = TicketMessage.objects.create(
            ticket=ticket,
            author=user if user and user.is_authenticated else None,
            author_kind=TicketMessage.Author.USER,
            body=body,
        )
        if ticket.status in (Ticket.Status.WAITING_USER, Ticket.Status.RESOLVED):
            _change_status(ticket, Ticket.Status.IN_PROGRESS, by=None, note="ответ пользователя")
        else:
            ticket.save(update_fields=["updated_at"])
    return message


def ticket_reply_staff(
    *, ticket: Ticket, staff: User, body: str, internal: bool = False, status: str | None = None
) -> TicketMessage:
    """A staff answer (the user is notified) or an internal note (the user never sees it)."""
    if not staff.is_staff:
        raise SupportError("Отвечать может только сотрудник службы поддержки.")
    body = _clean_body(body)
    with transaction.atomic():
        ticket = _lock(ticket)
        if ticket.status == Ticket.Status.CLOSED and not internal:
            raise SupportError("Обращение закрыто: ответ не будет отправлен.", field="body")
        now = timezone.now()
        message = TicketMessage.objects.create(
            ticket=ticket,
            author=staff,
            author_kind=TicketMessage.Author.STAFF,
            body=body,
            internal=internal,
            created_at=now,
        )
        fields = ["updated_at"]
        if not internal:
            ticket.last_staff_reply_at = now
            fields.append("last_staff_reply_at")
            if ticket.first_response_at is None:
                ticket.first_response_at = now
                fields.append("first_response_at")
            if ticket.assignee_id is None:
                ticket.assignee = staff
                fields.append("assignee")
        ticket.save(update_fields=fields)
        target = status or (None if internal else Ticket.Status.WAITING_USER)
        if target and target != ticket.status:
            if target not in TRANSITIONS[ticket.status]:
                raise SupportError("Недопустимая смена статуса.", field="status")
            _change_status(ticket, target, by=staff)
        if not internal:
            link = settings.SITE_URL.rstrip("/") + reverse("support:ticket_detail", args=[ticket.number])
            transaction.on_commit(lambda: _send(ticket, template="ticket_reply", context={"link": link}))
    return message


def ticket_mark_seen(*, ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(user_seen_at=timezone.now())


def ticket_merge(*, duplicate: Ticket, into: Ticket, by: User) -> Ticket:
    """Close a duplicate into the main ticket; both threads say so."""
    if duplicate.pk == into.pk:
        raise SupportError("Нельзя объединить обращение с самим собой.")
    with transaction.atomic():
        # Lock in id order so two opposite merges cannot deadlock.
        first, second = sorted([duplicate, into], key=lambda t: t.pk)
        locked = {t.pk: _lock(t) for t in (first, second)}
        duplicate, into = locked[duplicate.pk], locked[into.pk]
        if duplicate.merged_into_id or into.merged_into_id:
            raise SupportError("Одно из обращений уже объединено с другим.")
        if into.status == Ticket.Status.CLOSED:
            raise SupportError("Нельзя объединить с закрытым обращением.")
        same_person = (duplicate.user_id is not None and duplicate.user_id == into.user_id) or (
            duplicate.user_id is None
            and into.user_id is None
            and (
                (duplicate.contact_email and duplicate.contact_email.lower() == into.contact_email.lower())
                or (duplicate.contact_phone and duplicate.contact_phone == into.contact_phone)
            )
        )
        if not same_person:
            raise SupportError("Объединять можно только обращения одного и того же заявителя.")
        duplicate.merged_into = into
        duplicate.save(update_fields=["merged_into", "updated_at"])
        TicketMessage.objects.create(
            ticket=duplicate,
            author=by,
            author_kind=TicketMessage.Author.SYSTEM,
            body=f"Обращение объединено с {into.number}: ответ будет дан в нём.",
        )
        TicketMessage.objects.create(
            ticket=into,
            author=by,
            author_kind=TicketMessage.Author.SYSTEM,
            internal=True,
            body=f"Присоединено повторное обращение {duplicate.number}.",
        )
        _change_status(duplicate, Ticket.Status.CLOSED, by=by, note=f"дубликат {into.number}")
    return into


def ticket_lookup(*, number: str, contact: str) -> Ticket | None:
    """An anonymous user finds their ticket by number plus the e-mail or phone they gave."""
    ticket = Ticket.objects.filter(number=normalize_ticket_number(number)).first()
    if ticket is None:
        return None
    contact = (contact or "").strip()
    phone = ""
    if "@" not in contact:
        try:
            phone = normalize_mobile_phone(contact)
        except ValidationError:  # an unparsable contact simply does not match
            return None
    return ticket if _visible_to(ticket, user=None, email=contact if "@" in contact else "", phone=phone) else None


# --- Chat --------------------------------------------------------------------------------------------


def chat_post(*, user: User, body: str) -> ChatMessage:
    body = _clean_body(body)
    with transaction.atomic():
        # Lock the user: with no conversation yet there is no row to lock, and two first messages
        # at once must not both create one.
        User.objects.select_for_update().only("pk").get(pk=user.pk)
        conversation = (
            ChatConversation.objects.select_for_update().filter(user=user, status=ChatConversation.Status.OPEN).first()
        )
        if conversation is None:
            conversation = ChatConversation.objects.create(user=user)
        message = ChatMessage.objects.create(conversation=conversation, author=user, body=body)
        conversation.last_message_at, conversation.waiting_for_staff = message.created_at, True
        conversation.save(update_fields=["last_message_at", "waiting_for_staff"])
    return message


def chat_staff_reply(*, conversation: ChatConversation, staff: User, body: str) -> ChatMessage:
    if not staff.is_staff:
        raise SupportError("Отвечать может только сотрудник службы поддержки.")
    body = _clean_body(body)
    with transaction.atomic():
        conversation = ChatConversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.status != ChatConversation.Status.OPEN:
            raise SupportError("Чат закрыт.")
        message = ChatMessage.objects.create(conversation=conversation, author=staff, from_staff=True, body=body)
        conversation.last_message_at, conversation.waiting_for_staff = message.created_at, False
        conversation.save(update_fields=["last_message_at", "waiting_for_staff"])
    return message


def chat_close(*, conversation: ChatConversation, by: User) -> None:
    with transaction.atomic():
        conversation = ChatConversation.objects.select_for_update().get(pk=conversation.pk)
        conversation.status = ChatConversation.Status.CLOSED
        conversation.save(update_fields=["status"])


def chat_to_ticket(*, conversation: ChatConversation, by: User, topic: str = "other") -> Ticket:
    """Turn a chat into a ticket: the transcript becomes the thread, the chat is closed."""
    with transaction.atomic():
        conversation = ChatConversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.ticket is not None:
            return conversation.ticket
        user = conversation.user
        messages = list(conversation.messages.order_by("id"))
        if not messages:
            raise SupportError("В чате нет сообщений.")
        first_user_text = next((m.body for m in messages if not m.from_staff), messages[0].body)
        ticket = Ticket.objects.create(
            number=ticket_number_next(year=timezone.localdate().year),
            user=user,
            worker=MedicalWorker.objects.filter(user=user).only("id").first(),
            full_name=user.full_name or "—",
            inn_or_snils=user.snils or "",
            topic=topic,
            description=first_user_text,
            contact_email=user.email,
            contact_phone=user.phone if user.phone_confirmed else "",
            source=Ticket.Source.CHAT,
            status=Ticket.Status.IN_PROGRESS,
            assignee=by,
        )
        TicketMessage.objects.bulk_create(
            [
                TicketMessage(
                    ticket=ticket,
                    author=m.author,
                    author_kind=TicketMessage.Author.STAFF if m.from_staff else TicketMessage.Author.USER,
                    body=m.body,
                    created_at=m.created_at,
                )
                for m in messages
            ]
        )
        TicketStatusChange.objects.create(
            ticket=ticket, to_status=Ticket.Status.IN_PROGRESS, changed_by=by, note="создано из чата"
        )
        conversation.ticket, conversation.status = ticket, ChatConversation.Status.CLOSED
        conversation.save(update_fields=["ticket", "status"])
        transaction.on_commit(lambda: _notify_created(ticket.pk))
    return ticket
