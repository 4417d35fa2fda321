"""Saved searches and watched workers (the daily digest reports on them)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .workers import AdmissionStatus, MedicalWorker


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
