"""Data quality: discrepancy alerts, duplicate detection and merge, the audit, workforce snapshots.

Everything here is set-based (GROUP BY, EXISTS) so it runs on three million workers as a periodic
job; the admin dashboards read the stored results (DQAuditRun, WorkforceSnapshot), never scan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections import Counter, defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Value
from django.forms.models import model_to_dict
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.services import audit_record

from .models import (
    AdmissionDocument,
    AdmissionStatus,
    DiscrepancyAlert,
    DQAuditRun,
    DuplicateCandidate,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    OrganizationLicense,
    Position,
    Region,
    Specialty,
    WorkerMerge,
    WorkerTombstone,
    WorkforceSnapshot,
)

logger = logging.getLogger(__name__)

ALERTS_PER_KIND = 5000  # a check raises at most this many alerts of one kind per run
WORST_RECORDS = 20
DIGEST_LINES = 50


class MergeError(Exception):
    """The two records cannot be merged; the message says why (shown to staff)."""


# --- Alerts -------------------------------------------------------------------------------------


def alert_fingerprint(kind: str, key: str) -> str:
    return hashlib.sha256(f"{kind}|{key}".encode()).hexdigest()


def alert_raise(
    *, kind: str, key: str, message: str, object_type: str = "", object_id: str = "", region_id: int | None = None
) -> None:
    """Record a discrepancy once: the same (kind, key) found again only moves ``last_seen_at``
    (and reopens it if it had been resolved); it is never e-mailed twice."""
    now = timezone.now()
    DiscrepancyAlert.objects.bulk_create(
        [
            DiscrepancyAlert(
                kind=kind,
                fingerprint=alert_fingerprint(kind, key),
                message=message[:1000],
                object_type=object_type,
                object_id=str(object_id)[:64],
                region_id=region_id,
                first_seen_at=now,
                last_seen_at=now,
            )
        ],
        update_conflicts=True,
        unique_fields=["fingerprint"],
        update_fields=["last_seen_at", "message"],
    )
    DiscrepancyAlert.objects.filter(fingerprint=alert_fingerprint(kind, key), resolved_at__isnull=False).update(
        resolved_at=None
    )


def alerts_resolve_unseen(*, kind: str, since: dt.datetime) -> int:
    """Alerts of ``kind`` that the last full check did not find again are resolved."""
    return DiscrepancyAlert.objects.filter(kind=kind, resolved_at__isnull=True, last_seen_at__lt=since).update(
        resolved_at=timezone.now()
    )


def alerts_digest_send() -> int:
    """E-mail staff the alerts not yet reported; each alert is in exactly one digest."""
    recipients = list(getattr(settings, "DQ_ALERT_EMAILS", []) or [])
    if not recipients:
        from accounts.models import User

        recipients = list(
            User.objects.filter(is_staff=True, is_active=True).exclude(email="").values_list("email", flat=True)
        )
    with transaction.atomic():
        pending = list(
            DiscrepancyAlert.objects.select_for_update(skip_locked=True)
            .filter(notified_at__isnull=True, resolved_at__isnull=True)
            .order_by("kind", "first_seen_at")
        )
        if not pending:
            return 0
        DiscrepancyAlert.objects.filter(id__in=[a.id for a in pending]).update(notified_at=timezone.now())
        if recipients:
            counts = Counter(a.get_kind_display() for a in pending)
            lines = [f"Новых расхождений в регистре: {len(pending)}.", ""]
            lines += [f"  {label}: {count}" for label, count in counts.most_common()]
            lines += ["", "Первые из них:"] + [f"  — {a.message}" for a in pending[:DIGEST_LINES]]
            lines += ["", "Все расхождения: раздел «Расхождения» в панели администратора."]
            body = "\n".join(lines)
            transaction.on_commit(
                lambda: send_mail(
                    f"Медрег: новые расхождения в данных ({len(pending)})",
                    body,
                    settings.DEFAULT_FROM_EMAIL,
                    recipients,
                )
            )
    return len(pending)


# --- Checks that raise alerts ----------------------------------------------------------------------


def _current_employment(today):
    return Q(ended_on__isnull=True) | Q(ended_on__gte=today)


def shared_document_numbers():
    """Admission document numbers held by more than one worker (kinds differ; (kind, number) is unique)."""
    return (
        AdmissionDocument.objects.values("number")
        .annotate(workers=Count("worker_id", distinct=True))
        .filter(workers__gt=1)
        .values("number")
    )


def discrepancy_checks_run(*, today: dt.date | None = None) -> dict[str, int]:
    """Find conflicts in the whole register and raise (deduplicated) alerts; resolve those gone."""
    today = today or timezone.localdate()
    started = timezone.now()
    found: dict[str, int] = {}

    def raise_all(kind, rows, make):
        count = 0
        for row in rows[:ALERTS_PER_KIND]:
            alert_raise(kind=kind, **make(row))
            count += 1
        found[kind] = count
        if count < ALERTS_PER_KIND:  # a capped run did not see everything: resolve nothing
            alerts_resolve_unseen(kind=kind, since=started)

    docs = list(
        AdmissionDocument.objects.filter(number__in=shared_document_numbers())
        .values_list("number", "worker__region_id")
        .order_by("number")
    )
    seen_numbers: dict[str, int | None] = {}
    for number, region in docs:
        seen_numbers.setdefault(number, region)
    raise_all(
        DiscrepancyAlert.Kind.DOCUMENT_SHARED,
        list(seen_numbers.items()),
        lambda r: {
            "key": r[0],
            "message": f"Документ о допуске № {r[0]} указан у нескольких работников",
            "object_type": "admission_document",
            "object_id": r[0],
            "region_id": r[1],
        },
    )
    closed = list(
        Employment.objects.filter(_current_employment(today), organization__status=MedicalOrganization.Status.CLOSED)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=F("organization__closed_on")))
        .values_list(
            "worker_id",
            "worker__registry_number",
            "organization__ogrn",
            "organization__short_name",
            "organization__region_id",
        )[:ALERTS_PER_KIND]
    )
    raise_all(
        DiscrepancyAlert.Kind.CLOSED_ORGANIZATION,
        closed,
        lambda r: {
            "key": f"{r[0]}:{r[2]}",
            "message": f"Работник {r[1]} числится работающим в ликвидированной организации {r[3]}",
            "object_type": "worker",
            "object_id": str(r[0]),
            "region_id": r[4],
        },
    )
    licenses = list(
        OrganizationLicense.objects.filter(status=OrganizationLicense.Status.ACTIVE, valid_until__lt=today).values_list(
            "number", "organization__short_name", "organization__region_id"
        )[:ALERTS_PER_KIND]
    )
    raise_all(
        DiscrepancyAlert.Kind.LICENSE_EXPIRED_ACTIVE,
        licenses,
        lambda r: {
            "key": r[0],
            "message": f"Лицензия {r[0]} ({r[1]}) истекла, но отмечена действующей",
            "object_type": "license",
            "object_id": r[0],
            "region_id": r[2],
        },
    )
    stale = list(
        MedicalWorker.objects.filter(_stale_status(today)).values_list("id", "registry_number", "region_id")[
            :ALERTS_PER_KIND
        ]
    )
    raise_all(
        DiscrepancyAlert.Kind.EXPIRED_ACTIVE,
        stale,
        lambda r: {
            "key": f"worker:{r[0]}",
            "message": f"У работника {r[1]} документ о допуске истёк, а допуск отмечен действующим",
            "object_type": "worker",
            "object_id": str(r[0]),
            "region_id": r[2],
        },
    )
    return found


def _stale_status(today):
    return Q(admission_status__in=[AdmissionStatus.ACTIVE, AdmissionStatus.EXPIRING], admission_valid_until__lt=today)


# --- Duplicates -----------------------------------------------------------------------------------


def probable_duplicates_of(
    *, last_name: str, first_name: str, middle_name: str = "", birth_date=None, exclude_id=None
) -> list[MedicalWorker]:
    """Workers who are probably this person (same normalized full name and birth date)."""
    from . import validators

    search_name = validators.normalize_person_name(" ".join(p for p in (last_name, first_name, middle_name) if p))
    qs = MedicalWorker.objects.filter(search_name=search_name, birth_date=birth_date)
    if exclude_id:
        qs = qs.exclude(id=exclude_id)
    return list(qs.order_by("id")[:10])


def duplicates_detect() -> int:
    """Store every probable duplicate pair not yet known; returns how many were added.

    Two set-based passes: same normalized full name and birth date (GROUP BY), and same name with
    the same admission document or diploma number (self-join on the number).
    """
    pairs: dict[tuple[int, int], str] = {}
    groups = (
        MedicalWorker.objects.values("search_name", "birth_date")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("search_name", "birth_date")
    )
    keys = list(groups[:100_000])
    by_group = defaultdict(list)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        condition = Q()
        for name, birth in chunk:
            condition |= Q(search_name=name, birth_date=birth)
        for pk, name, birth in MedicalWorker.objects.filter(condition).values_list("id", "search_name", "birth_date"):
            by_group[(name, birth)].append(pk)
    for ids in by_group.values():
        ids.sort()
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                pairs[(a, b)] = DuplicateCandidate.Reason.NAME_BIRTH

    from .models import Education

    for source, field in ((AdmissionDocument, "number"), (Education, "diploma_number")):
        other = source.objects.filter(
            **{field: OuterRef(field)}, worker__search_name=OuterRef("worker__search_name")
        ).exclude(worker_id=OuterRef("worker_id"))
        rows = (
            source.objects.annotate(has_twin=Exists(other))
            .filter(has_twin=True)
            .values_list(field, "worker_id", "worker__search_name")[:100_000]
        )
        twins = defaultdict(set)
        for number, worker_id, name in rows:
            twins[(number, name)].add(worker_id)
        for ids in twins.values():
            ordered = sorted(ids)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    pairs.setdefault((a, b), DuplicateCandidate.Reason.NAME_DOCUMENT)
    before = DuplicateCandidate.objects.count()
    # A pair already known (open, merged or dismissed) is not offered again.
    DuplicateCandidate.objects.bulk_create(
        [DuplicateCandidate(worker_a_id=a, worker_b_id=b, reason=reason) for (a, b), reason in pairs.items()],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return DuplicateCandidate.objects.count() - before


def _snapshot(obj) -> dict:
    data = model_to_dict(obj)
    return {
        key: (value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value)
        for key, value in data.items()
        if not isinstance(value, (list, set))
    }


def worker_merge(*, survivor_id: int, merged_id: int, actor=None, request=None) -> WorkerMerge:
    """Merge ``merged`` into ``survivor``: every related record (employments, documents, education,
    categories, НМО, tickets, watchers, and anything else pointing at the worker) moves to the
    survivor; empty fields of the survivor are filled; the merged record is deleted after a full
    snapshot is kept in WorkerMerge and the audit journal. Raises MergeError."""
    from .services import worker_refresh_derived, worker_tombstone_record

    if survivor_id == merged_id:
        raise MergeError("Нельзя объединить запись саму с собой.")
    with transaction.atomic():
        workers = {w.id: w for w in MedicalWorker.objects.select_for_update().filter(id__in=[survivor_id, merged_id])}
        if len(workers) != 2:
            raise MergeError("Одна из записей уже удалена или объединена.")
        survivor, merged = workers[survivor_id], workers[merged_id]
        if survivor.user_id and merged.user_id:
            raise MergeError("У обеих записей есть учётные записи работников: объединение только вручную.")
        snapshot = _snapshot(merged)
        moved: dict[str, int] = {}
        kept: dict[str, list] = {}
        DuplicateCandidate.objects.filter(
            Q(worker_a_id=min(survivor_id, merged_id), worker_b_id=max(survivor_id, merged_id))
        ).update(status=DuplicateCandidate.Status.MERGED, resolved_at=timezone.now(), resolved_by=actor)
        # Other open pairs of the merged record are re-detected against the survivor next time.
        DuplicateCandidate.objects.filter(Q(worker_a_id=merged_id) | Q(worker_b_id=merged_id)).exclude(
            status=DuplicateCandidate.Status.MERGED
        ).delete()
        for relation in MedicalWorker._meta.related_objects:
            if not (relation.one_to_many or relation.one_to_one) or relation.related_model is DuplicateCandidate:
                continue
            # Earlier merges into the merged record (WorkerMerge) follow it to the survivor too.
            model, field = relation.related_model, relation.field.name
            rows = list(model._base_manager.filter(**{field: merged}))
            for row in rows:
                try:
                    with transaction.atomic():
                        model._base_manager.filter(pk=row.pk).update(**{field: survivor})
                    moved[model._meta.model_name] = moved.get(model._meta.model_name, 0) + 1
                except IntegrityError:
                    # The survivor already has the same row (a diploma, a watch): keep it in the trail.
                    kept.setdefault(model._meta.model_name, []).append(_snapshot(row))
        for name in ("inn", "middle_name", "phone", "email"):
            if not getattr(survivor, name) and getattr(merged, name):
                setattr(survivor, name, getattr(merged, name))
        user = merged.user if merged.user_id and not survivor.user_id else None
        merged_number = merged.registry_number
        worker_tombstone_record(worker=merged, kind=WorkerTombstone.Kind.MERGED, merged_into=survivor)
        merged.delete()  # frees the unique SNILS/INN before the survivor may take the INN
        if user is not None:
            survivor.user = user
        survivor.save(update_fields=["inn", "middle_name", "phone", "email", "user", "updated_at"])
        record = WorkerMerge.objects.create(
            survivor=survivor,
            merged_registry_number=merged_number,
            merged_snapshot=snapshot,
            moved={"moved": moved, "kept_in_trail": kept},
            merged_by=actor,
        )
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            subject=survivor.user,
            actor=actor,
            request=request,
            object_type="worker_merge",
            object_id=survivor.registry_number,
            details={"merged": merged_number, "moved": moved, "kept": {k: len(v) for k, v in kept.items()}},
        )
        worker_refresh_derived(worker_ids=[survivor.id])
    return record


def duplicate_dismiss(*, candidate_id: int, actor=None, request=None) -> None:
    with transaction.atomic():
        updated = DuplicateCandidate.objects.filter(id=candidate_id, status=DuplicateCandidate.Status.OPEN).update(
            status=DuplicateCandidate.Status.DISMISSED, resolved_at=timezone.now(), resolved_by=actor
        )
        if updated:
            audit_record(
                event=AuditEntry.Event.DATA_CHANGED,
                actor=actor,
                request=request,
                object_type="duplicate_candidate",
                object_id=str(candidate_id),
                details={"decision": "dismissed"},
            )


# --- The audit ------------------------------------------------------------------------------------

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
        _current_employment(today),
        worker_id=OuterRef("pk"),
        organization__status=MedicalOrganization.Status.CLOSED,
    ).filter(Q(ended_on__isnull=True) | Q(ended_on__gt=F("organization__closed_on")))
    shared = AdmissionDocument.objects.filter(worker_id=OuterRef("pk"), number__in=shared_document_numbers())
    return {
        "duplicate": Q(Exists(duplicate)),
        "shared_document": Q(Exists(shared)),
        "closed_organization": Q(Exists(closed)),
        "status_stale": _stale_status(today),
        "no_document": Q(admission_status=AdmissionStatus.NONE),
        "no_workplace": Q(region__isnull=True),
        "no_inn": Q(inn__isnull=True),
    }


def dq_audit_run(*, today: dt.date | None = None) -> DQAuditRun:
    """Count problems by kind and region, find the worst records, store the run."""
    from django.db.models import Case, When

    today = today or timezone.localdate()
    started = time.monotonic()
    regions = dict(Region.objects.values_list("id", "name"))
    conditions = _worker_conditions(today)
    by_kind: dict[str, int] = {}
    by_region: dict[str, dict[str, int]] = defaultdict(dict)
    for kind, condition in conditions.items():
        rows = MedicalWorker.objects.filter(condition).values("region_id").annotate(n=Count("id")).order_by()
        total = 0
        for row in rows:
            label = regions.get(row["region_id"], "Регион не определён")
            by_region[label][kind] = by_region[label].get(kind, 0) + row["n"]
            total += row["n"]
        by_kind[kind] = total
    licenses = (
        OrganizationLicense.objects.filter(status=OrganizationLicense.Status.ACTIVE, valid_until__lt=today)
        .values("organization__region_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_kind["license_expired_active"] = 0
    for row in licenses:
        label = regions.get(row["organization__region_id"], "Регион не определён")
        by_region[label]["license_expired_active"] = by_region[label].get("license_expired_active", 0) + row["n"]
        by_kind["license_expired_active"] += row["n"]

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
    worst_rows = (
        MedicalWorker.objects.annotate(score=score, **flags)
        .filter(score__gt=0)
        .order_by("-score", "id")
        .values("id", "registry_number", "last_name", "first_name", "middle_name", "region__name", "score", *flags)[
            :WORST_RECORDS
        ]
    )
    worst = [
        {
            "id": row["id"],
            "registry_number": row["registry_number"],
            "name": " ".join(p for p in (row["last_name"], row["first_name"], row["middle_name"]) if p),
            "region": row["region__name"] or "",
            "score": row["score"],
            "problems": [PROBLEM_KINDS[k] for k in conditions if row[f"flag_{k}"]],
        }
        for row in worst_rows
    ]
    run = DQAuditRun.objects.create(
        total_workers=MedicalWorker.objects.count(),
        total_problems=sum(by_kind.values()),
        by_kind=by_kind,
        by_region=dict(sorted(by_region.items())),
        worst=worst,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    return run


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
    from openpyxl import Workbook

    from .exports import neutralize

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


# --- Workforce monitoring -----------------------------------------------------------------------------


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
    current = Employment.objects.filter(_current_employment(today))
    horizon = today + dt.timedelta(days=settings.ADMISSION_EXPIRING_DAYS)
    expiring = AdmissionDocument.objects.filter(
        status=AdmissionDocument.Status.VALID, valid_until__gte=today, valid_until__lte=horizon
    )
    by_month: dict[str, int] = {}
    from django.db.models.functions import TruncMonth

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
    from openpyxl import Workbook

    from .exports import neutralize

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
