"""Who acts for a medical organization: its HR officers and heads (created by support staff in the admin)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class OrgMembership(models.Model):
    """A user serving one organization. One person may serve several; each is a row."""

    class Role(models.TextChoices):
        HR = "hr", "Кадровик"
        HEAD = "head", "Руководитель"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        verbose_name="пользователь",
        related_name="org_memberships",
        db_index=False,  # covered by orgmembership_user_org_unique
    )
    # Indexed (the FK's own index): the HR officers of one organization (its digest, the admin's filter).
    organization = models.ForeignKey(
        "registry.MedicalOrganization", models.PROTECT, verbose_name="организация", related_name="memberships"
    )
    role = models.CharField("роль", max_length=8, choices=Role.choices, default=Role.HR)
    is_active = models.BooleanField("действует", default=True)
    created_at = models.DateTimeField("создано", default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, verbose_name="кем создано", related_name="+"
    )

    class Meta:
        verbose_name = "сотрудник организации"
        verbose_name_plural = "сотрудники организаций (кадровики)"
        ordering = ["organization", "user"]
        constraints = [
            # Also the index of "the organizations this user serves" (the login landing, every cabinet page).
            models.UniqueConstraint(fields=["user", "organization"], name="orgmembership_user_org_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.organization} ({self.get_role_display()})"

    @property
    def can_edit(self) -> bool:
        """Heads read the staff records; HR officers also change them."""
        return self.is_active and self.role == self.Role.HR


class ExpiryDigest(models.Model):
    """The claim of one organization's weekly expiry digest (orgs.digest): written with the e-mails in one
    transaction, and unique per organization and week, so the digest goes out once a week however often
    the task runs."""

    organization = models.ForeignKey(
        "registry.MedicalOrganization",
        models.CASCADE,
        verbose_name="организация",
        related_name="+",
        db_index=False,  # covered by expirydigest_org_week_unique
    )
    week = models.DateField("неделя (понедельник)")
    recipients = models.PositiveSmallIntegerField("получателей", default=0)
    created_at = models.DateTimeField("отправлено", default=timezone.now)

    class Meta:
        verbose_name = "сводка о сроках документов"
        verbose_name_plural = "сводки о сроках документов"
        constraints = [
            models.UniqueConstraint(fields=["organization", "week"], name="expirydigest_org_week_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.week:%d.%m.%Y}"
