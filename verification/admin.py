"""The staff review queue: identity and qualification applications in manual review, profile
corrections. Oldest first, SLA age shown, documents viewable inline, assignment to an agent.

Decisions go through verification.services (the same functions the automatic checks use); the
admin's own model save never writes a status. Opening an application journals the staff read of
the worker's protected data; opening a document journals the download (verification.documents).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.models import User
from core.admin_mixins import NoAddDeleteMixin, ReadOnlyAdmin, ServiceFailureMixin
from core.audit import audit_record
from core.models import AuditEntry

from . import services
from .models import (
    ApplicationHistory,
    ChangeRequest,
    IdentityApplication,
    QualificationApplication,
    StateRegistryReference,
    StoredDocument,
)
from .selectors import application_history
from .services import VerificationError

# The review SLA: an item waiting longer than this is shown as overdue.
REVIEW_SLA = dt.timedelta(hours=24)


@admin.register(StoredDocument)
class StoredDocumentAdmin(ReadOnlyAdmin):
    """Metadata only; contents are opened through the views that check access and journal reads."""

    list_display = ("id", "kind", "owner", "content_type", "size", "created_at")
    list_filter = ("kind", "content_type")
    search_fields = ("=owner__username", "=sha256")
    list_select_related = ("owner",)
    exclude = ("storage_name", "key_fingerprint")
    show_full_result_count = False


@admin.register(StateRegistryReference)
class StateRegistryReferenceAdmin(admin.ModelAdmin):
    """The stand-in for the tax service and social fund (see verification.gateways)."""

    list_display = ("source", "key", "last_name", "first_name", "middle_name", "birth_date", "linked_key")
    list_filter = ("source",)
    search_fields = ("=key", "last_name")
    show_full_result_count = False


def _age_text(delta: dt.timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} мин"
    if minutes < 24 * 60:
        return f"{minutes // 60} ч"
    return f"{minutes // (24 * 60)} дн"


def _document_links(documents) -> str:
    """Each document as a link; images also shown inline. Both go through the download view,
    which allows staff and writes the read to the owner's journal."""
    items = []
    for document in documents:
        url = reverse("verification:document", args=[document.pk])
        if document.content_type.startswith("image/"):
            items.append(format_html(
                '<figure style="margin:0 0 1em"><a href="{}">{}: {}</a><br>'
                '<img src="{}" alt="{}" loading="lazy" style="max-width:480px;max-height:480px;border:1px solid #ccc">'
                "</figure>",
                url, document.get_kind_display(), document.original_name, url, document.get_kind_display(),
            ))
        else:
            items.append(format_html(
                '<p><a href="{}">{}: {} (PDF, {} КБ)</a></p>', url, document.get_kind_display(),
                document.original_name, max(1, document.size // 1024),
            ))
    return format_html_join("", "{}", ((item,) for item in items)) if items else "—"


def _history_table(kind: str, pk: int) -> str:
    rows = application_history(kind=kind, application_id=pk)
    return format_html(
        "<table><tr><th>Время</th><th>Статус</th><th>Кто</th><th>Комментарий</th></tr>{}</table>",
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (timezone.localtime(h.created_at).strftime("%d.%m.%Y %H:%M"), h.to_label,
             h.actor.full_name if h.actor else "система", h.note or "") for h in rows
        )),
    )


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.full_name or obj.username


def _staff():
    return User.objects.filter(is_staff=True, is_active=True).order_by("last_name", "first_name", "username")


class DecisionForm(forms.ModelForm):
    """Only non-model fields: save_model hands them to the services."""

    decision = forms.ChoiceField(
        label="Решение", required=False,
        choices=[("", "— без решения —"), ("approve", "Подтвердить"), ("reject", "Отклонить")],
    )
    reason = forms.CharField(label="Причина отказа / комментарий", required=False,
                             widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
                             help_text="Обязательна при отказе; работник увидит её в кабинете.")
    assign_to = StaffChoiceField(label="Исполнитель", queryset=_staff(), required=False)

    class Meta:
        fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["assign_to"].initial = self.instance.assignee_id

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Причина отказа: укажите, почему отклонено.")
        return data


