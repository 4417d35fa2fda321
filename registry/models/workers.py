"""Medical workers (ФРМР) and their records: employments, education, admission documents,
qualification categories and continuing education.

Identifiers are stored as bare digits and shown formatted (see core.validators).
Derived search fields on MedicalWorker (search_name, admission_status, ...) are kept current by
registry.services.worker_refresh_derived(); they exist because at three million rows the public
search must filter and sort on one table with plain btree indexes, not join and aggregate."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from core import validators

from .directories import AccreditationKind, EducationLevel, Position, QualificationCategory, Region, Specialty
from .organizations import MedicalOrganization


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
    "primary_specialty",
    "region",
    "category",
    "admission_status",
    "registered_on",
    "has_confirmed_documents",
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
        Region,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="регион",
        related_name="workers",
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
        "статус допуска", max_length=16, choices=AdmissionStatus, default=AdmissionStatus.NONE
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
                    "last_name",
                    "first_name",
                    "middle_name",
                    "registry_number",
                    "admission_status",
                    "admission_valid_until",
                    "registered_on",
                    "primary_specialty",
                    "region",
                    "category",
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
            # The duplicate check's lookups by a shared phone or e-mail.
            models.Index(fields=["phone"], name="worker_phone_idx", condition=~Q(phone="")),
            models.Index(Lower("email"), name="worker_email_idx", condition=~Q(email="")),
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

    class Source(models.TextChoices):
        REGISTER = "register", "Регистр (импорт, служба поддержки)"
        ORGANIZATION = "organization", "Внесено работодателем"

    worker = models.ForeignKey(
        MedicalWorker, models.CASCADE, verbose_name="работник", related_name="employments", db_index=False
    )  # covered by employment_worker_idx
    organization = models.ForeignKey(
        MedicalOrganization, models.PROTECT, verbose_name="организация", related_name="employments", db_index=False
    )  # covered by employment_org_list_idx
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
    # Set to "organization" when the employer's HR cabinet (orgs.services) writes the row: the worker's
    # cabinet shows such entries and lets the worker dispute them. A database default too, since the
    # import and the synthetic generator insert rows with SQL that names its columns.
    source = models.CharField(
        "источник", max_length=16, choices=Source.choices, default=Source.REGISTER, db_default=Source.REGISTER
    )
    updated_at = models.DateTimeField("изменено", auto_now=True)
    # The worker's admission, copied onto each post by database triggers (models/admission_copy.py) so
    # that the staff list filters by it from employment_org_list_idx alone. Never written by code.
    worker_admission_status = models.CharField(
        "статус допуска работника",
        max_length=16,
        choices=AdmissionStatus,
        default=AdmissionStatus.NONE,
        db_default=AdmissionStatus.NONE,  # SQL inserts that name their columns (the trigger then sets it)
        editable=False,
    )
    worker_admission_valid_until = models.DateField("допуск работника действует до", null=True, editable=False)

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
            # The organization cabinet: its staff list (current and past, 20,000 rows for a large
            # hospital) and the check that a worker is or was employed there (organization, worker).
            # Carrying the row's id, dates and filter columns (PostgreSQL INCLUDE), the list's count,
            # its filters and the ids of a page are index-only scans; the workers are then joined by
            # primary key.
            models.Index(
                fields=["organization", "worker"],
                name="employment_org_list_idx",
                include=[
                    "id",
                    "ended_on",
                    "started_on",
                    "position",
                    "specialty",
                    "department",
                    "worker_admission_status",
                    "worker_admission_valid_until",
                ],
            ),
            # The staff list sorted by start date (either way): the first page is read in order with
            # the filters tested on the index entry, instead of sorting all of the organization's rows.
            models.Index(
                fields=["organization", "started_on", "id"],
                name="employment_org_started_idx",
                include=["ended_on", "position", "specialty", "department"],
            ),
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
        # A diploma shared by two workers (the duplicate check).
        indexes = [models.Index(fields=["diploma_number"], name="education_diploma_idx")]

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
            # A number shared by two workers (the duplicate check, the discrepancy check).
            models.Index(fields=["number"], name="admission_number_idx"),
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
