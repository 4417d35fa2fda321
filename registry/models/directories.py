"""Directories of the health ministry (НСИ), each with its OID, and the regions."""

from __future__ import annotations

from django.db import models


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


class DismissalReason(DirectoryEntry):
    """Grounds for ending an employment contract (Трудовой кодекс РФ, ст. 77 and the articles it names), the
    list an organization's HR officer picks from. The ministry's NSI publishes no such directory, so it
    has no OID; the codes are the article and its part."""

    OID = ""

    class Meta(DirectoryEntry.Meta):
        verbose_name = "основание увольнения"
        verbose_name_plural = "основания увольнения"


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
    DismissalReason,
    Region,
)
