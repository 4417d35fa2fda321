"""The audit journal: one append-only table every app writes through core.audit.audit_record."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """The audit journal. Append-only: the admin cannot change it, and database triggers refuse
    UPDATE (and DELETE on PostgreSQL) of its rows."""

    class Event(models.TextChoices):
        LOGIN = "login", "Вход в систему"
        LOGIN_FAILED = "login_failed", "Неудачная попытка входа"
        LOCKOUT = "lockout", "Блокировка после неудачных попыток"
        LOGOUT = "logout", "Выход"
        LOGOUT_EVERYWHERE = "logout_everywhere", "Выход на всех устройствах"
        SESSION_EXPIRED = "session_expired", "Сеанс завершён по таймауту"
        CODE_SENT = "code_sent", "Отправлен одноразовый код"
        CODE_FAILED = "code_failed", "Неверный одноразовый код"
        PHONE_CONFIRMED = "phone_confirmed", "Телефон подтверждён"
        TOTP_ENROLLED = "totp_enrolled", "Подключено приложение-аутентификатор"
        TOTP_REMOVED = "totp_removed", "Отключено приложение-аутентификатор"
        PASSWORD_CHANGED = "password_changed", "Пароль изменён"
        PASSWORD_RESET_REQUESTED = "password_reset_requested", "Запрошено восстановление пароля"
        PASSWORD_RESET = "password_reset", "Пароль восстановлен"
        REGISTERED = "registered", "Регистрация учётной записи"
        CERTIFICATE_LOGIN = "certificate_login", "Вход по электронной подписи"
        CERTIFICATE_REFUSED = "certificate_refused", "Отказ во входе по электронной подписи"
        DATA_VIEWED = "data_viewed", "Просмотр персональных данных"
        DATA_CHANGED = "data_changed", "Изменение данных"
        EXPORT = "export", "Выгрузка данных"

    created_at = models.DateTimeField("время", default=timezone.now, db_index=True)
    event = models.CharField("событие", max_length=32, choices=Event.choices)
    # Whose data or account the entry is about; the owner sees entries where they are the subject.
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        verbose_name="чья запись",
        related_name="audit_entries",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, verbose_name="кто", related_name="+"
    )
    ip = models.GenericIPAddressField("IP-адрес", null=True, blank=True)
    user_agent = models.CharField("браузер", max_length=300, blank=True)
    object_type = models.CharField("объект", max_length=64, blank=True)
    object_id = models.CharField("идентификатор объекта", max_length=64, blank=True)
    details = models.JSONField("подробности", default=dict, blank=True)

    class Meta:
        verbose_name = "запись журнала аудита"
        verbose_name_plural = "журнал аудита"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subject", "-created_at"], name="audit_subject_idx")]
        # The table keeps the name it had when the journal lived in accounts: its append-only triggers
        # (accounts/migrations/0002) are defined on it.
        db_table = "accounts_auditentry"

    def __str__(self) -> str:
        return f"{self.created_at:%d.%m.%Y %H:%M} {self.get_event_display()}"
