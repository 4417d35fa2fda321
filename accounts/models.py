"""Accounts, one-time codes, lockout, sessions and the audit journal.

Medical workers log in by SNILS; support staff by their staff login. Workers' `username` is
their SNILS digits, so Django's authentication machinery (unique USERNAME_FIELD, admin, password
reset) works unchanged while the login form accepts SNILS in any common formatting.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core import validators


def _new_session_token() -> str:
    return secrets.token_hex(16)


class RegistryUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        # `manage.py createsuperuser` makes an administrator, a staff account: a worker account must
        # have a SNILS (user_worker_has_snils) and would be refused by the database.
        # The phone is asked for (REQUIRED_FIELDS): without one the second factor has nowhere to go
        # and the administrator could never log in.
        extra_fields.setdefault("kind", User.Kind.STAFF)
        if extra_fields.get("phone"):
            extra_fields["phone"] = validators.normalize_mobile_phone(extra_fields["phone"])
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    class Kind(models.TextChoices):
        WORKER = "worker", "Медицинский работник"
        STAFF = "staff", "Сотрудник службы поддержки"

    kind = models.CharField("тип пользователя", max_length=16, choices=Kind.choices, default=Kind.WORKER)
    snils = models.CharField(
        "СНИЛС", max_length=11, null=True, blank=True, unique=True, validators=[validators.validate_snils]
    )
    middle_name = models.CharField("отчество", max_length=150, blank=True)
    birth_date = models.DateField("дата рождения", null=True, blank=True)
    phone = models.CharField("телефон", max_length=20, blank=True)
    phone_confirmed_at = models.DateTimeField("телефон подтверждён", null=True, blank=True)
    # Part of the session auth hash: rotating it ends every session ("выйти на всех устройствах").
    session_token = models.CharField(max_length=32, default=_new_session_token, editable=False)

    objects = RegistryUserManager()
    REQUIRED_FIELDS = ["email", "phone"]  # what `createsuperuser` asks for besides the username

    class Meta:
        verbose_name = "пользователь"
        verbose_name_plural = "пользователи"
        constraints = [
            # A worker account without SNILS could never log in through the worker form.
            models.CheckConstraint(condition=~Q(kind="worker") | Q(snils__isnull=False), name="user_worker_has_snils"),
        ]

    def __str__(self) -> str:
        # Workers' username is their SNILS: labels in admin, logs and messages use the name instead.
        return self.full_name or (self.username if self.kind == self.Kind.STAFF else f"Пользователь № {self.pk}")

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def phone_confirmed(self) -> bool:
        return bool(self.phone and self.phone_confirmed_at)

    @property
    def masked_phone(self) -> str:
        digits = "".join(c for c in self.phone if "0" <= c <= "9")
        return f"+7 *** ***-**-{digits[-2:]}" if len(digits) >= 4 else ""

    def get_session_auth_hash(self) -> str:
        from django.utils.crypto import salted_hmac

        return salted_hmac(
            "medreg.accounts.session", f"{self.password}:{self.session_token}", algorithm="sha256"
        ).hexdigest()


class LoginThrottle(models.Model):
    """Failed attempts and lockout per login key (an HMAC of the SNILS or staff login).

    Keyed on what was typed, not on the account or the IP: an unknown SNILS locks exactly like a
    known one, so lockout does not reveal which SNILS have accounts, and changing IP does not help.
    """

    key = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    lockouts = models.PositiveIntegerField(default=0)
    last_lockout_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "счётчик неудачных входов"
        verbose_name_plural = "счётчики неудачных входов"

    def __str__(self) -> str:
        return f"{self.key[:12]}…"

    def is_locked(self, now=None) -> bool:
        return bool(self.locked_until and self.locked_until > (now or timezone.now()))


class OneTimeCode(models.Model):
    """A 6-digit code sent by SMS. Only its hash is stored."""

    class Purpose(models.TextChoices):
        LOGIN = "login", "Вход"
        PHONE_CONFIRM = "phone_confirm", "Подтверждение телефона"
        PASSWORD_RESET = "password_reset", "Восстановление пароля"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="one_time_codes")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    phone = models.CharField(max_length=20)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "одноразовый код"
        verbose_name_plural = "одноразовые коды"
        indexes = [models.Index(fields=["user", "purpose", "created_at"], name="otp_user_purpose_idx")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.created_at:%d.%m.%Y %H:%M}"


class TotpDevice(models.Model):
    """An authenticator app bound to the account (RFC 6238, 30-second steps)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="totp_device")
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last accepted time step: a code is accepted once, even within its 30-second window.
    last_used_step = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "приложение-аутентификатор"
        verbose_name_plural = "приложения-аутентификаторы"

    def __str__(self) -> str:
        return f"TOTP {self.user_id}"


