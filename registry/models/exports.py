"""Large register exports built in the background."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ExportJob(models.Model):
    """A large register export built in the background (see registry.exports); only the requester
    may follow and download it (the job id is kept in their session)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class Status(models.TextChoices):
        QUEUED = "queued", "В очереди"
        RUNNING = "running", "Формируется"
        DONE = "done", "Готово"
        FAILED = "failed", "Ошибка"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField("создано", default=timezone.now)
    started_at = models.DateTimeField("начато", null=True, blank=True)
    finished_at = models.DateTimeField("завершено", null=True, blank=True)
    params = models.JSONField("параметры", default=dict, blank=True)
    format = models.CharField("формат", max_length=8, choices=Format.choices)
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField("готовность, %", default=0)
    rows = models.PositiveIntegerField("строк", default=0)
    # A name inside settings.VAR_DIR / "exports", never a full path taken from anywhere else.
    file_name = models.CharField("файл", max_length=100, blank=True)
    error = models.TextField("ошибка", blank=True)
    session_key = models.CharField("сеанс", max_length=40, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто", related_name="+"
    )

    class Meta:
        verbose_name = "выгрузка регистра"
        verbose_name_plural = "выгрузки регистра"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="exportjob_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_format_display()} {self.created_at:%d.%m.%Y %H:%M} ({self.get_status_display()})"
