"""Admin for discrepancy alerts."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from core.admin_mixins import ViewOnlyMixin

from ... import models

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HISTORY_POINTS = 60


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
