"""Admin for data quality: duplicate review and merge, discrepancy alerts, the audit and workforce dashboards."""

from __future__ import annotations

import tempfile

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.admin_mixins import ViewOnlyMixin
from core.audit import audit_record
from core.models import AuditEntry

from .. import models, tasks
from . import audits, duplicates, monitoring

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HISTORY_POINTS = 60


def _xlsx_response(write, name: str):
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    write(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=name, content_type=XLSX)


def _chart(labels, datasets) -> dict:
    return {"labels": list(labels), "datasets": [{"label": label, "data": list(data)} for label, data in datasets]}


@admin.register(models.DuplicateCandidate)
class DuplicateCandidateAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("detected_at", "reason", "status", "first", "second")
    list_filter = ("status", "reason")
    list_select_related = ("worker_a", "worker_b")
    actions = ["merge_into_first", "merge_into_second", "dismiss"]
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and response.status_code == 200:
            # 152-ФЗ access journal: the review list shows SNILS and birth dates.
            audit_record(
                event=AuditEntry.Event.DATA_VIEWED,
                actor=request.user,
                request=request,
                object_type="duplicate_review",
                details={"via": "admin", "query": request.GET.urlencode()[:200]},
            )
        return response

    @staticmethod
    def _describe(worker) -> str:
        if worker is None:
            return "— (объединена)"
        return (
            f"{worker.registry_number_display} · {worker.full_name} · {worker.birth_date:%d.%m.%Y} · "
            f"СНИЛС {worker.snils_display}"
        )

    @admin.display(description="Запись 1")
    def first(self, obj):
        return self._describe(obj.worker_a)

    @admin.display(description="Запись 2")
    def second(self, obj):
        return self._describe(obj.worker_b)

    def _merge(self, request, queryset, *, keep_first: bool):
        if not request.user.has_perm("registry.change_medicalworker"):
            raise PermissionDenied
        merged = 0
        for candidate in queryset.filter(status=models.DuplicateCandidate.Status.OPEN):
            survivor, other = (candidate.worker_a_id, candidate.worker_b_id)
            if not keep_first:
                survivor, other = other, survivor
            try:
                duplicates.worker_merge(survivor_id=survivor, merged_id=other, actor=request.user, request=request)
                merged += 1
            except duplicates.MergeError as exc:
                messages.error(request, f"Пара {candidate}: {exc}")
        if merged:
            messages.success(request, f"Объединено пар: {merged}.")

    @admin.action(description="Объединить: оставить запись 1")
    def merge_into_first(self, request, queryset):
        self._merge(request, queryset, keep_first=True)

    @admin.action(description="Объединить: оставить запись 2")
    def merge_into_second(self, request, queryset):
        self._merge(request, queryset, keep_first=False)

    @admin.action(description="Не дубликат")
    def dismiss(self, request, queryset):
        for candidate in queryset:
            duplicates.duplicate_dismiss(candidate_id=candidate.pk, actor=request.user, request=request)
        messages.success(request, "Отмечено: не дубликаты.")


@admin.register(models.WorkerMerge)
class WorkerMergeAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("merged_at", "merged_registry_number", "survivor", "merged_by")
    list_select_related = ("survivor", "merged_by")
    readonly_fields = ("survivor", "merged_registry_number", "merged_snapshot", "moved", "merged_at", "merged_by")

    def has_delete_permission(self, request, obj=None):
        return False  # the trail of a merge is kept

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            audit_record(
                event=AuditEntry.Event.DATA_VIEWED,
                actor=request.user,
                request=request,
                object_type="worker_merge",
                object_id=str(object_id),
                details={"via": "admin"},
            )
        return response


# --- Discrepancy alerts -----------------------------------------------------------------------------


