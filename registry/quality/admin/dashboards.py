"""The data-quality audit and workforce monitoring dashboards."""

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

from ... import models, tasks
from .. import audits, monitoring

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HISTORY_POINTS = 60


def _xlsx_response(write, name: str):
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    write(handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=name, content_type=XLSX)


def _chart(labels, datasets) -> dict:
    return {"labels": list(labels), "datasets": [{"label": label, "data": list(data)} for label, data in datasets]}


def _dq_charts(run, trend) -> dict:
    """The data-quality dashboard's charts; all plot counts ("integer": whole-number ticks)."""
    history = list(models.DQAuditRun.objects.order_by("-created_at")[:HISTORY_POINTS])[::-1]
    regions = sorted(run.by_region.items(), key=lambda item: -sum(item[1].values()))[:20]
    return {
        "dq-by-kind": {
            "type": "bar",
            "integer": True,
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
            "integer": True,
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
            "integer": True,
            "data": _chart(
                [timezone.localtime(r.created_at).strftime("%d.%m.%Y") for r in history],
                [("Всего проблем", [r.total_problems for r in history])],
            ),
        },
    }


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
            context.update(trend=trend.values(), charts=_dq_charts(run, trend))
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
                charts[key] = {
                    "type": "bar",
                    "horizontal": True,
                    "integer": True,
                    "data": _chart(labels, [(title, values)]),
                }
            charts["wf-status"] = {
                "type": "doughnut",
                "data": _chart(snapshot.by_status.keys(), [("Статус допуска", snapshot.by_status.values())]),
            }
            charts["wf-expiring"] = {
                "type": "bar",
                "integer": True,
                "data": _chart(
                    snapshot.expiring_by_month.keys(), [("Истекает документов", snapshot.expiring_by_month.values())]
                ),
            }
            charts["wf-history"] = {
                "type": "line",
                "integer": True,
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
