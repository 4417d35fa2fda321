"""The data-quality audit: problems by kind and region, a weighted score, the worst records; the
admin dashboard reads the stored run (DQAuditRun), never scans."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Value, When
from django.utils import timezone
from openpyxl import Workbook

from ..exports.services import neutralize
from ..models import (
    AdmissionDocument,
    AdmissionStatus,
    DQAuditRun,
    DuplicateCandidate,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    OrganizationLicense,
    Region,
)
from ..selectors import current_employment_condition, shared_document_numbers, stale_status_condition

logger = logging.getLogger(__name__)

WORST_RECORDS = 20

PROBLEM_KINDS = {
    "duplicate": "Возможный дубликат",
    "shared_document": "Номер документа у нескольких работников",
    "closed_organization": "Работает в ликвидированной организации",
    "status_stale": "Статус допуска устарел",
    "no_document": "Нет документа о допуске",
    "no_workplace": "Нет текущего места работы",
    "no_inn": "Не указан ИНН",
    "license_expired_active": "Истёкшая лицензия отмечена действующей",
}
WEIGHTS = {
    "duplicate": 5,
    "shared_document": 5,
    "closed_organization": 4,
    "status_stale": 3,
    "no_document": 2,
    "no_workplace": 1,
    "no_inn": 1,
}


def _worker_conditions(today) -> dict[str, Q]:
    duplicate = DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN).filter(
        Q(worker_a_id=OuterRef("pk")) | Q(worker_b_id=OuterRef("pk"))
    )
    closed = Employment.objects.filter(
        current_employment_condition(today=today),
        worker_id=OuterRef("pk"),
        organization__status=MedicalOrganization.Status.CLOSED,
    ).filter(Q(ended_on__isnull=True) | Q(ended_on__gt=F("organization__closed_on")))
    shared = AdmissionDocument.objects.filter(worker_id=OuterRef("pk"), number__in=shared_document_numbers())
    return {
        "duplicate": Q(Exists(duplicate)),
        "shared_document": Q(Exists(shared)),
        "closed_organization": Q(Exists(closed)),
        "status_stale": stale_status_condition(today=today),
        "no_document": Q(admission_status=AdmissionStatus.NONE),
        "no_workplace": Q(region__isnull=True),
        "no_inn": Q(inn__isnull=True),
    }


def dq_audit_run(*, today: dt.date | None = None) -> DQAuditRun:
    """Count problems by kind and region, find the worst records, store the run."""
    today = today or timezone.localdate()
    started = time.monotonic()
    regions = dict(Region.objects.values_list("id", "name"))
    conditions = _worker_conditions(today)
    by_kind, by_region = _problem_counts(conditions=conditions, regions=regions, today=today)
    return DQAuditRun.objects.create(
        total_workers=MedicalWorker.objects.count(),
        total_problems=sum(by_kind.values()),
        by_kind=by_kind,
        by_region=dict(sorted(by_region.items())),
        worst=_worst_records(conditions=conditions),
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def _problem_counts(*, conditions: dict[str, Q], regions: dict[int, str], today: dt.date):
    """Problems per kind, and per region and kind (GROUP BY region, one query per kind)."""
    by_kind: dict[str, int] = {}
    by_region: dict[str, dict[str, int]] = defaultdict(dict)

    def add(kind: str, region_id: int | None, n: int) -> None:
        label = regions.get(region_id, "Регион не определён")
        by_region[label][kind] = by_region[label].get(kind, 0) + n
        by_kind[kind] = by_kind.get(kind, 0) + n

    for kind, condition in conditions.items():
        by_kind[kind] = 0
        for row in MedicalWorker.objects.filter(condition).values("region_id").annotate(n=Count("id")).order_by():
            add(kind, row["region_id"], row["n"])
    by_kind["license_expired_active"] = 0
    licenses = (
        OrganizationLicense.objects.filter(status=OrganizationLicense.Status.ACTIVE, valid_until__lt=today)
        .values("organization__region_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in licenses:
        add("license_expired_active", row["organization__region_id"], row["n"])
    return by_kind, by_region


def _worst_records(*, conditions: dict[str, Q]) -> list[dict]:
    """The WORST_RECORDS workers with the highest weighted score of problems."""
    score = sum(
        (
            Case(When(condition, then=Value(WEIGHTS[kind])), default=Value(0), output_field=IntegerField())
            for kind, condition in conditions.items()
        ),
        Value(0),
    )
    flags = {
        f"flag_{kind}": Case(When(c, then=Value(1)), default=Value(0), output_field=IntegerField())
        for kind, c in conditions.items()
    }
    rows = (
        MedicalWorker.objects.annotate(score=score, **flags)
        .filter(score__gt=0)
        .order_by("-score", "id")
        .values("id", "registry_number", "last_name", "first_name", "middle_name", "region__name", "score", *flags)[
            :WORST_RECORDS
        ]
    )
    return [
        {
            "id": row["id"],
            "registry_number": row["registry_number"],
            "name": " ".join(p for p in (row["last_name"], row["first_name"], row["middle_name"]) if p),
            "region": row["region__name"] or "",
            "score": row["score"],
            "problems": [PROBLEM_KINDS[k] for k in conditions if row[f"flag_{k}"]],
        }
        for row in rows
    ]


def dq_trend(run: DQAuditRun) -> dict[str, dict[str, int | None]]:
    """Each kind's count now, in the run before, and the change."""
    previous = DQAuditRun.objects.filter(created_at__lt=run.created_at).order_by("-created_at").first()
    trend = {}
    for kind, label in PROBLEM_KINDS.items():
        now = run.by_kind.get(kind, 0)
        before = previous.by_kind.get(kind, 0) if previous else None
        trend[kind] = {"label": label, "now": now, "before": before, "delta": None if before is None else now - before}
    return trend


def dq_audit_xlsx(run: DQAuditRun, target) -> None:
    trend = dq_trend(run)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("По видам")
    ws.append(["Вид проблемы", "Сейчас", "В прошлый раз", "Изменение"])
    for row in trend.values():
        ws.append([row["label"], row["now"], row["before"], row["delta"]])
    ws = wb.create_sheet("По регионам")
    ws.append(["Регион", *PROBLEM_KINDS.values()])
    for region, counts in run.by_region.items():
        ws.append([neutralize(region), *[counts.get(kind, 0) for kind in PROBLEM_KINDS]])
    ws = wb.create_sheet("Худшие записи")
    ws.append(["Регистровый номер", "ФИО", "Регион", "Баллы", "Проблемы"])
    for row in run.worst:
        ws.append(
            [
                row["registry_number"],
                neutralize(row["name"]),
                neutralize(row["region"]),
                row["score"],
                "; ".join(row["problems"]),
            ]
        )
    wb.save(target)
