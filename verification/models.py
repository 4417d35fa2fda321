"""Uploaded documents and their review.

The files themselves never sit in the database or the web root: a StoredDocument row describes
one encrypted blob in the `documents` storage (see verification.documents).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class StoredDocument(models.Model):
    """One uploaded file, encrypted at rest. Served only to its owner and to staff."""

    class Kind(models.TextChoices):
        PASSPORT = "passport", "Паспорт (страница с фотографией)"
        QUALIFICATION = "qualification", "Документ о квалификации"
        DIPLOMA = "diploma", "Диплом об образовании"
        RESIDENCY = "residency", "Документ об окончании ординатуры или интернатуры"
        ADMISSION = "admission", "Сертификат специалиста или свидетельство об аккредитации"
        NO_SANCTIONS = "no_sanctions", "Справка об отсутствии дисциплинарных взысканий"
        EMPLOYER_ID = "employer_id", "Служебное удостоверение"
        OTHER = "other", "Другой документ"
        TICKET_SCREENSHOT = "ticket_screenshot", "Скриншот к обращению"

    # A random id, not a sequence: it appears in download URLs and must not let anyone count or
    # guess other people's documents.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Null for a screenshot attached to an anonymous support ticket. PROTECT: deleting a user must
    # go through a service that also removes their files; a cascade would orphan the blobs.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="владелец",
        related_name="documents",
    )
    kind = models.CharField("вид документа", max_length=32, choices=Kind.choices)
    original_name = models.CharField("имя файла", max_length=200)
    # Sniffed from the bytes at upload; the type the browser claimed is never stored.
    content_type = models.CharField("тип содержимого", max_length=100)
    size = models.PositiveIntegerField("размер, байт")
    sha256 = models.CharField("SHA-256 содержимого", max_length=64)
    storage_name = models.CharField("имя в хранилище", max_length=200, unique=True, editable=False)
    # Which key encrypted the blob, so key rotation knows what is left to re-encrypt.
    key_fingerprint = models.CharField("отпечаток ключа", max_length=8, editable=False)
    created_at = models.DateTimeField("загружен", default=timezone.now)

    class Meta:
        verbose_name = "загруженный документ"
        verbose_name_plural = "загруженные документы"
        ordering = ["-created_at"]
        indexes = [
            # The owner's documents newest first, and the quota sum per owner.
            models.Index(fields=["owner", "created_at"], name="storeddoc_owner_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.original_name}"