class ReviewQueueAdmin(NoAddDeleteMixin, ServiceFailureMixin, admin.ModelAdmin):
    """Shared queue behaviour; subclasses name the services and the open statuses."""

    form = DecisionForm
    kind: str = ""
    open_statuses: tuple = ()
    review_statuses: tuple = ()
    date_field = "submitted_at"
    list_per_page = 50
    show_full_result_count = False
    actions = ["assign_to_me", "approve_selected"]
    decision_fields = ("decision", "reason", "assign_to")

    def get_ordering(self, request):
        # Waiting for a person first, oldest on top: the order they are due in.
        waiting = Case(When(status__in=self.review_statuses, then=Value(0)),
                       When(status__in=self.open_statuses, then=Value(1)), default=Value(2),
                       output_field=IntegerField())
        return [waiting.asc(), self.date_field, "id"]

    @admin.display(description="ожидает")
    def sla_age(self, obj) -> str:
        age = timezone.now() - getattr(obj, self.date_field)
        text = _age_text(age)
        if obj.status in self.review_statuses and age > REVIEW_SLA:
            return format_html('<strong style="color:#ba2121">{} — просрочено</strong>', text)
        return text

    @admin.display(description="работник")
    def worker_name(self, obj) -> str:
        return obj.worker.full_name

    @admin.display(description="исполнитель")
    def assignee_name(self, obj) -> str:
        return (obj.assignee.full_name or obj.assignee.username) if obj.assignee_id else "—"

    @admin.display(description="история")
    def history(self, obj) -> str:
        return _history_table(self.kind, obj.pk)

    def get_readonly_fields(self, request, obj=None):
        return [f for f in self.shown_fields]

    def get_fields(self, request, obj=None):
        fields = list(self.shown_fields)
        if obj is not None and obj.status in self.decidable_statuses:
            return [*self.decision_fields, *fields]
        return ["assign_to", *fields]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            obj = self.get_object(request, object_id)
            if obj is not None:
                # Staff opening an application reads protected personal data: journaled.
                audit_record(event=AuditEntry.Event.DATA_VIEWED, subject=obj.worker.user, request=request,
                             object_type=self.kind, object_id=str(obj.pk), details={"via": "admin"})
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            chosen = data.get("assign_to")
            if "assign_to" in data and (chosen.pk if chosen else None) != obj.assignee_id:
                services.application_assign(application=obj, assignee=chosen, actor=request.user)
            if data.get("decision") == "approve":
                self.approve(obj, request)
                messages.success(request, f"{obj}: подтверждено.")
            elif data.get("decision") == "reject":
                self.reject(obj, request, data["reason"])
                messages.success(request, f"{obj}: отклонено.")
        except VerificationError as exc:
            self.service_failed(request)
            messages.error(request, exc.message)

    def save_related(self, request, form, formsets, change):
        pass  # nothing else is edited here

    @admin.action(description="Назначить мне")
    def assign_to_me(self, request, queryset):
        for obj in queryset:
            services.application_assign(application=obj, assignee=request.user, actor=request.user)
        messages.success(request, f"Назначено вам: {queryset.count()}.")

    @admin.action(description="Подтвердить выбранные")
    def approve_selected(self, request, queryset):
        done = 0
        for obj in queryset:
            try:
                self.approve(obj, request)
                done += 1
            except VerificationError as exc:
                messages.error(request, f"{obj}: {exc.message}")
        if done:
            messages.success(request, f"Подтверждено: {done}.")


class StatusFilterOpen(admin.SimpleListFilter):
    title = "очередь"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("review", "Ждут сотрудника"), ("open", "Все незавершённые"), ("mine", "Назначены мне")]

    def queryset(self, request, queryset):
        model_admin = self.model_admin
        match self.value():
            case "review":
                return queryset.filter(status__in=model_admin.review_statuses)
            case "open":
                return queryset.filter(status__in=model_admin.open_statuses)
            case "mine":
                return queryset.filter(assignee=request.user)
        return None


def _queue_filter(model_admin_cls):
    return type(f"{model_admin_cls.__name__}QueueFilter", (StatusFilterOpen,), {"model_admin": model_admin_cls})


