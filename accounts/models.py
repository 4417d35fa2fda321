"""Accounts. Medical workers log in by SNILS; support staff by their staff login.

Workers' `username` is their SNILS digits, so Django's authentication machinery (unique
USERNAME_FIELD, admin, password reset) works unchanged while the login form accepts SNILS in
any common formatting.
"""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q

from registry import validators


class User(AbstractUser):
    class Kind(models.TextChoices):
        WORKER = "worker", "Медицинский работник"
        STAFF = "staff", "Сотрудник службы поддержки"

    kind = models.CharField("тип пользователя", max_length=16, choices=Kind.choices, default=Kind.WORKER)
    snils = models.CharField(
        "СНИЛС", max_length=11, null=True, blank=True, unique=True, validators=[validators.validate_snils]
    )
    middle_name = models.CharField("отчество", max_length=150, blank=True)
    phone = models.CharField("телефон", max_length=20, blank=True)
    phone_confirmed_at = models.DateTimeField("телефон подтверждён", null=True, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = "пользователь"
        verbose_name_plural = "пользователи"
        constraints = [
            # A worker account without SNILS could never log in through the worker form.
            models.CheckConstraint(
                condition=~Q(kind="worker") | Q(snils__isnull=False), name="user_worker_has_snils"
            ),
        ]

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p) or self.username
