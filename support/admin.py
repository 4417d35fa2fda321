"""The staff side of the support desk: the ticket queue, replies and notes, chat answers.

Every change goes through `support.services`; the admin's own model save is never called, so a
page opened an hour ago cannot overwrite what a service (or a colleague) changed since.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Case, IntegerField, OuterRef, Q, Subquery, Value, When
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from accounts.models import User
from core import validators
from core.admin_mixins import NoAddDeleteMixin, ServiceFailureMixin
from core.audit import audit_record
from core.models import AuditEntry

from . import admin_views, services
from .models import CannedAnswer, ChatConversation, Ticket, TicketMessage, Topic
from .services import MAX_MESSAGE_LENGTH, TRANSITIONS, SupportError


def _age_text(delta: dt.timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} мин"
    if minutes < 24 * 60:
        return f"{minutes // 60} ч"
    return f"{minutes // (24 * 60)} дн"


def _person(user: User | None) -> str:
    if user is None:
        return "—"
    return user.full_name


def _staff_users():
    return User.objects.filter(is_staff=True, is_active=True).order_by("last_name", "first_name", "username")


# --- Filters -----------------------------------------------------------------------------------------


class AssigneeFilter(admin.SimpleListFilter):
    title = "исполнитель"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [
            ("me", "Мне"),
            ("none", "Не назначено"),
            *((str(user.pk), _person(user)) for user in _staff_users()),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value and validators.is_digits(value, max_length=18):
            return queryset.filter(assignee_id=int(value))
        return None


class AgeFilter(admin.SimpleListFilter):
    title = "возраст обращения"
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [
            ("today", "Сегодня"),
            ("1-3", "1–3 дня"),
            ("older", "Старше 3 дней"),
            ("overdue", "Просрочено по SLA"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        match self.value():
            case "today":
                return queryset.filter(created_at__gte=midnight)
            case "1-3":
                return queryset.filter(created_at__gte=midnight - dt.timedelta(days=3), created_at__lt=midnight)
            case "older":
                return queryset.filter(created_at__lt=midnight - dt.timedelta(days=3))
            case "overdue":
                # The same rule as Ticket.is_overdue(), as a query.
                return queryset.filter(
                    status__in=Ticket.OPEN_STATUSES, first_response_at__isnull=True, created_at__lt=now - Ticket.SLA
                )
        return None


# --- Tickets -----------------------------------------------------------------------------------------


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _person(obj)


class TicketAdminForm(forms.ModelForm):
    """Only non-model fields: what staff type is handed to the services in `save_model`."""

    reply = forms.CharField(
        label="Ответ пользователю",
        required=False,
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text="Пользователь получит уведомление по e-mail и SMS.",
    )
    canned_answer = forms.ModelChoiceField(
        label="Шаблон ответа",
        queryset=CannedAnswer.objects.none(),
        required=False,
        help_text="Если поле «Ответ пользователю» пусто, будет отправлен текст шаблона.",
    )
    internal_note = forms.CharField(
        label="Внутренняя заметка",
        required=False,
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Видна только сотрудникам, пользователь её не увидит.",
    )
    new_status = forms.ChoiceField(
        label="Новый статус",
        required=False,
        help_text="Без выбора ответ переводит обращение в «Ожидает ответа пользователя» (решённое остаётся решённым).",
    )
    assign_to = StaffChoiceField(
        label="Исполнитель",
        queryset=_staff_users(),
        required=False,
        help_text="Пусто — снять назначение.",
    )

    class Meta:
        model = Ticket
        fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ticket = self.instance
        allowed = TRANSITIONS.get(ticket.status, set()) if ticket.pk else set()
        self.fields["new_status"].choices = [("", "— не менять —")] + [
            (status.value, status.label) for status in Ticket.Status if status in allowed
        ]
        if ticket.pk:
            self.fields["canned_answer"].queryset = CannedAnswer.objects.filter(topic__in=["", ticket.topic])
            # Keep a no longer active assignee selectable, or saving the page would silently unassign.
            self.fields["assign_to"].queryset = User.objects.filter(
                Q(is_staff=True, is_active=True) | Q(pk=ticket.assignee_id)
            ).order_by("last_name", "first_name", "username")
            self.fields["assign_to"].initial = ticket.assignee_id

    def clean(self):
        cleaned = super().clean()
        reply = (cleaned.get("reply") or "").strip()
        canned = cleaned.get("canned_answer")
        if not reply and canned is not None:
            reply = canned.body.strip()
            if len(reply) > MAX_MESSAGE_LENGTH:
                self.add_error("canned_answer", f"Текст шаблона длиннее {MAX_MESSAGE_LENGTH} символов.")
        cleaned["reply"] = reply
        cleaned["internal_note"] = (cleaned.get("internal_note") or "").strip()
        if reply and self.instance.status == Ticket.Status.CLOSED:
            self.add_error("reply", "Обращение закрыто: ответ не будет отправлен.")
        return cleaned

    def assignee_changed(self) -> bool:
        if "assign_to" not in self.cleaned_data:
            return False
        chosen = self.cleaned_data["assign_to"]
        return (chosen.pk if chosen else None) != self.instance.assignee_id


def _reply_status(ticket: Ticket, chosen: str) -> str | None:
    """The status a staff reply leaves the ticket in: the chosen one, else the service default
    (waiting for the user) where that move is allowed, else unchanged (a note on a resolved ticket)."""
    if chosen:
        return chosen
    if ticket.status == Ticket.Status.WAITING_USER or Ticket.Status.WAITING_USER in TRANSITIONS[ticket.status]:
        return None
    return ticket.status


@admin.register(Ticket)
class TicketAdmin(NoAddDeleteMixin, ServiceFailureMixin, admin.ModelAdmin):
    # Tickets come from the public form and the chat, through services that number them; the thread
    # and its status history are the record of what support told the user.
    form = TicketAdminForm
    list_display = (
        "number",
        "topic",
        "status",
        "full_name",
        "assignee_name",
        "created_at",
        "age",
        "overdue",
        "user_replied",
    )
    list_display_links = ("number",)
    list_filter = ("status", "topic", AssigneeFilter, AgeFilter)
    search_fields = ("=number", "full_name", "contact_email")
    search_help_text = "Номер обращения (целиком), ФИО или e-mail заявителя."
    list_select_related = ("assignee",)
    list_per_page = 50
    show_full_result_count = False
    # Only for the column header's sort arrow; the real default order is in get_ordering().
    ordering = ("created_at",)
    actions = ["assign_to_me", "take_in_progress", "mark_resolved", "close_tickets", "merge_two"]
    readonly_fields = (
        "number",
        "status",
        "topic",
        "source",
        "created_at",
        "age_display",
        "sla_display",
        "first_response_at",
        "resolved_at",
        "follows",
        "merged_into",
        "full_name",
        "inn_or_snils",
        "account_number",
        "contact_email",
        "contact_phone",
        "user_display",
        "worker_display",
        "thread",
        "status_history",
    )
    reply_fields = ("reply", "canned_answer", "internal_note", "new_status", "assign_to")

    # --- Queue ---

    def get_queryset(self, request):
        last_public_author = (
            TicketMessage.objects.filter(ticket=OuterRef("pk"), internal=False)
            .order_by("-created_at", "-id")
            .values("author_kind")[:1]
        )
        return super().get_queryset(request).annotate(last_public_author=Subquery(last_public_author))

    def get_ordering(self, request):
        # Open tickets first, the oldest on top: that is the order they are due in.
        open_first = Case(
            When(status__in=Ticket.OPEN_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        return [open_first.asc(), "created_at"]

    @admin.display(description="исполнитель", ordering="assignee__last_name")
    def assignee_name(self, ticket: Ticket) -> str | None:
        return _person(ticket.assignee) if ticket.assignee_id else None

    @admin.display(description="возраст", ordering="-created_at")
    def age(self, ticket: Ticket) -> str:
        return _age_text(timezone.now() - ticket.created_at)

    @admin.display(description="SLA")
    def overdue(self, ticket: Ticket):
        if ticket.is_overdue():
            return mark_safe('<strong style="color:#ba2121">просрочено</strong>')
        return ""

    @admin.display(description="")
    def user_replied(self, ticket: Ticket):
        # Only after staff have answered: a new ticket is already visible by its status.
        if (
            ticket.is_open
            and ticket.last_staff_reply_at is not None
            and getattr(ticket, "last_public_author", None) == TicketMessage.Author.USER
        ):
            return mark_safe('<span style="color:#205493;font-weight:bold">новый ответ пользователя</span>')
        return ""

    # --- Change page ---

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                "Обращение",
                {
                    "fields": (
                        ("number", "status"),
                        ("topic", "source"),
                        ("created_at", "age_display"),
                        "sla_display",
                        ("first_response_at", "resolved_at"),
                        ("follows", "merged_into"),
                    )
                },
            ),
            (
                "Заявитель",
                {
                    "fields": (
                        "full_name",
                        ("inn_or_snils", "account_number"),
                        ("contact_email", "contact_phone"),
                        "user_display",
                        "worker_display",
                    )
                },
            ),
            ("Переписка", {"fields": ("thread",)}),
        ]
        if obj is not None and self.has_change_permission(request, obj):
            fieldsets.append(("Ответ и действия", {"fields": self.reply_fields}))
        fieldsets.append(("История статусов", {"fields": ("status_history",)}))
        return fieldsets

    @admin.display(description="возраст")
    def age_display(self, ticket: Ticket) -> str:
        return _age_text(timezone.now() - ticket.created_at)

    @admin.display(description="срок первого ответа")
    def sla_display(self, ticket: Ticket):
        due = timezone.localtime(ticket.created_at + Ticket.SLA)
        if ticket.first_response_at is not None:
            return format_html("ответ дан {}", timezone.localtime(ticket.first_response_at).strftime("%d.%m.%Y %H:%M"))
        if ticket.is_overdue():
            return format_html(
                '<strong style="color:#ba2121">просрочено</strong> (срок был {})', due.strftime("%d.%m.%Y %H:%M")
            )
        return format_html("до {}", due.strftime("%d.%m.%Y %H:%M"))

    @admin.display(description="учётная запись")
    def user_display(self, ticket: Ticket) -> str:
        # Plain text, not the automatic link to the user admin: personal data is opened through
        # audited views only.
        if ticket.user_id is None:
            return "без входа в систему"
        return f"{_person(ticket.user)} ({ticket.user.get_username()})"

    @admin.display(description="запись в регистре")
    def worker_display(self, ticket: Ticket):
        if ticket.worker_id is None:
            return "не связана"
        url = reverse("admin:support_ticket_open_worker", args=[ticket.pk])
        return format_html(
            '<a href="{}">Открыть запись в регистре</a> '
            '<span class="help">(просмотр записывается в журнал аудита)</span>',
            url,
        )

    @admin.display(description="сообщения")
    def thread(self, ticket: Ticket):
        items = ticket.messages.select_related("author", "attachment").order_by("created_at", "id")
        rows = []
        for message in items:
            if message.internal:
                style = "background:#fff4cc;color:#333;border-left:4px solid #d4a20b"
                who = f"Внутренняя заметка — {_person(message.author)} (пользователь не видит)"
            elif message.author_kind == TicketMessage.Author.STAFF:
                style = "background:#e8f1fb;color:#333;border-left:4px solid #205493"
                who = f"Служба поддержки — {_person(message.author)}"
            elif message.author_kind == TicketMessage.Author.SYSTEM:
                style = "background:#f2f2f2;color:#555;border-left:4px solid #999"
                who = "Система"
            else:
                style = "background:#fafafa;color:#333;border-left:4px solid #6a6a6a"
                who = "Пользователь"
            attachment = ""
            if message.attachment_id:
                attachment = format_html(
                    '<div>Вложение: <a href="{}">{}</a> ({} КБ)</div>',
                    reverse("admin:support_ticket_attachment", args=[message.pk]),
                    message.attachment.original_name,
                    max(message.attachment.size // 1024, 1),
                )
            rows.append(
                (
                    style,
                    timezone.localtime(message.created_at).strftime("%d.%m.%Y %H:%M"),
                    who,
                    message.body,
                    attachment,
                )
            )
        if not rows:
            return "—"
        return format_html_join(
            "\n",
            '<div style="{};padding:6px 10px;margin:0 0 8px;max-width:60em">'
            '<div style="font-size:90%"><strong>{}</strong> · {}</div>'
            '<div style="white-space:pre-wrap">{}</div>{}</div>',
            rows,
        )

    @admin.display(description="смены статуса")
    def status_history(self, ticket: Ticket):
        changes = ticket.status_changes.select_related("changed_by").order_by("changed_at", "id")
        rows = [
            (
                timezone.localtime(change.changed_at).strftime("%d.%m.%Y %H:%M"),
                change.get_from_status_display() or "—",
                change.get_to_status_display(),
                _person(change.changed_by) if change.changed_by_id else "пользователь или система",
                change.note,
            )
            for change in changes
        ]
        if not rows:
            return "—"
        return format_html(
            "<table><thead><tr><th>Время</th><th>Было</th><th>Стало</th><th>Кто</th><th>Примечание</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            format_html_join("\n", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    def save_model(self, request, obj, form, change):
        """Hand the form to the services. The ticket row itself is never saved from here."""
        data = form.cleaned_data
        try:
            # One transaction: if the reply is refused, the assignment made just before is undone too.
            with transaction.atomic():
                if form.assignee_changed():
                    services.ticket_assign(ticket=obj, assignee=data["assign_to"], by=request.user)
                    obj.refresh_from_db()
                if data["internal_note"]:
                    services.ticket_reply_staff(
                        ticket=obj, staff=request.user, body=data["internal_note"], internal=True
                    )
                if data["reply"]:
                    services.ticket_reply_staff(
                        ticket=obj,
                        staff=request.user,
                        body=data["reply"],
                        status=_reply_status(obj, data["new_status"]),
                    )
                elif data["new_status"]:
                    services.ticket_set_status(ticket=obj, status=data["new_status"], by=request.user)
        except SupportError as exc:
            self.service_failed(request)
            messages.error(request, f"Изменения не сохранены: {exc.message}")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            # The ticket holds the requester's INN/SNILS and contacts: staff reads are journaled.
            ticket = Ticket.objects.filter(pk=object_id).only("user_id", "number").first()
            if ticket is not None:
                audit_record(
                    event=AuditEntry.Event.DATA_VIEWED,
                    subject=ticket.user,
                    actor=request.user,
                    request=request,
                    object_type="ticket",
                    object_id=ticket.number,
                )
        return response

    def get_urls(self):
        # Before the default URLs: their "<path:object_id>/" would swallow these.
        return [
            path(
                "<int:ticket_id>/worker/",
                admin_views.open_worker_record,
                name="support_ticket_open_worker",
            ),
            path(
                "attachment/<int:message_id>/",
                admin_views.ticket_attachment,
                name="support_ticket_attachment",
            ),
            *super().get_urls(),
        ]

    # --- Actions ---

    def _each(self, request, queryset, work, done: str) -> None:
        succeeded = 0
        for ticket in queryset:
            try:
                work(ticket)
            except SupportError as exc:
                messages.error(request, f"{ticket.number}: {exc.message}")
            else:
                succeeded += 1
        if succeeded:
            messages.success(request, f"{done}: {succeeded}.")

    @admin.action(description="Назначить мне", permissions=["change"])
    def assign_to_me(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda ticket: services.ticket_assign(ticket=ticket, assignee=request.user, by=request.user),
            "Назначено вам",
        )

    @admin.action(description="Взять в работу", permissions=["change"])
    def take_in_progress(self, request, queryset):
        def take(ticket: Ticket) -> None:
            with transaction.atomic():
                if ticket.assignee_id is None:
                    ticket = services.ticket_assign(ticket=ticket, assignee=request.user, by=request.user)
                services.ticket_set_status(ticket=ticket, status=Ticket.Status.IN_PROGRESS, by=request.user)

        self._each(request, queryset, take, "Взято в работу")

    @admin.action(description="Отметить решёнными", permissions=["change"])
    def mark_resolved(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda ticket: services.ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=request.user),
            "Отмечено решёнными",
        )

    @admin.action(description="Закрыть", permissions=["change"])
    def close_tickets(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda ticket: services.ticket_set_status(ticket=ticket, status=Ticket.Status.CLOSED, by=request.user),
            "Закрыто",
        )

    @admin.action(
        description="Объединить с… (выберите два: новое присоединится к более раннему)", permissions=["change"]
    )
    def merge_two(self, request, queryset):
        tickets = sorted(queryset[:3], key=lambda t: (t.created_at, t.pk))
        if len(tickets) != 2:
            messages.warning(
                request,
                "Для объединения отметьте ровно два обращения: более новое будет закрыто как дубликат "
                "и присоединено к более раннему.",
            )
            return
        older, newer = tickets
        try:
            services.ticket_merge(duplicate=newer, into=older, by=request.user)
        except SupportError as exc:
            messages.error(request, f"{newer.number} → {older.number}: {exc.message}")
            return
        messages.success(
            request,
            f"Обращение {newer.number} закрыто как дубликат и присоединено к более раннему {older.number}; "
            f"отвечайте в {older.number}.",
        )


@admin.register(CannedAnswer)
class CannedAnswerAdmin(admin.ModelAdmin):
    list_display = ("title", "topic", "body_start")
    list_filter = ("topic",)
    search_fields = ("title", "body")

    @admin.display(description="текст")
    def body_start(self, answer: CannedAnswer) -> str:
        return answer.body if len(answer.body) <= 100 else answer.body[:100] + "…"


# --- Chat --------------------------------------------------------------------------------------------


class ChatAdminForm(forms.ModelForm):
    reply = forms.CharField(
        label="Ответ в чат",
        required=False,
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Сообщение появится у пользователя в личном кабинете.",
    )

    class Meta:
        model = ChatConversation
        fields = ()

    def clean_reply(self):
        reply = (self.cleaned_data.get("reply") or "").strip()
        if reply and self.instance.status != ChatConversation.Status.OPEN:
            raise forms.ValidationError("Чат закрыт: ответ не будет доставлен.")
        return reply


@admin.register(ChatConversation)
class ChatConversationAdmin(NoAddDeleteMixin, ServiceFailureMixin, admin.ModelAdmin):
    form = ChatAdminForm
    list_display = ("__str__", "user_name", "status", "waiting_for_staff", "last_message_at", "ticket")
    list_filter = ("status", "waiting_for_staff")
    search_fields = ("=user__username", "user__last_name")
    list_select_related = ("user", "ticket")
    show_full_result_count = False
    ordering = ("-last_message_at",)
    actions = ["make_ticket", "close_chats"]
    readonly_fields = (
        "user_name",
        "status",
        "waiting_for_staff",
        "created_at",
        "last_message_at",
        "ticket",
        "transcript",
    )

    def get_ordering(self, request):
        # Conversations waiting for an answer on top.
        waiting_first = Case(
            When(status=ChatConversation.Status.OPEN, waiting_for_staff=True, then=Value(0)),
            When(status=ChatConversation.Status.OPEN, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        return [waiting_first.asc(), "-last_message_at"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (
                None,
                {"fields": ("user_name", ("status", "waiting_for_staff"), ("created_at", "last_message_at"), "ticket")},
            ),
            ("Переписка", {"fields": ("transcript",)}),
        ]
        if obj is not None and self.has_change_permission(request, obj):
            # Shown for a closed chat too: a reply typed while a colleague closed it gets a visible error.
            closed = obj.status != ChatConversation.Status.OPEN
            description = "Чат закрыт: ответ не будет доставлен." if closed else None
            fieldsets.append(("Ответить", {"fields": ("reply",), "description": description}))
        return fieldsets

    @admin.display(description="пользователь", ordering="user__last_name")
    def user_name(self, conversation: ChatConversation) -> str:
        return _person(conversation.user)

    @admin.display(description="сообщения")
    def transcript(self, conversation: ChatConversation):
        items = conversation.messages.select_related("author").order_by("id")
        rows = [
            (
                "background:#e8f1fb;color:#333;border-left:4px solid #205493"
                if message.from_staff
                else "background:#fafafa;color:#333;border-left:4px solid #6a6a6a",
                timezone.localtime(message.created_at).strftime("%d.%m.%Y %H:%M"),
                f"Служба поддержки — {_person(message.author)}" if message.from_staff else "Пользователь",
                message.body,
            )
            for message in items
        ]
        if not rows:
            return "—"
        return format_html_join(
            "\n",
            '<div style="{};padding:6px 10px;margin:0 0 8px;max-width:60em">'
            '<div style="font-size:90%">{} · <strong>{}</strong></div>'
            '<div style="white-space:pre-wrap">{}</div></div>',
            rows,
        )

    def save_model(self, request, obj, form, change):
        reply = form.cleaned_data.get("reply")
        if not reply:
            return
        try:
            services.chat_staff_reply(conversation=obj, staff=request.user, body=reply)
        except SupportError as exc:
            self.service_failed(request)
            messages.error(request, f"Ответ не отправлен: {exc.message}")

    @admin.action(description="Создать обращение из чата", permissions=["change"])
    def make_ticket(self, request, queryset):
        for conversation in queryset.select_related("ticket"):
            if conversation.ticket_id:
                url = reverse("admin:support_ticket_change", args=[conversation.ticket_id])
                messages.info(
                    request,
                    format_html('{}: уже есть обращение <a href="{}">{}</a>.', conversation, url, conversation.ticket),
                )
                continue
            try:
                ticket = services.chat_to_ticket(conversation=conversation, by=request.user, topic=Topic.OTHER)
            except SupportError as exc:
                messages.error(request, f"{conversation}: {exc.message}")
                continue
            url = reverse("admin:support_ticket_change", args=[ticket.pk])
            messages.success(
                request,
                format_html('{}: создано обращение <a href="{}">{}</a>, чат закрыт.', conversation, url, ticket.number),
            )

    @admin.action(description="Закрыть чат", permissions=["change"])
    def close_chats(self, request, queryset):
        closed = 0
        for conversation in queryset.filter(status=ChatConversation.Status.OPEN):
            services.chat_close(conversation=conversation, by=request.user)
            closed += 1
        messages.success(request, f"Закрыто чатов: {closed}.")