@admin.register(IdentityApplication)
class IdentityApplicationAdmin(ReviewQueueAdmin):
    kind = ApplicationHistory.Kind.IDENTITY
    open_statuses = IdentityApplication.OPEN_STATUSES
    review_statuses = (IdentityApplication.Status.MANUAL_REVIEW,)
    decidable_statuses = (IdentityApplication.Status.MANUAL_REVIEW,)
    list_display = ("id", "worker_name", "status", "submitted_at", "sla_age", "assignee_name", "check_attempts")
    list_select_related = ("worker", "assignee")
    search_fields = ("=snils", "=inn", "last_name")
    shown_fields = ("status", "worker", "snils", "inn", "last_name", "first_name", "middle_name", "birth_date",
                    "submitted_at", "sla_age", "check_attempts", "discrepancies_list", "documents_inline",
                    "decision_note", "history")

    def get_list_filter(self, request):
        return (_queue_filter(type(self)), "status")

    @admin.display(description="документы")
    def documents_inline(self, obj):
        return _document_links(obj.documents())

    @admin.display(description="расхождения")
    def discrepancies_list(self, obj):
        return format_html_join("", "<p>{}</p>", ((d["message"],) for d in obj.discrepancies)) or "—"

    def approve(self, obj, request):
        services.identity_application_approve(application=obj, actor=request.user, request=request)

    def reject(self, obj, request, reason):
        services.identity_application_reject(application=obj, actor=request.user, reason=reason, request=request)


@admin.register(QualificationApplication)
class QualificationApplicationAdmin(ReviewQueueAdmin):
    kind = ApplicationHistory.Kind.QUALIFICATION
    open_statuses = QualificationApplication.OPEN_STATUSES
    review_statuses = (QualificationApplication.Status.ESCALATED,)
    decidable_statuses = (QualificationApplication.Status.ESCALATED,)
    list_display = ("id", "worker_name", "status", "submitted_at", "sla_age", "assignee_name", "check_attempts")
    list_select_related = ("worker", "assignee")
    search_fields = ("=diploma_number", "=admission_number", "worker__last_name")
    shown_fields = ("status", "worker", "diploma_number", "admission_number", "submitted_at", "sla_age",
                    "fix_deadline", "problems_list", "documents_inline", "decision_note", "history")

    def get_list_filter(self, request):
        return (_queue_filter(type(self)), "status")

    @admin.display(description="документы")
    def documents_inline(self, obj):
        return _document_links(obj.documents())

    @admin.display(description="недостающее и неверное")
    def problems_list(self, obj):
        return format_html_join("", "<p>{}</p>", ((p["message"],) for p in obj.problems)) or "—"

    def approve(self, obj, request):
        services.qualification_application_approve(application=obj, actor=request.user, request=request)

    def reject(self, obj, request, reason):
        services.qualification_application_reject(application=obj, actor=request.user, reason=reason,
                                                  request=request)


@admin.register(ChangeRequest)
class ChangeRequestAdmin(ReviewQueueAdmin):
    kind = ApplicationHistory.Kind.CHANGE
    open_statuses = (ChangeRequest.Status.PENDING,)
    review_statuses = (ChangeRequest.Status.PENDING,)
    decidable_statuses = (ChangeRequest.Status.PENDING,)
    date_field = "created_at"
    list_display = ("id", "worker_name", "status", "created_at", "sla_age", "assignee_name", "changed_fields")
    list_select_related = ("worker", "assignee")
    search_fields = ("worker__last_name", "=worker__registry_number")
    shown_fields = ("status", "worker", "created_at", "sla_age", "diff_table", "comment", "documents_inline",
                    "reviewed_by", "reject_reason", "history")

    def get_list_filter(self, request):
        return (_queue_filter(type(self)), "status")

    @admin.display(description="поля")
    def changed_fields(self, obj) -> str:
        return ", ".join(c["label"] for c in obj.changes.values())

    @admin.display(description="изменения")
    def diff_table(self, obj):
        return format_html(
            "<table><tr><th>Поле</th><th>Сейчас</th><th>Станет</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td><strong>{}</strong></td></tr>",
                             ((c["label"], c["old"], c["new"]) for c in obj.changes.values())),
        )

    @admin.display(description="подтверждающий документ")
    def documents_inline(self, obj):
        return _document_links(obj.proof_list) or "—"

    def approve(self, obj, request):
        services.change_request_approve(change_request=obj, actor=request.user, request=request)

    def reject(self, obj, request, reason):
        services.change_request_reject(change_request=obj, actor=request.user, reason=reason, request=request)
