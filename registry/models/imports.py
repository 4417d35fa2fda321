"""Import jobs: files of workers, organizations and their records loaded into the register."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ImportKind(models.TextChoices):
    WORKERS = "workers", "Работники"
    EMPLOYMENTS = "employments", "Места работы"
    ADMISSION_DOCUMENTS = "admission_documents", "Документы о допуске"
    ORGANIZATIONS = "organizations", "Организации"
    EDUCATIONS = "educations", "Образование"
    CATEGORIES = "categories", "Квалификационные категории"
    CME = "cme", "Записи НМО"


class ImportJob(models.Model):
    """One uploaded exchange file: an import, or a force sync (preview first, then apply)."""

    class Mode(models.TextChoices):
        IMPORT = "import", "Импорт"
        DRY_RUN = "dry_run", "Проверка без записи"
        SYNC_PREVIEW = "sync_preview", "Синхронизация: сверка"
        SYNC_APPLY = "sync_apply", "Синхронизация: применение"

    class Status(models.TextChoices):
        QUEUED = "queued", "В очереди"
        RUNNING = "running", "Выполняется"
        DONE = "done", "Готово"
        FAILED = "failed", "Ошибка"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField("данные", max_length=24, choices=ImportKind)
    mode = models.CharField("режим", max_length=16, choices=Mode.choices, default=Mode.IMPORT)
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.QUEUED)
    # The source: a stored upload (name inside VAR_DIR/imports) or a URL for a sync.
    source = models.CharField("источник", max_length=500)
    original_name = models.CharField("имя файла", max_length=255, blank=True)
    progress = models.PositiveSmallIntegerField("готовность, %", default=0)
    total_rows = models.PositiveIntegerField("строк", default=0)
    created_count = models.PositiveIntegerField("добавлено", default=0)
    updated_count = models.PositiveIntegerField("изменено", default=0)
    unchanged_count = models.PositiveIntegerField("без изменений", default=0)
    invalid_count = models.PositiveIntegerField("ошибок", default=0)
    vanished_count = models.PositiveIntegerField("исчезло", default=0)
    # Rows that carried an identifier of a record merged into another (they reach the survivor).
    merged_count = models.PositiveIntegerField("объединённых записей", default=0)
    duplicates_count = models.PositiveIntegerField("возможных дубликатов", default=0)
    # For a sync preview: samples of new / changed / vanished natural keys shown before applying.
    summary = models.JSONField("сводка", default=dict, blank=True)
    report_name = models.CharField("отчёт об ошибках", max_length=100, blank=True)
    error = models.TextField("ошибка", blank=True)
    created_at = models.DateTimeField("создано", default=timezone.now)
    started_at = models.DateTimeField("начато", null=True, blank=True)
    finished_at = models.DateTimeField("завершено", null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто", related_name="+"
    )
    # The preview a SYNC_APPLY job carries out (the same source, re-read).
    preview = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, verbose_name="сверка")
    # An organization's own upload from its cabinet: only its rows are written (engine scope_ogrn).
    organization = models.ForeignKey(
        "registry.MedicalOrganization",
        models.CASCADE,
        null=True,
        blank=True,
        verbose_name="загрузка организации",
        related_name="+",
        db_index=False,
    )  # covered by importjob_org_idx

    class Meta:
        verbose_name = "импорт данных"
        verbose_name_plural = "импорт данных"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="importjob_status_idx"),
            # The cabinet's list of an organization's uploads, newest first.
            models.Index(
                fields=["organization", "-created_at"],
                condition=Q(organization__isnull=False),
                name="importjob_org_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.original_name or self.source} ({self.get_status_display()})"
