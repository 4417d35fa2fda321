"""Support desk: tickets with numbered history, replies and internal notes, online chat."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Topic(models.TextChoices):
    NO_ACCESS = "no_access", "Нет доступа к регистру"
    DATA_ERROR = "data_error", "Ошибка в данных"
    ACCOUNT_LOCKED = "account_locked", "Учётная запись заблокирована"
    ACCESS_RIGHTS = "access_rights", "Обновление прав доступа"
    OTHER = "other", "Другое"


class TicketCounter(models.Model):
    """The last ticket number issued in a year; locked row per year gives gap-free unique numbers."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "счётчик обращений"
        verbose_name_plural = "счётчики обращений"

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Ticket(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Новое"
        IN_PROGRESS = "in_progress", "В работе"
        WAITING_USER = "waiting_user", "Ожидает ответа пользователя"
        RESOLVED = "resolved", "Решено"
        CLOSED = "closed", "Закрыто"

    class Source(models.TextChoices):
        FORM = "form", "Форма на сайте"
        CHAT = "chat", "Онлайн-чат"
        PHONE = "phone", "Телефон"

    OPEN_STATUSES = (Status.NEW, Status.IN_PROGRESS, Status.WAITING_USER)
    # First staff answer is due within this time; later the ticket is shown as overdue.
    SLA = dt.timedelta(hours=24)

    number = models.CharField("номер", max_length=20, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="пользователь",
        related_name="tickets",
    )
    full_name = models.CharField("ФИО", max_length=300)
    inn_or_snils = models.CharField("ИНН или СНИЛС", max_length=12, blank=True)
    account_number = models.CharField("номер учётной записи / регистровый номер", max_length=40, blank=True)
    topic = models.CharField("тема", max_length=20, choices=Topic)
    description = models.TextField("описание проблемы")
    contact_email = models.EmailField("e-mail для ответа", blank=True)
    contact_phone = models.CharField("телефон для ответа", max_length=20, blank=True)
    follows = models.ForeignKey(
        "self", models.SET_NULL, null=True, blank=True, verbose_name="продолжение обращения", related_name="follow_ups"
    )
    merged_into = models.ForeignKey(
        "self", models.SET_NULL, null=True, blank=True, verbose_name="объединено с", related_name="merged"
    )
    source = models.CharField("канал", max_length=8, choices=Source.choices, default=Source.FORM)
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="исполнитель",
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    worker = models.ForeignKey(
        "registry.MedicalWorker",
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="запись в регистре",
        related_name="tickets",
    )
    created_at = models.DateTimeField("создано", default=timezone.now)
    updated_at = models.DateTimeField("изменено", auto_now=True)
    first_response_at = models.DateTimeField("первый ответ", null=True, blank=True)
    resolved_at = models.DateTimeField("решено", null=True, blank=True)
    # When the user last opened the ticket, to mark staff replies they have not seen.
    user_seen_at = models.DateTimeField(null=True, blank=True)
    last_staff_reply_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "обращение"
        verbose_name_plural = "обращения"
        ordering = ["-created_at"]
        indexes = [
            # The staff queue: open tickets by status, oldest first.
            models.Index(fields=["status", "created_at"], name="ticket_queue_idx"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_idx"),
            models.Index(fields=["user", "-created_at"], name="ticket_user_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(contact_email="") | ~Q(contact_phone=""),
                name="ticket_has_a_way_to_answer",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        """No staff answer within the SLA while still open."""
        now = now or timezone.now()
        return self.is_open and self.first_response_at is None and now - self.created_at > self.SLA

    @property
    def has_unseen_reply(self) -> bool:
        seen = self.user_seen_at
        return bool(self.last_staff_reply_at and (seen is None or seen < self.last_staff_reply_at))


class TicketMessage(models.Model):
    class Author(models.TextChoices):
        USER = "user", "Пользователь"
        STAFF = "staff", "Служба поддержки"
        SYSTEM = "system", "Система"

    ticket = models.ForeignKey(Ticket, models.CASCADE, verbose_name="обращение", related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="автор", related_name="+"
    )
    author_kind = models.CharField("кто", max_length=8, choices=Author.choices)
    body = models.TextField("текст")
    # Internal notes are seen by staff only, never by the user.
    internal = models.BooleanField("внутренняя заметка", default=False)
    attachment = models.ForeignKey(
        "verification.StoredDocument",
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="вложение",
        related_name="+",
    )
    created_at = models.DateTimeField("время", default=timezone.now)

    class Meta:
        verbose_name = "сообщение"
        verbose_name_plural = "сообщения"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="ticket_message_idx")]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.body[:40]}"


class TicketStatusChange(models.Model):
    """History row of every status change."""

    ticket = models.ForeignKey(Ticket, models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=Ticket.Status.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=Ticket.Status.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "смена статуса"
        verbose_name_plural = "история статусов"
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"


class CannedAnswer(models.Model):
    title = models.CharField("название", max_length=200)
    topic = models.CharField("тема", max_length=20, choices=Topic, blank=True)
    body = models.TextField("текст ответа")

    class Meta:
        verbose_name = "шаблон ответа"
        verbose_name_plural = "шаблоны ответов"
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ChatConversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Открыт"
        CLOSED = "closed", "Закрыт"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, verbose_name="пользователь", related_name="chats"
    )
    status = models.CharField("статус", max_length=8, choices=Status.choices, default=Status.OPEN)
    ticket = models.OneToOneField(
        Ticket, models.SET_NULL, null=True, blank=True, verbose_name="обращение", related_name="chat"
    )
    created_at = models.DateTimeField("начат", default=timezone.now)
    last_message_at = models.DateTimeField("последнее сообщение", default=timezone.now, db_index=True)
    waiting_for_staff = models.BooleanField("ждёт ответа", default=True)

    class Meta:
        verbose_name = "чат"
        verbose_name_plural = "чаты"
        ordering = ["-last_message_at"]
        constraints = [
            # One open conversation per user: the cabinet shows "the" chat.
            models.UniqueConstraint(fields=["user"], condition=Q(status="open"), name="chat_one_open_per_user"),
        ]

    def __str__(self) -> str:
        return f"Чат {self.pk} ({self.user})"


class ChatMessage(models.Model):
    conversation = models.ForeignKey(ChatConversation, models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    from_staff = models.BooleanField(default=False)
    body = models.TextField("текст")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "сообщение чата"
        verbose_name_plural = "сообщения чата"
        ordering = ["id"]
        indexes = [models.Index(fields=["conversation", "id"], name="chat_message_idx")]

    def __str__(self) -> str:
        return self.body[:40]