@admin.register(models.DiscrepancyAlert)
class DiscrepancyAlertAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("last_seen_at", "kind", "message", "region", "first_seen_at", "notified_at", "resolved_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter), "region")
    search_fields = ("message", "=object_id")
    list_select_related = ("region",)
    show_full_result_count = False

    def changelist_view(self, request, extra_context=None):
        counts = (
            models.DiscrepancyAlert.objects.filter(resolved_at__isnull=True)
            .values("kind")
            .annotate(n=Count("id"))
            .order_by("-n")
        )
        labels = dict(models.DiscrepancyAlert.Kind.choices)
        extra = {"open_counts": [(labels.get(row["kind"], row["kind"]), row["n"]) for row in counts]}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    change_list_template = "admin/registry/discrepancyalert/change_list.html"


# --- The data-quality audit dashboard ------------------------------------------------------------------


@admin.register(models.DQAuditRun)
class DQAuditRunAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "total_workers", "total_problems", "duration_ms")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("dashboard/", wrap(self.dashboard_view), name="registry_dqauditrun_dashboard"),
            path("<int:run_id>/xlsx/", wrap(self.xlsx_view), name="registry_dqauditrun_xlsx"),
            path("run/", wrap(require_POST(self.run_view)), name="registry_dqauditrun_run"),
            *super().get_urls(),
        ]

    change_list_template = "admin/registry/dashboard_change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra = {
            "dashboard_url": reverse("admin:registry_dqauditrun_dashboard"),
            "dashboard_title": "Панель качества данных",
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = models.DQAuditRun.objects.order_by("-created_at").first()
        context = {
            **self.admin_site.each_context(request),
            "title": "Качество данных",
            "run": run,
            "opts": self.model._meta,
        }
        open_alerts = (
            models.DiscrepancyAlert.objects.filter(resolved_at__isnull=True).values("kind").annotate(n=Count("id"))
        )
        labels = dict(models.DiscrepancyAlert.Kind.choices)
        context["alerts"] = sorted(
            ((labels.get(r["kind"], r["kind"]), r["n"]) for r in open_alerts), key=lambda x: -x[1]
        )
        context["open_alerts_total"] = sum(n for _label, n in context["alerts"])
        context["open_duplicates"] = models.DuplicateCandidate.objects.filter(
            status=models.DuplicateCandidate.Status.OPEN
        ).count()
        if run is not None:
            trend = audits.dq_trend(run)
            history = list(models.DQAuditRun.objects.order_by("-created_at")[:HISTORY_POINTS])[::-1]
            regions = sorted(run.by_region.items(), key=lambda item: -sum(item[1].values()))[:20]
            context.update(
                trend=trend.values(),
                charts={
                    "dq-by-kind": {
                        "type": "bar",
                        "data": _chart(
                            [row["label"] for row in trend.values()],
                            [
                                ("Сейчас", [row["now"] for row in trend.values()]),
                                ("В прошлый раз", [row["before"] or 0 for row in trend.values()]),
                            ],
                        ),
                    },
                    "dq-by-region": {
                        "type": "bar",
                        "stacked": True,
                        "data": _chart(
                            [name for name, _counts in regions],
                            [
                                (label, [counts.get(kind, 0) for _name, counts in regions])
                                for kind, label in audits.PROBLEM_KINDS.items()
                            ],
                        ),
                    },
                    "dq-history": {
                        "type": "line",
                        "data": _chart(
                            [timezone.localtime(r.created_at).strftime("%d.%m.%Y") for r in history],
                            [("Всего проблем", [r.total_problems for r in history])],
                        ),
                    },
                },
            )
        return render(request, "admin/registry/dq_dashboard.html", context)

    def xlsx_view(self, request, run_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(models.DQAuditRun, pk=run_id)
        audit_record(event=AuditEntry.Event.EXPORT, request=request, object_type="dq_audit", object_id=str(run.pk))
        return _xlsx_response(lambda h: audits.dq_audit_xlsx(run, h), f"dq-audit-{run.created_at:%Y%m%d-%H%M}.xlsx")

    def run_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        transaction.on_commit(tasks.dq_audit.delay)
        messages.success(request, "Аудит запущен; обновите страницу через несколько минут.")
        return redirect("admin:registry_dqauditrun_dashboard")


# --- Workforce monitoring -------------------------------------------------------------------------------


@admin.register(models.WorkforceSnapshot)
class WorkforceSnapshotAdmin(ViewOnlyMixin, admin.ModelAdmin):
    list_display = ("taken_on", "total_workers", "expiring_90", "taken_at")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("dashboard/", wrap(self.dashboard_view), name="registry_workforcesnapshot_dashboard"),
            path("xlsx/", wrap(self.xlsx_view), name="registry_workforcesnapshot_xlsx"),
            path("take/", wrap(require_POST(self.take_view)), name="registry_workforcesnapshot_take"),
            *super().get_urls(),
        ]

    change_list_template = "admin/registry/dashboard_change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra = {
            "dashboard_url": reverse("admin:registry_workforcesnapshot_dashboard"),
            "dashboard_title": "Панель кадрового мониторинга",
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    @staticmethod
    def _top(data: dict, limit: int = 15):
        items = list(data.items())[:limit]
        return [label for label, _n in items], [n for _label, n in items]

    def dashboard_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        history = list(models.WorkforceSnapshot.objects.order_by("-taken_on")[:HISTORY_POINTS])[::-1]
        snapshot = history[-1] if history else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Мониторинг кадрового состава",
            "snapshot": snapshot,
            "opts": self.model._meta,
        }
        if snapshot is not None:
            previous = history[-2] if len(history) > 1 else None
            charts = {}
            for key, title, data in (
                ("wf-region", "Работники по регионам", snapshot.by_region),
                ("wf-specialty", "Работники по специальностям", snapshot.by_specialty),
                ("wf-position", "Места работы по должностям", snapshot.by_position),
            ):
                labels, values = self._top(data)
                charts[key] = {"type": "bar", "horizontal": True, "data": _chart(labels, [(title, values)])}
            charts["wf-status"] = {
                "type": "doughnut",
                "data": _chart(snapshot.by_status.keys(), [("Статус допуска", snapshot.by_status.values())]),
            }
            charts["wf-expiring"] = {
                "type": "bar",
                "data": _chart(
                    snapshot.expiring_by_month.keys(), [("Истекает документов", snapshot.expiring_by_month.values())]
                ),
            }
            charts["wf-history"] = {
                "type": "line",
                "data": _chart(
                    [s.taken_on.strftime("%d.%m.%Y") for s in history],
                    [
                        ("Работников", [s.total_workers for s in history]),
                        ("Истекает за 90 дней", [s.expiring_90 for s in history]),
                    ],
                ),
            }
            context.update(
                charts=charts,
                change=None if previous is None else snapshot.total_workers - previous.total_workers,
                previous=previous,
                tables=[
                    ("По регионам", list(snapshot.by_region.items())),
                    ("По специальностям", list(snapshot.by_specialty.items())[:30]),
                    ("По должностям", list(snapshot.by_position.items())[:30]),
                    ("По статусу допуска", list(snapshot.by_status.items())),
                ],
            )
        return render(request, "admin/registry/workforce_dashboard.html", context)

    def xlsx_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        history = list(models.WorkforceSnapshot.objects.order_by("taken_on"))
        if not history:
            raise Http404
        audit_record(
            event=AuditEntry.Event.EXPORT, request=request, object_type="workforce", object_id=str(history[-1].pk)
        )
        return _xlsx_response(
            lambda h: monitoring.workforce_xlsx(history[-1], history, h),
            f"workforce-{history[-1].taken_on:%Y%m%d}.xlsx",
        )

    def take_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        transaction.on_commit(tasks.workforce_snapshot.delay)
        messages.success(request, "Срез запущен; обновите страницу через несколько минут.")
        return redirect("admin:registry_workforcesnapshot_dashboard")
