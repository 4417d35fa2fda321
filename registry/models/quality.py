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
        LINKAGE = "linkage", "Вероятностное сопоставление"

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
    # Match probability and weight (log2 of the odds) from the linkage model, and the field-by-field
    # explanation staff read in the review list and on the merge screen.
    probability = models.FloatField("вероятность", default=0.0)
    match_weight = models.FloatField("вес совпадения", default=0.0)
    explanation = models.JSONField("сравнение по полям", default=list, blank=True)
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
        indexes = [
            models.Index(fields=["status", "detected_at"], name="duplicate_status_idx"),
            # The review list: open pairs, most probable first.
            models.Index(
                fields=["-probability", "id"], name="duplicate_open_score_idx", condition=models.Q(status="open")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worker_a_id} ↔ {self.worker_b_id} ({self.get_reason_display()})"


class WorkerMerge(models.Model):
    """The trail of one merge: the merged record as it was, and what moved to the survivor."""

    survivor = models.ForeignKey(
        "registry.MedicalWorker", models.PROTECT, verbose_name="оставленная запись", related_name="merges"
    )
    merged_registry_number = models.CharField("регистровый номер объединённой записи", max_length=10)
    # The merged record's id, so an unmerge restores it under the same id (its links elsewhere hold).
    merged_worker_id = models.BigIntegerField("id объединённой записи", null=True, blank=True)
    merged_snapshot = models.JSONField("объединённая запись")
    # {"moved": {model: n}, "kept_in_trail": {model: [rows]}, "rows": {model label: {"field": f, "pks": [...]}},
    #  "filled": {field: value given to the survivor}, "user_moved": bool}: what an unmerge undoes.
    moved = models.JSONField("перенесено", default=dict)
    # What the identity comparison found before the merge (sex, birth date, SNILS, INN), and who
    # approved a merge it refused, with the written reason (issue 15: two people sign off).
    findings = models.JSONField("расхождения", default=list, blank=True)
    merged_at = models.DateTimeField("объединено", default=timezone.now)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто", related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="кто подтвердил",
        related_name="+",
    )
    approval_reason = models.TextField("обоснование", blank=True)
    unmerged_at = models.DateTimeField("разъединено", null=True, blank=True)
    unmerged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="кто разъединил",
        related_name="+",
    )
    unmerge_reason = models.TextField("причина разъединения", blank=True)

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
            # The staff desk: how many alerts are open and since when, without reading resolved ones.
            models.Index(
                fields=["first_seen_at"], name="alert_open_seen_idx", condition=models.Q(resolved_at__isnull=True)
            ),
            models.Index(
                fields=["notified_at"], name="alert_notified_idx", condition=models.Q(notified_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.message


class MergeRequest(models.Model):
    """A merge the identity comparison refused (another sex or birth date with no shared document,
    conflicting SNILS or INN), asked for with a written reason; a second staff member approves it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Ждёт подтверждения"
        APPROVED = "approved", "Подтверждено и выполнено"
        DECLINED = "declined", "Отклонено"

    # SET_NULL: the request outlives the record merged away (its number stays below).
    survivor = models.ForeignKey(
        "registry.MedicalWorker",
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="оставляемая запись",
        related_name="+",
    )
    merged = models.ForeignKey(
        "registry.MedicalWorker",
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="объединяемая запись",
        related_name="+",
    )
    survivor_number = models.CharField("регистровый номер оставляемой записи", max_length=10)
    merged_number = models.CharField("регистровый номер объединяемой записи", max_length=10)
    findings = models.JSONField("расхождения", default=list)
    reason = models.TextField("обоснование")
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, verbose_name="кто запросил", related_name="+"
    )
    requested_at = models.DateTimeField("запрошено", default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто решил", related_name="+"
    )
    decided_at = models.DateTimeField("решено", null=True, blank=True)
    decision_note = models.TextField("комментарий к решению", blank=True)
    merge = models.ForeignKey(
        WorkerMerge, models.SET_NULL, null=True, blank=True, verbose_name="объединение", related_name="+"
    )

    class Meta:
        verbose_name = "запрос на объединение"
        verbose_name_plural = "запросы на объединение"
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "requested_at"], name="merge_request_status_idx")]

    def __str__(self) -> str:
        return f"{self.merged_id} → {self.survivor_id} ({self.get_status_display()})"


class WorkerAlias(models.Model):
    """An identifier of a record merged away, kept for the survivor: an import row, an API call or a
    registration that carries it reaches the survivor instead of creating the record again."""

    class Kind(models.TextChoices):
        SNILS = "snils", "СНИЛС"
        INN = "inn", "ИНН"
        REGISTRY_NUMBER = "registry_number", "Регистровый номер"

    # Follows later merges of the survivor (a merge moves every row that points at the merged record).
    worker = models.ForeignKey(
        "registry.MedicalWorker", models.CASCADE, verbose_name="работник", related_name="aliases"
    )
    kind = models.CharField("вид", max_length=16, choices=Kind.choices)
    value = models.CharField("значение", max_length=12)
    merge = models.ForeignKey(WorkerMerge, models.CASCADE, verbose_name="объединение", related_name="aliases")
    created_at = models.DateTimeField("создан", default=timezone.now)

    class Meta:
        verbose_name = "прежний идентификатор"
        verbose_name_plural = "прежние идентификаторы"
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="worker_alias_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class WorkerBlockKey(models.Model):
    """The blocking keys of a worker's name and birth date (registry.quality.linkage.blocking), hashed
    to 64 bits: records that share a key are compared. Kept by every service that writes a name or a
    birth date, and caught up by the scan for anything written around them (WorkerKeyState)."""

    pk = models.CompositePrimaryKey("worker", "key")
    worker = models.ForeignKey("registry.MedicalWorker", models.CASCADE, related_name="+", db_index=False)
    key = models.BigIntegerField("ключ")

    class Meta:
        verbose_name = "ключ сопоставления"
        verbose_name_plural = "ключи сопоставления"
        # The incremental check and the scan's self-join look keys up; the primary key (worker, key)
        # serves the rewrite of one worker's keys.
        indexes = [models.Index(fields=["key", "worker"], name="block_key_idx")]

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.key}"


class WorkerKeyState(models.Model):
    """The updated_at a worker's blocking keys were computed from. A row written around the services
    (a bulk load, SQL) has older or no keys, and the scan computes them first. A table of its own, so
    keeping it never rewrites a row of the heavily indexed worker table."""

    worker = models.OneToOneField("registry.MedicalWorker", models.CASCADE, primary_key=True, related_name="+")
    keys_from = models.DateTimeField("ключи по состоянию на")

    class Meta:
        verbose_name = "состояние ключей сопоставления"
        verbose_name_plural = "состояния ключей сопоставления"

    def __str__(self) -> str:
        return f"{self.worker_id}: {self.keys_from:%d.%m.%Y %H:%M}"


class NameFrequency(models.Model):
    """How common a value is in the register (a surname, a first name and patronymic, a region, a
    specialty), for the term-frequency adjustment of the scores: a rare name agreeing counts for more.
    Refreshed by the full scan."""

    column = models.CharField("поле", max_length=16)
    value = models.CharField("значение", max_length=250)
    share = models.FloatField("доля записей")

    class Meta:
        verbose_name = "частота значения"
        verbose_name_plural = "частоты значений"
        constraints = [models.UniqueConstraint(fields=["column", "value"], name="name_frequency_unique")]

    def __str__(self) -> str:
        return f"{self.column}: {self.value} ({self.share:.6f})"


class DuplicateScanRun(models.Model):
    """One full duplicate scan (a Celery job with progress): what it compared, found and skipped."""

    class Status(models.TextChoices):
        QUEUED = "queued", "В очереди"
        RUNNING = "running", "Выполняется"
        DONE = "done", "Готово"
        FAILED = "failed", "Ошибка"

    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField("этап", max_length=100, blank=True)
    progress = models.PositiveSmallIntegerField("выполнено, %", default=0)
    created_at = models.DateTimeField("создан", default=timezone.now)
    started_at = models.DateTimeField("начат", null=True, blank=True)
    finished_at = models.DateTimeField("завершён", null=True, blank=True)
    workers = models.PositiveIntegerField("работников", default=0)
    keys_refreshed = models.PositiveIntegerField("обновлено ключей (работников)", default=0)
    pairs = models.PositiveBigIntegerField("сравнено пар", default=0)
    candidates_new = models.PositiveIntegerField("новых возможных дубликатов", default=0)
    # Blocks larger than the cap are not paired; every one is counted here, never skipped silently.
    skipped = models.JSONField("пропущено", default=dict, blank=True)
    stats = models.JSONField("по правилам", default=dict, blank=True)
    error = models.TextField("ошибка", blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кто запустил", related_name="+"
    )

    class Meta:
        verbose_name = "поиск дубликатов"
        verbose_name_plural = "поиски дубликатов"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%d.%m.%Y %H:%M} ({self.get_status_display()})"


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
