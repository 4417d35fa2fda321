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


# --- State registry stand-in ---------------------------------------------------------------------


class StateRegistryReference(models.Model):
    """STAND-IN for the tax service (ФНС, keyed by INN) and the social fund (СФР, keyed by SNILS).

    The default gateway (`verification.gateways.ReferenceTableGateway`) answers from this table,
    which `seed_demo` and `manage.py import_state_registry` fill. It is not a real state service;
    production points VERIFICATION_GATEWAY at `HttpStateRegistryGateway` instead.
    """

    class Source(models.TextChoices):
        TAX = "tax", "ФНС (ИНН)"
        SOCIAL_FUND = "social_fund", "Социальный фонд (СНИЛС)"

    source = models.CharField("источник", max_length=16, choices=Source.choices)
    # INN (12 digits) for the tax service, SNILS (11 digits) for the social fund.
    key = models.CharField("ИНН или СНИЛС", max_length=12)
    last_name = models.CharField("фамилия", max_length=100)
    first_name = models.CharField("имя", max_length=100)
    middle_name = models.CharField("отчество", max_length=100, blank=True)
    birth_date = models.DateField("дата рождения")
    # The other identifier the service links to the person (the social fund knows the INN, the
    # tax service the SNILS), if it does; empty when unknown.
    linked_key = models.CharField("связанный ИНН/СНИЛС", max_length=12, blank=True)
    updated_at = models.DateTimeField("обновлено", auto_now=True)

    class Meta:
        verbose_name = "запись справочника госреестров (имитация)"
        verbose_name_plural = "справочник госреестров (имитация ФНС и СФР)"
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="stateref_source_key_unique")]

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.key}"


# --- Applications -------------------------------------------------------------------------------


class _Application(models.Model):
    """What identity and qualification applications share: the automatic check's claim, the dates,
    the staff assignee and decision. FIX_STATUS is the status that can still be fixed by the worker."""

    FIX_STATUS = ""
    OPEN_STATUSES: tuple = ()

    check_attempts = models.PositiveSmallIntegerField("попыток проверки", default=0)
    # When the running check claimed the row; a check older than the lease died and may be re-claimed.
    check_started_at = models.DateTimeField("проверка начата", null=True, blank=True)
    created_at = models.DateTimeField("создано", default=timezone.now)
    submitted_at = models.DateTimeField("отправлено", default=timezone.now)
    decided_at = models.DateTimeField("решение", null=True, blank=True)
    fix_deadline = models.DateTimeField("исправить до", null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="исполнитель",
        related_name="+",
    )
    decision_note = models.TextField("комментарий проверяющего", blank=True)

    class Meta:
        abstract = True

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def can_fix(self, now=None) -> bool:
        return (
            self.status == self.FIX_STATUS
            and self.fix_deadline is not None
            and (self.fix_deadline > (now or timezone.now()))
        )


class IdentityApplication(_Application):
    """A worker's request to confirm who they are (docs/domain.md, Workflows 1)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Отправлено на проверку"
        CHECKING = "checking", "Проверяется"
        MANUAL_REVIEW = "manual_review", "На проверке у сотрудника"
        CONFIRMED = "confirmed", "Подтверждено"
        REJECTED = "rejected", "Отклонено"
        EXPIRED = "expired", "Срок исправления истёк"

    OPEN_STATUSES = (Status.SUBMITTED, Status.CHECKING, Status.MANUAL_REVIEW)
    FIX_STATUS = Status.REJECTED

    worker = models.ForeignKey(
        "registry.MedicalWorker", models.PROTECT, verbose_name="работник", related_name="identity_applications"
    )
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.SUBMITTED)
    snils = models.CharField("СНИЛС", max_length=11)
    inn = models.CharField("ИНН", max_length=12)
    last_name = models.CharField("фамилия", max_length=100)
    first_name = models.CharField("имя", max_length=100)
    middle_name = models.CharField("отчество", max_length=100, blank=True)
    birth_date = models.DateField("дата рождения")
    passport_document = models.ForeignKey(StoredDocument, models.PROTECT, verbose_name="паспорт", related_name="+")
    qualification_document = models.ForeignKey(
        StoredDocument, models.PROTECT, verbose_name="документ о квалификации", related_name="+"
    )
    employer_id_document = models.ForeignKey(
        StoredDocument,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="служебное удостоверение",
        related_name="+",
    )
    # [{"field": "inn", "label": "ИНН", "entered": "...", "message": "..."}]
    discrepancies = models.JSONField("расхождения", default=list, blank=True)

    class Meta:
        verbose_name = "заявление на подтверждение личности"
        verbose_name_plural = "заявления на подтверждение личности"
        ordering = ["submitted_at", "id"]
        indexes = [
            models.Index(fields=["worker", "-created_at"], name="idapp_worker_idx"),
            # Review queue (oldest first per status) and the 30-day expiry sweep.
            models.Index(fields=["status", "submitted_at"], name="idapp_status_submitted_idx"),
            models.Index(fields=["status", "fix_deadline"], name="idapp_status_deadline_idx"),
        ]

    def __str__(self) -> str:
        return f"Подтверждение личности № {self.pk}"

    def documents(self) -> list[StoredDocument]:
        return [d for d in (self.passport_document, self.qualification_document, self.employer_id_document) if d]


class QualificationApplication(_Application):
    """A worker's request to confirm their qualification documents (docs/domain.md, Workflows 2)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Отправлено на проверку"
        CHECKING = "checking", "Проверяется"
        ESCALATED = "escalated", "Передано сотруднику"
        CONFIRMED = "confirmed", "Подтверждён"
        NEEDS_FIX = "needs_fix", "Требует исправления"
        CLOSED = "closed", "Закрыто"

    OPEN_STATUSES = (Status.SUBMITTED, Status.CHECKING, Status.ESCALATED)
    FIX_STATUS = Status.NEEDS_FIX

    worker = models.ForeignKey(
        "registry.MedicalWorker",
        models.PROTECT,
        verbose_name="работник",
        related_name="qualification_applications",
    )
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.SUBMITTED)
    diploma_number = models.CharField("номер диплома", max_length=30)
    admission_number = models.CharField("номер сертификата или свидетельства об аккредитации", max_length=40)
    diploma_document = models.ForeignKey(
        StoredDocument, models.PROTECT, null=True, blank=True, verbose_name="диплом", related_name="+"
    )
    residency_document = models.ForeignKey(
        StoredDocument,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="ординатура / интернатура",
        related_name="+",
    )
    admission_document = models.ForeignKey(
        StoredDocument,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="сертификат / аккредитация",
        related_name="+",
    )
    no_sanctions_document = models.ForeignKey(
        StoredDocument,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="справка об отсутствии взысканий",
        related_name="+",
    )
    # [{"field": "diploma_document", "label": "...", "message": "..."}]
    problems = models.JSONField("недостающее и неверное", default=list, blank=True)

    class Meta:
        verbose_name = "заявление на подтверждение квалификации"
        verbose_name_plural = "заявления на подтверждение квалификации"
        ordering = ["submitted_at", "id"]
        indexes = [
            models.Index(fields=["worker", "-created_at"], name="qualapp_worker_idx"),
            models.Index(fields=["status", "submitted_at"], name="qualapp_status_submitted_idx"),
            models.Index(fields=["status", "fix_deadline"], name="qualapp_status_deadline_idx"),
        ]

    def __str__(self) -> str:
        return f"Подтверждение квалификации № {self.pk}"

    def documents(self) -> list[StoredDocument]:
        return [
            d
            for d in (
                self.diploma_document,
                self.residency_document,
                self.admission_document,
                self.no_sanctions_document,
            )
            if d
        ]


