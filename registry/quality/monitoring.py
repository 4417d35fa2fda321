"""Workforce monitoring: a daily snapshot of staffing by region, specialty and position."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone
from openpyxl import Workbook

from ..exports.services import neutralize
from ..models import (
    AdmissionDocument,
    AdmissionStatus,
    Employment,
    MedicalWorker,
    Position,
    Region,
    Specialty,
    WorkforceSnapshot,
)
from ..selectors import current_employment_condition

logger = logging.getLogger(__name__)


def workforce_snapshot_take(*, today: dt.date | None = None) -> WorkforceSnapshot:
    """Aggregate the workforce once (GROUP BY on indexed columns) and store it for the dashboard."""
    today = today or timezone.localdate()
    names = {
        "region": dict(Region.objects.values_list("id", "name")),
        "specialty": dict(Specialty.objects.values_list("id", "name")),
        "position": dict(Position.objects.values_list("id", "name")),
    }

    def grouped(qs, column, labels):
        result = {}
        for key, count in qs.values_list(column).annotate(n=Count("id")).order_by():
            label = labels.get(key, "Не указано") if labels is not None else key
            result[label] = result.get(label, 0) + count
        return dict(sorted(result.items(), key=lambda item: -item[1]))

    workers = MedicalWorker.objects.all()
    statuses = dict(AdmissionStatus.choices)
    by_status = {statuses.get(k, k): v for k, v in grouped(workers, "admission_status", None).items()}
    current = Employment.objects.filter(current_employment_condition(today=today))
    horizon = today + dt.timedelta(days=settings.ADMISSION_EXPIRING_DAYS)
    expiring = AdmissionDocument.objects.filter(
        status=AdmissionDocument.Status.VALID, valid_until__gte=today, valid_until__lte=horizon
    )
    by_month: dict[str, int] = {}
    for month, count in (
        AdmissionDocument.objects.filter(
            status=AdmissionDocument.Status.VALID,
            valid_until__gte=today,
            valid_until__lte=today + dt.timedelta(days=365),
        )
        .annotate(month=TruncMonth("valid_until"))
        .values_list("month")
        .annotate(n=Count("id"))
        .order_by("month")
    ):
        by_month[month.strftime("%Y-%m") if month else "—"] = count
    snapshot, _ = WorkforceSnapshot.objects.update_or_create(
        taken_on=today,
        defaults={
            "taken_at": timezone.now(),
            "total_workers": workers.count(),
            "by_region": grouped(workers, "region_id", names["region"]),
            "by_specialty": grouped(workers, "primary_specialty_id", names["specialty"]),
            "by_position": grouped(current, "position_id", names["position"]),
            "by_status": by_status,
            "expiring_90": expiring.count(),
            "expiring_by_month": by_month,
        },
    )
    return snapshot


def workforce_xlsx(snapshot: WorkforceSnapshot, history: list[WorkforceSnapshot], target) -> None:
    wb = Workbook(write_only=True)
    for title, data in (
        ("По регионам", snapshot.by_region),
        ("По специальностям", snapshot.by_specialty),
        ("По должностям", snapshot.by_position),
        ("По статусу допуска", snapshot.by_status),
        ("Истекает по месяцам", snapshot.expiring_by_month),
    ):
        ws = wb.create_sheet(title)
        ws.append([title.removeprefix("По ").capitalize(), "Количество"])
        for label, count in data.items():
            ws.append([neutralize(label), count])
    ws = wb.create_sheet("Динамика")
    ws.append(["Дата", "Работников", "Истекает за 90 дней"])
    for row in history:
        ws.append([row.taken_on.strftime("%d.%m.%Y"), row.total_workers, row.expiring_90])
    wb.save(target)
