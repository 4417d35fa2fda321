"""The register of medical workers: directories, organizations, workers and their records.

Identifiers are stored as bare digits and shown formatted (see registry.validators).
Derived search fields on MedicalWorker (search_name, admission_status, ...) are kept current by
registry.services.worker_refresh_derived(); they exist because at three million rows the public
search must filter and sort on one table with plain btree indexes, not join and aggregate.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from . import validators

# --- Directories (НСИ Минздрава) -------------------------------------------------------------


class DirectoryEntry(models.Model):
    """One row of a ministry directory. Subclasses name the directory by its OID."""

    OID = ""

    code = models.CharField("код", max_length=32, unique=True)
    name = models.CharField("наименование", max_length=500)
    is_active = models.BooleanField("действует", default=True)
    sort_order = models.PositiveIntegerField("порядок", default=0)

    class Meta:
        abstract = True
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class Specialty(DirectoryEntry):
    OID = "1.2.643.5.1.13.13.11.1066"

    class Meta(DirectoryEntry.Meta):
        verbose_name = "специальность"
        verbose_name_plural = "специальности"


class Position(DirectoryEntry):
    OID = "1.2.643.5.1.13.13.11.1002"

    class Meta(DirectoryEntry.Meta):
        verbose_name = "должность"
        verbose_name_plural = "должности"


class OrganizationType(DirectoryEntry):
    # Номенклатура медицинских организаций (ФРМО).
    OID = "1.2.643.5.1.13.13.11.1462"

    class Meta(DirectoryEntry.Meta):
        verbose_name = "тип организации"
        verbose_name_plural = "типы организаций"


class AccreditationKind(DirectoryEntry):
    OID = "1.2.643.5.1.13.13.11.1100"

    class Meta(DirectoryEntry.Meta):
        verbose_name = "вид аккредитации"
        verbose_name_plural = "виды аккредитации"


class QualificationCategory(DirectoryEntry):
    OID = "1.2.643.5.1.13.2.1.1.202"

    class Meta(DirectoryEntry.Meta):
        verbose_name = "квалификационная категория"
        verbose_name_plural = "квалификационные категории"


class EducationLevel(DirectoryEntry):
    OID = "1.2.643.5.1.13.13.11.1110"

    class Meta(DirectoryEntry.Meta):
        verbose_name = "уровень образования"
        verbose_name_plural = "уровни образования"


class PostType(DirectoryEntry):
    OID = "1.2.643.5.1.13.2.1.1.209"

    class Meta(DirectoryEntry.Meta):
        verbose_name = "тип занятия должности"
        verbose_name_plural = "типы занятия должностей"


class Region(DirectoryEntry):
    """A federal subject; `code` is its two-digit code (77 Москва, 50 Московская область)."""

    OID = "1.2.643.5.1.13.13.99.2.206"

    class Meta(DirectoryEntry.Meta):
        verbose_name = "регион"
        verbose_name_plural = "регионы"
        ordering = ["code"]


DIRECTORY_MODELS: tuple[type[DirectoryEntry], ...] = (
    Specialty,
    Position,
    OrganizationType,
    AccreditationKind,
    QualificationCategory,
    EducationLevel,
    PostType,
    Region,
)


# --- Organizations (ФРМО) -------------------------------------------------------------------


class MedicalOrganization(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Действующая"
        CLOSED = "closed", "Ликвидирована"

    ogrn = models.CharField("ОГРН", max_length=13, unique=True, validators=[validators.validate_ogrn])
    inn = models.CharField("ИНН", max_length=10, validators=[validators.validate_inn_legal])
    kpp = models.CharField("КПП", max_length=9, blank=True, validators=[validators.validate_kpp])
    full_name = models.CharField("полное наименование", max_length=1000)
    short_name = models.CharField("краткое наименование", max_length=500)
    org_type = models.ForeignKey(
        OrganizationType, models.PROTECT, verbose_name="тип", null=True, blank=True, related_name="+"
    )
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="регион", related_name="organizations")
    address = models.CharField("адрес", max_length=1000, blank=True)
    phone = models.CharField("телефон", max_length=40, blank=True)
    email = models.EmailField("e-mail", blank=True)
    website = models.URLField("сайт", blank=True)
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.ACTIVE)
    closed_on = models.DateField("дата закрытия", null=True, blank=True)
    search_name = models.CharField("нормализованное наименование", max_length=500, editable=False, default="")
    created_at = models.DateTimeField("создано", auto_now_add=True)
    updated_at = models.DateTimeField("изменено", auto_now=True, db_index=True)

    class Meta:
        verbose_name = "медицинская организация"
        verbose_name_plural = "медицинские организации"
        ordering = ["short_name"]
        indexes = [
            # Organization autocomplete in the advanced search: prefix on the normalized name.
            models.Index(fields=["search_name"], name="org_search_name_idx"),
            models.Index(fields=["region", "status"], name="org_region_status_idx"),
            models.Index(fields=["inn"], name="org_inn_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="closed") | Q(closed_on__isnull=True),
                name="org_closed_on_only_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return self.short_name

    @property
    def ogrn_display(self) -> str:
        return self.ogrn


class OrganizationLicense(models.Model):
    """A license for medical activity. Issued since 2011 without an end date."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Действующая"
        SUSPENDED = "suspended", "Приостановлена"
        TERMINATED = "terminated", "Прекращена"

    organization = models.ForeignKey(
        MedicalOrganization, models.CASCADE, verbose_name="организация", related_name="licenses"
    )
    number = models.CharField(
        "номер", max_length=40, unique=True, validators=[validators.validate_license_number]
    )
    issued_on = models.DateField("дата выдачи")
    valid_until = models.DateField("действует до", null=True, blank=True)
    authority = models.CharField("лицензирующий орган", max_length=500)
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.ACTIVE)
    kinds_of_work = models.TextField("виды работ (услуг)", blank=True)
    updated_at = models.DateTimeField("изменено", auto_now=True, db_index=True)

    class Meta:
        verbose_name = "лицензия организации"
        verbose_name_plural = "лицензии организаций"
        ordering = ["-issued_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("issued_on")),
                name="license_valid_after_issue",
            ),
        ]

    def __str__(self) -> str:
        return self.number


