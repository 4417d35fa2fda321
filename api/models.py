"""Partner tokens of the integration API and the official extracts issued to workers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class PartnerToken(models.Model):
    """A token of one integrating system. Only a SHA-256 hash is stored; the token itself is shown
    once, when staff create it in the admin (api.services.partner_token_create)."""

    class Scope(models.TextChoices):
        # Every token (and every anonymous caller) has the public scope: what /registry/ shows.
        PERSONAL = "personal", "Персональные данные работников (СНИЛС, ИНН, дата рождения, контакты)"
        DOCUMENTS = "documents", "Номера и даты документов о допуске и приказов о категориях"
        # Writes of the bound organization's own employments (api.rest.employment); needs `organization`.
        EMPLOYMENT_WRITE = "employment:write", "Запись мест работы своей организации (приём, перевод, увольнение)"

    name = models.CharField("информационная система", max_length=200)
    contact = models.CharField("ответственный (контакт)", max_length=300, blank=True)
    prefix = models.CharField("префикс", max_length=12, unique=True, editable=False)
    key_hash = models.CharField("SHA-256 токена", max_length=64, editable=False)
    scopes = models.JSONField("области доступа", default=list, blank=True)
    rate_per_minute = models.PositiveIntegerField("запросов в минуту", default=120)
    created_at = models.DateTimeField("создан", default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кем создан", related_name="+"
    )
    revoked_at = models.DateTimeField("отозван", null=True, blank=True)
    # A token of an organization's own system: it writes that organization's employments only.
    organization = models.ForeignKey(
        "registry.MedicalOrganization",
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="организация",
        related_name="+",
        help_text="Для области «Запись мест работы»: токен работает только с сотрудниками этой организации.",
    )
    last_used_at = models.DateTimeField("последнее обращение", null=True, blank=True)

    class Meta:
        verbose_name = "токен информационной системы"
        verbose_name_plural = "токены информационных систем"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return self.is_active and scope in (self.scopes or [])


class Extract(models.Model):
    """An official extract a worker downloaded: the signed facts it showed and its short code."""

    class Kind(models.TextChoices):
        REGISTRY = "registry", "Выписка из регистра медицинских работников"
        QUALIFICATION = "qualification", "Справка о квалификационном статусе"

    code = models.CharField("код проверки", max_length=16, unique=True)
    kind = models.CharField("вид", max_length=16, choices=Kind.choices)
    worker = models.ForeignKey(
        "registry.MedicalWorker", models.PROTECT, verbose_name="работник", related_name="extracts", db_index=False
    )  # covered by extract_worker_idx
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, verbose_name="кто получил", related_name="extracts"
    )
    created_at = models.DateTimeField("выдана", default=timezone.now)
    # Exactly the facts printed on the document; the signature covers these bytes (api.extracts.signing.canonical).
    payload = models.JSONField("сведения выписки")
    key_id = models.CharField("ключ подписи", max_length=40)
    signature = models.CharField("подпись Ed25519", max_length=200)

    class Meta:
        verbose_name = "выписка"
        verbose_name_plural = "выписки"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["worker", "-created_at"], name="extract_worker_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.code_display}"

    @property
    def code_display(self) -> str:
        return f"{self.code[:4]}-{self.code[4:8]}-{self.code[8:]}"
