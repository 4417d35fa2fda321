"""Admin for duplicates: the review list by score, the comparison and merge screen, merge requests,
the merge trail with its unmerge, and the scan with its progress.

Every page that shows both records' identity (SNILS, birth date) is a read of protected data and is
written to the audit journal (152-ФЗ). Decisions go through registry.quality.duplicates and
registry.quality.scan, which check, lock and journal; nothing here changes a row by itself.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from core.admin_mixins import ViewOnlyMixin
from core.audit import audit_record
from core.models import AuditEntry

from ... import models
from .. import duplicates, matching, scan

MERGE_PERMISSION = "registry.change_medicalworker"


def _journal_read(request, object_type: str, object_id: str = "") -> None:
    """152-ФЗ access journal: the page shows SNILS and birth dates of the records."""
    audit_record(
        event=AuditEntry.Event.DATA_VIEWED,
        actor=request.user,
        request=request,
        object_type=object_type,
        object_id=str(object_id),
        details={"via": "admin", "query": request.GET.urlencode()[:200]},
    )


def _describe(worker) -> str:
    if worker is None:
        return "— (объединена)"
    return (
        f"{worker.registry_number_display} · {worker.full_name} · {worker.birth_date:%d.%m.%Y} · "
        f"СНИЛС {worker.snils_display}"
    )


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label="Обоснование",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Обязательно, если объединение требует подтверждения: почему это один человек.",
    )


@admin.register(models.DuplicateCandidate)
class DuplicateCandidateAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("score", "first", "second", "summary", "status", "detected_at", "compare_link")
    list_filter = ("status", "reason")
    list_select_related = ("worker_a", "worker_b")
    # The most probable first: the index duplicate_open_score_idx serves the open ones in this order.
    ordering = ("-probability", "id")
    actions = ["dismiss"]
    show_full_result_count = False
    change_list_template = "admin/registry/duplicatecandidate/change_list.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/compare/", wrap(self.compare_view), name="registry_duplicatecandidate_compare"),
            path("<int:pk>/decide/", wrap(require_POST(self.decide_view)), name="registry_duplicatecandidate_decide"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {
            "pending_requests": models.MergeRequest.objects.filter(status=models.MergeRequest.Status.PENDING).count(),
            "last_scan": models.DuplicateScanRun.objects.order_by("-created_at").first(),
        }
        response = super().changelist_view(request, {**(extra_context or {}), **extra})
        if request.method == "GET" and response.status_code == 200:
            _journal_read(request, "duplicate_review")
        return response

    @admin.display(description="Вероятность", ordering="probability")
    def score(self, obj):
        return f"{obj.probability:.0%}"

    @admin.display(description="Запись 1")
    def first(self, obj):
        return _describe(obj.worker_a)

    @admin.display(description="Запись 2")
    def second(self, obj):
        return _describe(obj.worker_b)

    @admin.display(description="Сравнение")
    def summary(self, obj):
        agree = [row["field"] for row in obj.explanation if row.get("agrees") is True]
        differ = [row["field"] for row in obj.explanation if row.get("agrees") is False]
        parts = []
        if agree:
            parts.append("совпадают: " + ", ".join(agree).lower())
        if differ:
            parts.append("различаются: " + ", ".join(differ).lower())
        return "; ".join(parts) or "—"

    @admin.display(description="")
    def compare_link(self, obj):
        url = reverse("admin:registry_duplicatecandidate_compare", args=[obj.pk])
        return format_html('<a href="{}">Сравнить и решить</a>', url)

    def compare_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        candidate = get_object_or_404(models.DuplicateCandidate.objects.select_related("worker_a", "worker_b"), pk=pk)
        a, b = candidate.worker_a, candidate.worker_b
        findings = duplicates.merge_findings(a, b) if a is not None and b is not None else []
        context = {
            **self.admin_site.each_context(request),
            "title": "Сравнение записей",
            "opts": self.model._meta,
            "candidate": candidate,
            "rows": _side_by_side(a, b),
            "findings": findings,
            "needs_approval": any(f["blocking"] for f in findings),
            "form": DecisionForm(),
            "can_merge": request.user.has_perm(MERGE_PERMISSION),
            "pending": models.MergeRequest.objects.filter(
                Q(survivor=a, merged=b) | Q(survivor=b, merged=a), status=models.MergeRequest.Status.PENDING
            ).first(),
        }
        _journal_read(request, "duplicate_candidate", pk)
        return render(request, "admin/registry/duplicatecandidate/compare.html", context)

    def decide_view(self, request, pk: int):
        if not request.user.has_perm(MERGE_PERMISSION):
            raise PermissionDenied
        candidate = get_object_or_404(models.DuplicateCandidate, pk=pk)
        form = DecisionForm(request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        decision = request.POST.get("decision")
        back = reverse("admin:registry_duplicatecandidate_compare", args=[pk])
        try:
            if decision == "dismiss":
                duplicates.duplicate_dismiss(candidate_id=pk, actor=request.user, request=request)
                messages.success(request, "Отмечено: не дубликат. Эта пара больше не будет предложена.")
                return redirect("admin:registry_duplicatecandidate_changelist")
            survivor, merged = _survivor_and_merged(candidate, decision)
            if request.POST.get("request_approval"):
                duplicates.merge_request_create(
                    survivor_id=survivor, merged_id=merged, reason=reason, requested_by=request.user, request=request
                )
                messages.success(request, "Запрос на объединение отправлен: его должен подтвердить другой сотрудник.")
                return HttpResponseRedirect(back)
            duplicates.worker_merge(survivor_id=survivor, merged_id=merged, actor=request.user, request=request)
        except duplicates.MergeError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(back)
        messages.success(request, "Записи объединены.")
        return redirect("admin:registry_duplicatecandidate_changelist")

    @admin.action(description="Не дубликат")
    def dismiss(self, request, queryset):
        if not request.user.has_perm(MERGE_PERMISSION):
            raise PermissionDenied
        for candidate in queryset:
            duplicates.duplicate_dismiss(candidate_id=candidate.pk, actor=request.user, request=request)
        messages.success(request, "Отмечено: не дубликаты.")


def _survivor_and_merged(candidate, decision: str | None) -> tuple[int, int]:
    if candidate.status != models.DuplicateCandidate.Status.OPEN:
        raise duplicates.MergeError("По этой паре уже принято решение.")
    if decision == "keep_first":
        return candidate.worker_a_id, candidate.worker_b_id
    if decision == "keep_second":
        return candidate.worker_b_id, candidate.worker_a_id
    raise duplicates.MergeError("Выберите, какую запись оставить.")


SIDE_BY_SIDE = (
    ("Регистровый номер", lambda w: w.registry_number_display),
    ("ФИО", lambda w: w.full_name),
    ("Пол", lambda w: w.get_sex_display()),
    ("Дата рождения", lambda w: f"{w.birth_date:%d.%m.%Y}" if w.birth_date else "—"),
    ("СНИЛС", lambda w: w.snils_display),
    ("ИНН", lambda w: w.inn or "—"),
    ("Телефон", lambda w: w.phone or "—"),
    ("E-mail", lambda w: w.email or "—"),
    ("Регион", lambda w: str(w.region) if w.region_id else "—"),
    ("Специальность", lambda w: str(w.primary_specialty) if w.primary_specialty_id else "—"),
    ("Личность", lambda w: w.get_identity_status_display()),
    ("Учётная запись", lambda w: "есть" if w.user_id else "нет"),
    (
        "Документы о допуске",
        lambda w: ", ".join(w.admission_documents.values_list("number", flat=True)) or "—",
    ),
    (
        "Дипломы",
        lambda w: (
            ", ".join(f"{s} {n}".strip() for s, n in w.educations.values_list("diploma_series", "diploma_number"))
            or "—"
        ),
    ),
    (
        "Места работы",
        lambda w: ", ".join(w.employments.values_list("organization__short_name", flat=True).distinct()) or "—",
    ),
)


def _side_by_side(a, b) -> list[tuple[str, str, str]]:
    return [(label, get(a) if a else "—", get(b) if b else "—") for label, get in SIDE_BY_SIDE]


@admin.register(models.MergeRequest)
class MergeRequestAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("requested_at", "survivor_number", "merged_number", "requested_by", "status", "decided_by")
    list_filter = ("status",)
    list_select_related = ("requested_by", "decided_by")
    readonly_fields = (
        "survivor",
        "merged",
        "survivor_number",
        "merged_number",
        "findings_text",
        "reason",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_note",
        "merge",
    )
    exclude = ("findings",)
    change_form_template = "admin/registry/mergerequest/change_form.html"

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Расхождения")
    def findings_text(self, obj):
        return "; ".join(f["text"] for f in obj.findings) or "—"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/decide/", wrap(require_POST(self.decide_view)), name="registry_mergerequest_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_decide": request.user.has_perm(MERGE_PERMISSION)}
        response = super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})
        if request.method == "GET" and response.status_code == 200:
            _journal_read(request, "merge_request", object_id)
        return response

    def decide_view(self, request, pk: int):
        if not request.user.has_perm(MERGE_PERMISSION):
            raise PermissionDenied
        merge_request = get_object_or_404(models.MergeRequest, pk=pk)
        note = request.POST.get("note", "")[:2000]
        try:
            if request.POST.get("decision") == "approve":
                duplicates.merge_request_approve(
                    merge_request_id=merge_request.pk, approver=request.user, note=note, request=request
                )
                messages.success(request, "Объединение подтверждено и выполнено.")
            elif request.POST.get("decision") == "decline":
                duplicates.merge_request_decline(
                    merge_request_id=merge_request.pk, actor=request.user, note=note, request=request
                )
                messages.success(request, "Запрос отклонён.")
            else:
                raise Http404
        except duplicates.MergeError as exc:
            messages.error(request, str(exc))
        return redirect("admin:registry_mergerequest_change", merge_request.pk)


@admin.register(models.WorkerMerge)
class WorkerMergeAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("merged_at", "merged_registry_number", "survivor", "merged_by", "approved_by", "unmerged_at")
    list_select_related = ("survivor", "merged_by", "approved_by")
    readonly_fields = (
        "survivor",
        "merged_registry_number",
        "merged_snapshot",
        "moved",
        "findings",
        "merged_at",
        "merged_by",
        "approved_by",
        "approval_reason",
        "unmerged_at",
        "unmerged_by",
        "unmerge_reason",
    )
    change_form_template = "admin/registry/workermerge/change_form.html"

    def has_delete_permission(self, request, obj=None):
        return False  # the trail of a merge is kept

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/unmerge/", wrap(require_POST(self.unmerge_view)), name="registry_workermerge_unmerge"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_unmerge": request.user.has_perm(MERGE_PERMISSION)}
        response = super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})
        if request.method == "GET" and response.status_code == 200:
            _journal_read(request, "worker_merge", object_id)
        return response

    def unmerge_view(self, request, pk: int):
        if not request.user.has_perm(MERGE_PERMISSION):
            raise PermissionDenied
        record = get_object_or_404(models.WorkerMerge, pk=pk)
        try:
            restored = duplicates.worker_unmerge(
                merge_id=record.pk, actor=request.user, reason=request.POST.get("reason", "")[:2000], request=request
            )
        except duplicates.MergeError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Объединение отменено: запись {restored.registry_number_display} восстановлена.")
        return redirect("admin:registry_workermerge_change", record.pk)


@admin.register(models.DuplicateScanRun)
class DuplicateScanRunAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "status", "progress", "workers", "pairs", "candidates_new", "skipped_text")
    readonly_fields = (
        "status",
        "stage",
        "progress",
        "created_at",
        "started_at",
        "finished_at",
        "workers",
        "keys_refreshed",
        "pairs",
        "candidates_new",
        "skipped_text",
        "stats",
        "error",
        "requested_by",
    )
    exclude = ("skipped",)
    change_list_template = "admin/registry/duplicatescanrun/change_list.html"

    @admin.display(description="Пропущено (блоки больше предела)")
    def skipped_text(self, obj):
        if not obj.skipped:
            return "ничего"
        return "; ".join(f"{rule}: блоков {v['blocks']}, пар {v['pairs']}" for rule, v in obj.skipped.items())

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("start/", wrap(require_POST(self.start_view)), name="registry_duplicatescanrun_start"),
            path("<int:pk>/status/", wrap(self.status_view), name="registry_duplicatescanrun_status"),
            *super().get_urls(),
        ]

    def start_view(self, request):
        if not request.user.has_perm(MERGE_PERMISSION):
            raise PermissionDenied
        run = scan.duplicate_scan_start(requested_by=request.user)
        return redirect("admin:registry_duplicatescanrun_status", run.pk)

    def status_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(models.DuplicateScanRun, pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Поиск дубликатов",
            "run": run,
            "opts": self.model._meta,
            "threshold": matching.THRESHOLD,
            "block_cap": scan.BLOCK_CAP,
        }
        template = "_status.html" if request.headers.get("HX-Request") else "status.html"
        return render(request, f"admin/registry/duplicatescanrun/{template}", context)