# --- Workers (ФРМР) -------------------------------------------------------------------------


class AdmissionStatus(models.TextChoices):
    """Whether a worker may practise a specialty, derived from admission documents."""

    ACTIVE = "active", "Действует"
    EXPIRING = "expiring", "Истекает"
    EXPIRED = "expired", "Истёк"
    SUSPENDED = "suspended", "Приостановлен"
    ANNULLED = "annulled", "Аннулирован"
    NONE = "none", "Нет документа"


# When a worker holds several documents, the best one decides. Lower is better.
ADMISSION_STATUS_RANK = {
    AdmissionStatus.ACTIVE: 0,
    AdmissionStatus.EXPIRING: 1,
    AdmissionStatus.SUSPENDED: 2,
    AdmissionStatus.EXPIRED: 3,
    AdmissionStatus.ANNULLED: 4,
    AdmissionStatus.NONE: 5,
}


# The worker columns the public search filters on; carried in the search indexes (see MedicalWorker.Meta).
SEARCH_FILTER_COLUMNS = (
    "primary_specialty", "region", "category", "admission_status", "registered_on", "has_confirmed_documents",
)


class MedicalWorker(models.Model):
    class Sex(models.TextChoices):
        MALE = "M", "Мужской"
        FEMALE = "F", "Женский"

    class IdentityStatus(models.TextChoices):
        NOT_CONFIRMED = "not_confirmed", "Не подтверждено"
        PENDING = "pending", "На проверке"
        CONFIRMED = "confirmed", "Подтверждено"
        REJECTED = "rejected", "Отклонено"

    # Unique through Meta.constraints, not unique=True: for a unique CharField Django adds a second,
    # varchar_pattern_ops index on PostgreSQL for LIKE 'x%', which nothing here runs on these numbers —
    # three useless indexes to keep up on every write and to rebuild after a bulk import.
    registry_number = models.CharField(
        "регистровый номер", max_length=10, validators=[validators.validate_registry_number]
    )
    snils = models.CharField("СНИЛС", max_length=11, validators=[validators.validate_snils])
    inn = models.CharField(  # noqa: DJ001 -- NULL, not "": unique among the workers who have an INN
        "ИНН", max_length=12, null=True, blank=True, validators=[validators.validate_inn_person]
    )
    last_name = models.CharField("фамилия", max_length=100)
    first_name = models.CharField("имя", max_length=100)
    middle_name = models.CharField("отчество", max_length=100, blank=True)
    sex = models.CharField("пол", max_length=1, choices=Sex.choices)
    birth_date = models.DateField("дата рождения")
    citizenship = models.CharField("гражданство", max_length=3, default="RUS")
    phone = models.CharField("телефон", max_length=20, blank=True)
    email = models.EmailField("e-mail", blank=True)
    identity_status = models.CharField(
        "статус личности",
        max_length=16,
        choices=IdentityStatus.choices,
        default=IdentityStatus.NOT_CONFIRMED,
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="учётная запись",
        related_name="worker",
    )
    # 152-ФЗ: publishing anything beyond what the law requires needs the worker's consent.
    public_contacts_consent = models.BooleanField("согласие на публикацию рабочих контактов", default=False)
    public_consent_at = models.DateTimeField("дата согласия", null=True, blank=True)

    registered_on = models.DateField("дата включения в регистр", default=timezone.localdate)
    last_confirmed_at = models.DateTimeField("последнее подтверждение", null=True, blank=True)

    # Derived fields for the public search (maintained by services; see module docstring).
    search_name = models.CharField("ФИО для поиска", max_length=310, editable=False, default="")
    region = models.ForeignKey(
        Region, models.PROTECT, null=True, blank=True, verbose_name="регион", related_name="workers",
        db_index=False,  # covered by worker_region_name_idx
    )
    primary_specialty = models.ForeignKey(
        Specialty,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="основная специальность",
        related_name="+",
        db_index=False,  # covered by worker_spec_name_idx
    )
    admission_status = models.CharField(
        "статус допуска", max_length=16, choices=AdmissionStatus.choices, default=AdmissionStatus.NONE
    )
    admission_valid_until = models.DateField("допуск действует до", null=True, blank=True)
    category = models.ForeignKey(
        QualificationCategory,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="квалификационная категория",
        related_name="+",
        db_index=False,  # covered by worker_cat_name_idx
    )
    has_confirmed_documents = models.BooleanField("документы подтверждены", default=False)

    created_at = models.DateTimeField("создано", auto_now_add=True)
    updated_at = models.DateTimeField("изменено", auto_now=True)

    class Meta:
        verbose_name = "медицинский работник"
        verbose_name_plural = "медицинские работники"
        ordering = ["search_name", "id"]
        indexes = [
            # Default sort of the public search, and keyset pagination on (search_name, id). Covering the
            # public columns (PostgreSQL; others ignore INCLUDE): a name-ordered export of a million rows
            # is then an index-only scan, 3 s instead of 11 s of random heap reads.
            models.Index(
                fields=["search_name", "id"],
                name="worker_name_keyset_idx",
                include=[
                    "last_name", "first_name", "middle_name", "registry_number", "admission_status",
                    "admission_valid_until", "registered_on", "primary_specialty", "region", "category",
                ],
            ),
            # The advanced search filters, each paired with the default sort so PostgreSQL can
            # walk the index in order and stop at the page size. The other filter columns are
            # carried along (INCLUDE, PostgreSQL): a page of ids and the capped count of any filter
            # combination are then index-only scans that test every filter on the index entry,
            # never reading the table row by row (see registry.search, migration 0009).
            *[
                models.Index(
                    fields=[column, "search_name", "id"],
                    name=name,
                    include=[c for c in SEARCH_FILTER_COLUMNS if c != column],
                )
                for column, name in (
                    ("primary_specialty", "worker_spec_name_idx"),
                    ("region", "worker_region_name_idx"),
                    ("admission_status", "worker_status_name_idx"),
                    ("category", "worker_cat_name_idx"),
                )
            ],
            # The date sorts, covering the filters too (migration 0012): «region 41 by expiry date» tests
            # the region on index entries instead of fetching 17,000 table rows to find a page.
            models.Index(
                fields=["registered_on", "id"],
                name="worker_registered_idx",
                include=[c for c in SEARCH_FILTER_COLUMNS if c != "registered_on"],
            ),
            # With id: a sort on the expiry date must not sort the large NULL group by id.
            models.Index(
                fields=["admission_valid_until", "id"], name="worker_admission_until_idx", include=SEARCH_FILTER_COLUMNS
            ),
            # The API changes feed (?updated_since=).
            models.Index(fields=["updated_at", "id"], name="worker_updated_idx"),
            models.Index(fields=["last_name", "first_name", "birth_date"], name="worker_dup_probe_idx"),
        ]
        constraints = [
            *[
                models.UniqueConstraint(fields=[name], name=f"worker_{name}_unique")
                for name in ("registry_number", "snils", "inn")
            ],
            models.CheckConstraint(condition=Q(birth_date__gte=dt.date(1900, 1, 1)), name="worker_birth_after_1900"),
            models.CheckConstraint(condition=~Q(last_name=""), name="worker_last_name_not_empty"),
            models.CheckConstraint(condition=~Q(first_name=""), name="worker_first_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def snils_display(self) -> str:
        return validators.format_snils(self.snils)

    @property
    def registry_number_display(self) -> str:
        return validators.format_registry_number(self.registry_number)

    @property
    def category_short(self) -> str:
        return self.category_label(self.category.name) if self.category_id else ""

    @staticmethod
    def category_label(name: str) -> str:
        """«Высшая», not «Высшая квалификационная категория»: the results table is narrow."""
        return name.replace(" квалификационная категория", "")


class WorkerTombstone(models.Model):
    """A worker record that left the register: merged into another record or deleted. The API's changes
    feed reports it, so a copy of the register elsewhere can drop or redirect the record. Written by the
    service that removes the worker, in the same transaction (registry.services.worker_delete,
    registry.dq.worker_merge)."""

    class Kind(models.TextChoices):
        MERGED = "merged", "Объединена с другой записью"
        DELETED = "deleted", "Удалена"

    # Not a foreign key: the worker row is gone. An id and a number are never reused.
    worker_id = models.BigIntegerField("id записи")
    registry_number = models.CharField("регистровый номер", max_length=10)
    kind = models.CharField("что произошло", max_length=16, choices=Kind.choices)
    # Follows later merges of the survivor (worker_merge moves every row that points at the merged record),
    # so it names the record that holds the data now.
    merged_into = models.ForeignKey(
        MedicalWorker,
        models.SET_NULL,
        null=True,
        blank=True,
        verbose_name="объединена с",
        related_name="merged_tombstones",
    )
    created_at = models.DateTimeField("когда", default=timezone.now)

    class Meta:
        verbose_name = "удалённая запись работника"
        verbose_name_plural = "удалённые записи работников"
        indexes = [
            # The changes feed pages tombstones by (created_at, id), as it pages workers by (updated_at, id).
            models.Index(fields=["created_at", "id"], name="worker_tombstone_feed_idx"),
            models.Index(fields=["worker_id"], name="worker_tombstone_worker_idx"),
        ]

    def __str__(self) -> str:
        return f"{validators.format_registry_number(self.registry_number)}: {self.get_kind_display()}"


class Employment(models.Model):
    """A personal card (личная карточка): one post of a worker at an organization."""

    class Kind(models.TextChoices):
        MAIN = "main", "Основное место работы"
        INTERNAL = "internal", "Внутреннее совместительство"
        EXTERNAL = "external", "Внешнее совместительство"

    worker = models.ForeignKey(
        MedicalWorker, models.CASCADE, verbose_name="работник", related_name="employments", db_index=False
    )  # covered by employment_worker_idx
    organization = models.ForeignKey(
        MedicalOrganization, models.PROTECT, verbose_name="организация", related_name="employments"
    )
    department = models.CharField("подразделение", max_length=300, blank=True)
    position = models.ForeignKey(Position, models.PROTECT, verbose_name="должность", related_name="+")
    specialty = models.ForeignKey(
        Specialty, models.PROTECT, null=True, blank=True, verbose_name="специальность", related_name="+"
    )
    rate = models.DecimalField("ставка", max_digits=3, decimal_places=2)
    kind = models.CharField("вид занятости", max_length=16, choices=Kind.choices, default=Kind.MAIN)
    started_on = models.DateField("дата начала")
    ended_on = models.DateField("дата окончания", null=True, blank=True)
    dismissal_reason = models.CharField("причина увольнения", max_length=500, blank=True)
    updated_at = models.DateTimeField("изменено", auto_now=True)

    class Meta:
        verbose_name = "место работы"
        verbose_name_plural = "места работы"
        ordering = ["-started_on"]
        indexes = [
            # Search by organization finds current staff only.
            models.Index(
                fields=["organization", "worker"], condition=Q(ended_on__isnull=True), name="employment_current_idx"
            ),
            models.Index(fields=["worker", "ended_on"], name="employment_worker_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0.25) & Q(rate__lte=1.5), name="employment_rate_range"),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="employment_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(dismissal_reason="") | Q(ended_on__isnull=False),
                name="employment_dismissal_needs_end",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position} — {self.organization}"

    @property
    def is_current(self) -> bool:
        return self.ended_on is None or self.ended_on >= timezone.localdate()


class Education(models.Model):
    worker = models.ForeignKey(MedicalWorker, models.CASCADE, verbose_name="работник", related_name="educations")
    level = models.ForeignKey(EducationLevel, models.PROTECT, verbose_name="уровень", related_name="+")
    institution = models.CharField("образовательная организация", max_length=500)
    diploma_series = models.CharField("серия диплома", max_length=20, blank=True)
    diploma_number = models.CharField("номер диплома", max_length=30)
    issued_on = models.DateField("дата выдачи")
    specialty = models.ForeignKey(
        Specialty, models.PROTECT, null=True, blank=True, verbose_name="специальность", related_name="+"
    )
    specialty_text = models.CharField("специальность по диплому", max_length=300, blank=True)
    qualification = models.CharField("квалификация", max_length=300, blank=True)

    class Meta:
        verbose_name = "образование"
        verbose_name_plural = "образование"
        ordering = ["-issued_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "diploma_series", "diploma_number"], name="education_unique_diploma"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.level}: {self.institution}"


class AdmissionDocument(models.Model):
    """A specialist certificate or an accreditation record for one specialty."""

    class Kind(models.TextChoices):
        CERTIFICATE = "certificate", "Сертификат специалиста"
        ACCREDITATION = "accreditation", "Свидетельство об аккредитации"

    class Status(models.TextChoices):
        VALID = "valid", "Действителен"
        SUSPENDED = "suspended", "Приостановлен"
        ANNULLED = "annulled", "Аннулирован"

    worker = models.ForeignKey(
        MedicalWorker, models.CASCADE, verbose_name="работник", related_name="admission_documents", db_index=False
    )  # covered by admission_worker_spec_idx
    kind = models.CharField("вид документа", max_length=16, choices=Kind.choices)
    accreditation_kind = models.ForeignKey(
        AccreditationKind, models.PROTECT, null=True, blank=True, verbose_name="вид аккредитации", related_name="+"
    )
    specialty = models.ForeignKey(Specialty, models.PROTECT, verbose_name="специальность", related_name="+")
    number = models.CharField("номер", max_length=40)
    issued_on = models.DateField("дата выдачи")
    valid_until = models.DateField("действует до")
    status = models.CharField("статус", max_length=16, choices=Status.choices, default=Status.VALID)
    updated_at = models.DateTimeField("изменено", auto_now=True)

    class Meta:
        verbose_name = "документ о допуске"
        verbose_name_plural = "документы о допуске"
        ordering = ["-valid_until"]
        indexes = [
            models.Index(fields=["worker", "specialty"], name="admission_worker_spec_idx"),
            models.Index(fields=["valid_until"], name="admission_valid_until_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["kind", "number"], name="admission_unique_number"),
            models.CheckConstraint(condition=Q(valid_until__gt=F("issued_on")), name="admission_valid_after_issue"),
            models.CheckConstraint(
                condition=Q(kind="certificate", accreditation_kind__isnull=True)
                | Q(kind="accreditation", accreditation_kind__isnull=False),
                name="admission_accreditation_kind_matches",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} № {self.number}"

    def clean(self):
        super().clean()
        if self.issued_on and self.valid_until:
            years = settings.ADMISSION_VALIDITY_YEARS
            try:
                limit = self.issued_on.replace(year=self.issued_on.year + years)
            except ValueError:  # 29 February
                limit = self.issued_on.replace(year=self.issued_on.year + years, day=28)
            if self.valid_until > limit:
                raise ValidationError(
                    {"valid_until": f"Действует до: не позже {limit:%d.%m.%Y} — документ действует {years} лет."}
                )

    def admission_status(self, today: dt.date | None = None) -> AdmissionStatus:
        """The admission this one document gives on `today`."""
        today = today or timezone.localdate()
        if self.status == self.Status.ANNULLED:
            return AdmissionStatus.ANNULLED
        if self.status == self.Status.SUSPENDED:
            return AdmissionStatus.SUSPENDED
        if self.valid_until < today:
            return AdmissionStatus.EXPIRED
        if (self.valid_until - today).days <= settings.ADMISSION_EXPIRING_DAYS:
            return AdmissionStatus.EXPIRING
        return AdmissionStatus.ACTIVE

    def is_expiring(self, today: dt.date | None = None) -> bool:
        return self.admission_status(today) == AdmissionStatus.EXPIRING


class CategoryAssignment(models.Model):
    """A qualification category (вторая / первая / высшая) awarded for a specialty."""

    worker = models.ForeignKey(
        MedicalWorker, models.CASCADE, verbose_name="работник", related_name="category_assignments"
    )
    category = models.ForeignKey(QualificationCategory, models.PROTECT, verbose_name="категория", related_name="+")
    specialty = models.ForeignKey(Specialty, models.PROTECT, verbose_name="специальность", related_name="+")
    awarded_on = models.DateField("дата присвоения")
    valid_until = models.DateField("действует до")
    order_number = models.CharField("номер приказа", max_length=60, blank=True)

    class Meta:
        verbose_name = "квалификационная категория работника"
        verbose_name_plural = "квалификационные категории работников"
        ordering = ["-awarded_on"]
        constraints = [
            models.CheckConstraint(condition=Q(valid_until__gt=F("awarded_on")), name="category_valid_after_award"),
        ]

    def __str__(self) -> str:
        return f"{self.category} ({self.specialty})"

    def is_current(self, today: dt.date | None = None) -> bool:
        return self.valid_until >= (today or timezone.localdate())


class ContinuingEducation(models.Model):
    """A continuing medical education (НМО) record; 1 credit (ЗЕТ) counts as 1 academic hour."""

    class Kind(models.TextChoices):
        PROGRAM = "program", "Программа повышения квалификации"
        ACTIVITY = "activity", "Образовательное мероприятие"
        ELEMENT = "element", "Интерактивный образовательный модуль"

    worker = models.ForeignKey(
        MedicalWorker, models.CASCADE, verbose_name="работник", related_name="cme_records", db_index=False
    )  # covered by cme_worker_date_idx
    specialty = models.ForeignKey(
        Specialty, models.PROTECT, null=True, blank=True, verbose_name="специальность", related_name="+"
    )
    kind = models.CharField("вид", max_length=16, choices=Kind.choices, default=Kind.PROGRAM)
    topic = models.CharField("тема", max_length=500)
    provider = models.CharField("организатор", max_length=500, blank=True)
    completed_on = models.DateField("дата освоения")
    hours = models.PositiveSmallIntegerField("часы (ЗЕТ)")

    class Meta:
        verbose_name = "запись НМО"
        verbose_name_plural = "записи НМО"
        ordering = ["-completed_on"]
        indexes = [models.Index(fields=["worker", "completed_on"], name="cme_worker_date_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(hours__gte=1) & Q(hours__lte=1000), name="cme_hours_range"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} ({self.hours} ч)"


class SearchWord(models.Model):
    """A distinct word of the normalized full names at a position (1 surname, 2 name, 3 patronymic, 4 later).

    The search's dictionary (see registry.search): a typed prefix expands to the exact words it
    starts, each served in name order by an expression index on split_part(search_name, ' ', n);
    `workers` picks the most selective typed word; and the typo fallback corrects a word against it
    with pg_trgm (10^5 words instead of 3·10^6 names, the way the pg_trgm documentation pairs it with
    full-text search). Kept by worker_refresh_derived (new words) and rebuilt nightly (exact counts);
    a stale count only makes a plan a little worse, a stale word a correction that finds nobody.
    """

    word = models.CharField("слово", max_length=100)
    position = models.PositiveSmallIntegerField("позиция в ФИО")
    workers = models.PositiveIntegerField("работников", default=0)

    class Meta:
        verbose_name = "слово поискового словаря"
        verbose_name_plural = "поисковый словарь"
        constraints = [models.UniqueConstraint(fields=["word", "position"], name="search_word_unique")]

    def __str__(self) -> str:
        return f"{self.word} ({self.position})"


# --- Saved searches and watched workers (notifications) --------------------------------------


class SavedSearch(models.Model):
    """A user's named search; with `notify` the daily digest reports workers that newly match."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, verbose_name="пользователь", related_name="saved_searches"
    )
    name = models.CharField("название", max_length=100)
    # The GET parameters as typed (strings), without page/per_page/sort: re-running rebuilds the URL.
    params = models.JSONField("параметры", default=dict)
    notify = models.BooleanField("уведомлять о новых", default=True)
    created_at = models.DateTimeField("создан", auto_now_add=True)
    last_checked_at = models.DateTimeField("последняя проверка", null=True, blank=True)
    # Workers with a higher id have not been considered yet; the digest moves it forward.
    last_seen_max_id = models.BigIntegerField("последний учтённый работник", default=0)

    class Meta:
        verbose_name = "сохранённый поиск"
        verbose_name_plural = "сохранённые поиски"
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_search_unique_name")]

    def __str__(self) -> str:
        return self.name

    def query_string(self) -> str:
        from urllib.parse import urlencode

        return urlencode(sorted(self.params.items()))


class WatchedWorker(models.Model):
    """A worker whose admission status a user follows; `last_status` is the one already reported."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, verbose_name="пользователь", related_name="watched_workers"
    )
    worker = models.ForeignKey(MedicalWorker, models.CASCADE, verbose_name="работник", related_name="watchers")
    last_status = models.CharField("статус при последней проверке", max_length=16, choices=AdmissionStatus.choices)
    created_at = models.DateTimeField("добавлен", auto_now_add=True)

    class Meta:
        verbose_name = "отслеживаемый работник"
        verbose_name_plural = "отслеживаемые работники"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "worker"], name="watched_worker_unique")]

    def __str__(self) -> str:
        return f"{self.user} → {self.worker}"


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


# Data quality and registry sync (issue 7) live in their own module; imported here so Django sees them.
from .dq_models import (  # noqa: E402, F401
    DiscrepancyAlert,
    DQAuditRun,
    DuplicateCandidate,
    ImportJob,
    ImportKind,
    WorkerMerge,
    WorkforceSnapshot,
)