class ChangeRequest(models.Model):
    """A worker's profile correction with proof, reviewed by staff (docs/domain.md, Workflows 3)."""

    class Status(models.TextChoices):
        PENDING = "pending", "На проверке"
        APPROVED = "approved", "Актуализировано"
        REJECTED = "rejected", "Отклонено"

    worker = models.ForeignKey(
        "registry.MedicalWorker", models.PROTECT, verbose_name="работник", related_name="change_requests"
    )
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.PENDING)
    # {"field": {"label": "...", "old": "shown", "new": "shown", "value": raw new value}}
    changes = models.JSONField("изменения")
    # Required for a correction (the form asks for it); a dispute may come without one.
    proof_document = models.ForeignKey(
        StoredDocument,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="подтверждающий документ",
        related_name="+",
    )
    # Set when the worker disputes an employment row an employer entered (the organization cabinet):
    # support checks it with the organization and corrects the row by hand in the worker's admin page.
    employment = models.ForeignKey(
        "registry.Employment",
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="оспариваемое место работы",
        related_name="disputes",
    )
    comment = models.TextField("комментарий работника", blank=True)
    created_at = models.DateTimeField("создано", default=timezone.now)
    decided_at = models.DateTimeField("решение", null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="проверил",
        related_name="+",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="исполнитель",
        related_name="+",
    )
    reject_reason = models.TextField("причина отказа", blank=True)

    class Meta:
        verbose_name = "заявка на исправление сведений"
        verbose_name_plural = "заявки на исправление сведений"
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["worker", "-created_at"], name="changereq_worker_idx"),
            models.Index(fields=["status", "created_at"], name="changereq_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Исправление сведений № {self.pk}"

    @property
    def proof_list(self) -> list[StoredDocument]:
        return [self.proof_document] if self.proof_document_id else []

    @property
    def is_dispute(self) -> bool:
        return self.employment_id is not None or "employment_dispute" in self.changes


class ApplicationHistory(models.Model):
    """One status transition of an application or change request: every transition leaves a row."""

    class Kind(models.TextChoices):
        IDENTITY = "identity", "Подтверждение личности"
        QUALIFICATION = "qualification", "Подтверждение квалификации"
        CHANGE = "change", "Исправление сведений"

    kind = models.CharField("вид", max_length=16, choices=Kind.choices)
    application_id = models.BigIntegerField("номер заявления")
    from_status = models.CharField("из статуса", max_length=16, blank=True)
    to_status = models.CharField("в статус", max_length=16)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто", related_name="+"
    )
    note = models.TextField("комментарий", blank=True)
    created_at = models.DateTimeField("время", default=timezone.now)

    class Meta:
        verbose_name = "история заявления"
        verbose_name_plural = "история заявлений"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["kind", "application_id", "created_at"], name="apphistory_app_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.application_id}: {self.from_status} → {self.to_status}"

    @property
    def to_label(self) -> str:
        model = {
            self.Kind.IDENTITY: IdentityApplication,
            self.Kind.QUALIFICATION: QualificationApplication,
            self.Kind.CHANGE: ChangeRequest,
        }[self.kind]
        return model.Status(self.to_status).label


class DeadlineNotice(models.Model):
    """A reminder already sent. The unique key is the idempotency claim: two sweeps at once insert
    the same row, one wins, and only the winner notifies."""

    key = models.CharField("ключ", max_length=120, unique=True)
    created_at = models.DateTimeField("отправлено", default=timezone.now)

    class Meta:
        verbose_name = "отправленное напоминание"
        verbose_name_plural = "отправленные напоминания"

    def __str__(self) -> str:
        return self.key