class SmsOutbox(models.Model):
    """Messages sent by the database SMS backend (development and demo); staff read them in admin."""

    phone = models.CharField("телефон", max_length=20)
    text = models.TextField("текст")
    created_at = models.DateTimeField("отправлено", default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "SMS (исходящее)"
        verbose_name_plural = "SMS (исходящие)"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.phone} {self.created_at:%d.%m.%Y %H:%M}"


class Consent(models.Model):
    """Consent to personal-data processing (152-ФЗ), with the exact text version agreed to."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="consents")
    kind = models.CharField("вид согласия", max_length=32, default="personal_data")
    text_version = models.CharField("версия текста", max_length=32)
    given_at = models.DateTimeField("дата согласия", default=timezone.now)
    ip = models.GenericIPAddressField("IP-адрес", null=True, blank=True)

    class Meta:
        verbose_name = "согласие"
        verbose_name_plural = "согласия"

    def __str__(self) -> str:
        return f"{self.kind} {self.text_version}"


class Notification(models.Model):
    """A message to a user shown in the cabinet; important ones also go out by SMS (see
    accounts.notifications)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, verbose_name="получатель", related_name="notifications"
    )
    kind = models.CharField("вид", max_length=48)
    title = models.CharField("заголовок", max_length=200)
    body = models.TextField("текст")
    link = models.CharField("ссылка", max_length=300, blank=True)
    important = models.BooleanField("важное", default=False)
    created_at = models.DateTimeField("создано", default=timezone.now)
    read_at = models.DateTimeField("прочитано", null=True, blank=True)

    class Meta:
        verbose_name = "уведомление"
        verbose_name_plural = "уведомления"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_user_idx")]

    def __str__(self) -> str:
        return self.title


class OutboundMessage(models.Model):
    """An e-mail or SMS to send, kept until sent (the outbox, see accounts.outbox).

    Written in the transaction of the change it reports, so a committed decision always has its
    messages and a rolled-back one has none; the Celery task only sends what a row holds.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "e-mail"
        SMS = "sms", "SMS"

    class State(models.TextChoices):
        QUEUED = "queued", "в очереди"
        SENDING = "sending", "отправляется"
        SENT = "sent", "отправлено"
        FAILED = "failed", "не доставлено"

    channel = models.CharField("канал", max_length=8, choices=Channel.choices)
    to = models.CharField("адрес", max_length=254)
    subject = models.CharField("тема", max_length=300, blank=True)
    body = models.TextField("текст")
    # The HTML part of an e-mail (the same text with markup, accounts.emails); empty for an SMS.
    html_body = models.TextField("HTML-текст", blank=True, default="")
    state = models.CharField("состояние", max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField("попыток", default=0)
    created_at = models.DateTimeField("создано", default=timezone.now)
    queued_at = models.DateTimeField("поставлено в очередь", default=timezone.now)
    started_at = models.DateTimeField("начало отправки", null=True, blank=True)
    sent_at = models.DateTimeField("отправлено", null=True, blank=True)

    class Meta:
        verbose_name = "исходящее сообщение"
        verbose_name_plural = "исходящие сообщения"
        indexes = [
            # The reconciler's question: what is queued or sending since when (sent rows are most rows).
            models.Index(
                fields=["state", "queued_at"],
                name="outbox_pending_idx",
                condition=Q(state__in=["queued", "sending"]),
            ),
            models.Index(fields=["sent_at"], name="outbox_sent_idx", condition=Q(state="sent")),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.created_at:%d.%m.%Y %H:%M}"
