"""Data quality: duplicate candidates, merges, discrepancy alerts, audit runs and workforce snapshots."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DuplicateCandidate(models.Model):
    """A pair of workers that are probably one person; staff merge or dismiss it."""

    class Reason(models.TextChoices):
        NAME_BIRTH = "name_birth", "Совпадают ФИО и дата рождения"
        NAME_DOCUMENT = "name_document", "Совпадают ФИО и номер документа"

    class Status(models.TextChoices):
        OPEN = "open", "Требует решения"
        MERGED = "merged", "Объединены"
        DISMISSED = "dismissed", "Не дубликат"

    # worker_a.id < worker_b.id, so a pair is stored once whatever order it was found in.
    # SET_NULL: a merged pair outlives the record merged away (WorkerMerge keeps its snapshot).
    worker_a = models.ForeignKey(
        "registry.MedicalWorker", models.SET_NULL, null=True, verbose_name="работник 1", related_name="+"
    )
    worker_b = models.ForeignKey(
        "registry.MedicalWorker",
        models.SET_NULL,
        null=True,
        verbose_name="работник 2",
        related_name="+",
        db_index=False,  # covered by duplicate_pair_unique (worker_b, worker_a)
    )
    reason = models.CharField("причина", max_length=16, choices=Reason.choices)
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.OPEN)
    detected_at = models.DateTimeField("найдено", default=timezone.now)
    resolved_at = models.DateTimeField("решено", null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто решил", related_name="+"
    )

    class Meta:
        verbose_name = "возможный дубликат"
        verbose_name_plural = "возможные дубликаты"
        ordering = ["-detected_at"]
        constraints = [
            models.UniqueConstraint(fields=["worker_b", "worker_a"], name="duplicate_pair_unique"),
            models.CheckConstraint(
                condition=models.Q(worker_a__lt=models.F("worker_b")), name="duplicate_pair_ordered"
            ),
        ]
        indexes = [models.Index(fields=["status", "detected_at"], name="duplicate_status_idx")]

    def __str__(self) -> str:
        return f"{self.worker_a_id} ↔ {self.worker_b_id} ({self.get_reason_display()})"


class WorkerMerge(models.Model):
    """The trail of one merge: the merged record as it was, and what moved to the survivor."""

    survivor = models.ForeignKey(
        "registry.MedicalWorker", models.PROTECT, verbose_name="оставленная запись", related_name="merges"
    )
    merged_registry_number = models.CharField("регистровый номер объединённой записи", max_length=10)
    merged_snapshot = models.JSONField("объединённая запись")
    moved = models.JSONField("перенесено", default=dict)
    merged_at = models.DateTimeField("объединено", default=timezone.now)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто", related_name="+"
    )

    class Meta:
        verbose_name = "объединение записей"
        verbose_name_plural = "объединения записей"
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.merged_registry_number} → {self.survivor_id}"


class DiscrepancyAlert(models.Model):
    """A conflict found by an import or a check. ``fingerprint`` is unique: finding the same
    conflict again touches ``last_seen_at`` and never raises a second alert or a second e-mail."""

    class Kind(models.TextChoices):
        DOCUMENT_SHARED = "document_shared", "Номер документа о допуске у нескольких работников"
        CLOSED_ORGANIZATION = "closed_organization", "Действующее место работы в ликвидированной организации"
        EXPIRED_ACTIVE = "expired_active", "Истёкший документ отмечен действующим"
        LICENSE_EXPIRED_ACTIVE = "license_expired_active", "Истёкшая лицензия отмечена действующей"
        STATUS_STALE = "status_stale", "Статус допуска не соответствует документам"
        VANISHED = "vanished", "Запись исчезла из источника"
        DUPLICATE = "duplicate", "Возможный дубликат"

    kind = models.CharField("вид", max_length=32, choices=Kind.choices)
    fingerprint = models.CharField("отпечаток", max_length=64, unique=True)
    message = models.CharField("описание", max_length=1000)
    object_type = models.CharField("тип объекта", max_length=32, blank=True)
    object_id = models.CharField("объект", max_length=64, blank=True)
    region = models.ForeignKey(
        "registry.Region", models.SET_NULL, null=True, blank=True, verbose_name="регион", related_name="+"
    )
    first_seen_at = models.DateTimeField("впервые", default=timezone.now)
    last_seen_at = models.DateTimeField("последний раз", default=timezone.now)
    notified_at = models.DateTimeField("отправлено в сводке", null=True, blank=True)
    resolved_at = models.DateTimeField("устранено", null=True, blank=True)

    class Meta:
        verbose_name = "расхождение"
        verbose_name_plural = "расхождения"
        ordering = ["-last_seen_at"]
        indexes = [
            models.Index(fields=["resolved_at", "kind"], name="alert_open_kind_idx"),
            models.Index(
                fields=["notified_at"], name="alert_notified_idx", condition=models.Q(notified_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.message


class DQAuditRun(models.Model):
    """One data-quality audit: counts by problem kind and region, and the worst records."""

    created_at = models.DateTimeField("проведён", default=timezone.now, db_index=True)
    total_workers = models.PositiveIntegerField("работников", default=0)
    total_problems = models.PositiveIntegerField("проблем", default=0)
    by_kind = models.JSONField("по видам", default=dict)
    by_region = models.JSONField("по регионам", default=dict)
    worst = models.JSONField("худшие записи", default=list)
    duration_ms = models.PositiveIntegerField("длительность, мс", default=0)

    class Meta:
        verbose_name = "аудит качества данных"
        verbose_name_plural = "аудиты качества данных"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Аудит {timezone.localtime(self.created_at):%d.%m.%Y %H:%M}: {self.total_problems}"


class WorkforceSnapshot(models.Model):
    """Precomputed workforce figures for one day: the monitoring dashboard reads only these."""

    taken_on = models.DateField("дата", unique=True)
    taken_at = models.DateTimeField("снят", default=timezone.now)
    total_workers = models.PositiveIntegerField("работников", default=0)
    by_region = models.JSONField("по регионам", default=dict)
    by_specialty = models.JSONField("по специальностям", default=dict)
    by_position = models.JSONField("по должностям", default=dict)
    by_status = models.JSONField("по статусу допуска", default=dict)
    expiring_90 = models.PositiveIntegerField("документов истекает за 90 дней", default=0)
    expiring_by_month = models.JSONField("истекает по месяцам", default=dict)

    class Meta:
        verbose_name = "срез кадрового состава"
        verbose_name_plural = "срезы кадрового состава"
        ordering = ["-taken_on"]

    def __str__(self) -> str:
        return f"{self.taken_on:%d.%m.%Y}: {self.total_workers}"
