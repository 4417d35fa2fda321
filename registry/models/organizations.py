"""Medical organizations (ФРМО) and their licences."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from core import validators

from .directories import OrganizationType, Region


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
    number = models.CharField("номер", max_length=40, unique=True, validators=[validators.validate_license_number])
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
