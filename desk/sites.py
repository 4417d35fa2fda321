"""The admin site whose home page is the staff desk: what is waiting, how old, and where to act."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from . import selectors


@dataclass(frozen=True)
class QueueSpec:
    """How one queue of desk.selectors is shown: its title, section, change list and filters."""

    key: str
    section: str
    title: str
    model: str  # "app_label.model_name" of the change list
    query: dict
    # The field and bound of "overdue" in the change list's query: (field lookup, "now" or "deadline").
    overdue_query: dict | None = None
    staff_query: dict | None = None


QUEUES = (
    QueueSpec("identity_open", "Заявления", "Подтверждение личности: не завершены", "verification.identityapplication",
              {"queue": "open"}, {"queue": "open", "submitted_at__lte": "deadline"}, {"queue": "review"}),
    QueueSpec("qualification_open", "Заявления", "Подтверждение квалификации: не завершены",
              "verification.qualificationapplication",
              {"queue": "open"}, {"queue": "open", "submitted_at__lte": "deadline"}, {"queue": "review"}),
    QueueSpec("change_requests", "Заявления", "Исправления профиля: ждут проверки", "verification.changerequest",
              {"status__exact": "pending"}, {"status__exact": "pending", "created_at__lte": "deadline"}),
    QueueSpec("qualification_fix", "Заявления", "Квалификация: ждут исправления работником",
              "verification.qualificationapplication",
              {"status__exact": "needs_fix"}, {"status__exact": "needs_fix", "fix_deadline__lte": "now"}),
    QueueSpec("identity_fix", "Заявления", "Личность: отклонены, ждут исправления работником",
              "verification.identityapplication",
              {"status__exact": "rejected"}, {"status__exact": "rejected", "fix_deadline__lte": "now"}),
    QueueSpec("tickets_new", "Обращения", "Новые обращения", "support.ticket",
              {"status__exact": "new"}, {"status__exact": "new", "age": "overdue"}),
    QueueSpec("tickets_reply", "Обращения", "Ждут ответа сотрудника", "support.ticket",
              {"status__exact": "in_progress"}, {"status__exact": "in_progress", "age": "overdue"}),
    QueueSpec("discrepancies", "Качество данных", "Открытые расхождения", "registry.discrepancyalert",
              {"resolved_at__isempty": "1"}),
    QueueSpec("duplicates", "Качество данных", "Возможные дубликаты", "registry.duplicatecandidate",
              {"status__exact": "open"}),
    QueueSpec("imports", "Задания", "Импорт: в очереди и выполняется", "registry.importjob",
              {"status__in": "queued,running"}),
    QueueSpec("exports", "Задания", "Выгрузки: в очереди и формируются", "registry.exportjob",
              {"status__in": "queued,running"}),
)  # fmt: skip

DASHBOARDS = (
    ("Мониторинг кадрового состава", "admin:registry_workforcesnapshot_dashboard", "registry.view_workforcesnapshot"),
    ("Качество данных", "admin:registry_dqauditrun_dashboard", "registry.view_dqauditrun"),
)


def format_duration(delta: dt.timedelta) -> str:
    """«2 д 4 ч», «5 ч 10 мин», «3 мин»: the age of a queue item as staff read it."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} д {hours} ч" if hours else f"{days} д"
    if hours:
        return f"{hours} ч {minutes} мин" if minutes else f"{hours} ч"
    return f"{minutes} мин"


def format_deadline(delta: dt.timedelta) -> str:
    """«24 ч», «7 д», «30 д»: deadlines as the rules state them."""
    hours = int(delta.total_seconds() // 3600)
    return f"{hours} ч" if hours <= 48 else format_duration(delta)


def _url(model: str, query: dict | None, bounds: dict[str, str]) -> str:
    if query is None:
        return ""
    app_label, model_name = model.split(".")
    values = {key: bounds.get(value, value) for key, value in query.items()}
    return reverse(f"admin:{app_label}_{model_name}_changelist") + "?" + urlencode(values)


def _row(spec: QueueSpec, figures: selectors.QueueFigures, now: dt.datetime, user) -> dict:
    app_label, model_name = spec.model.split(".")
    allowed = user.has_perm(f"{app_label}.view_{model_name}")
    stamp = now.replace(microsecond=0)
    bounds = {"now": stamp.isoformat()}
    if figures.deadline is not None:
        bounds["deadline"] = (stamp - figures.deadline).isoformat()
    age = figures.age(now)
    return {
        "section": spec.section,
        "title": spec.title,
        "figures": figures,
        "age": format_duration(age) if age is not None else "",
        "deadline": format_deadline(figures.deadline) if figures.deadline else "",
        "late": bool(age and figures.deadline and age > figures.deadline),
        "url": _url(spec.model, spec.query, bounds) if allowed else "",
        "overdue_url": _url(spec.model, spec.overdue_query, bounds) if allowed else "",
        "staff_url": _url(spec.model, spec.staff_query, bounds) if allowed else "",
    }


def desk_context(request) -> dict:
    now = timezone.now()
    queues = selectors.desk_queues(now=now)
    rows = [_row(spec, queues[spec.key], now, request.user) for spec in QUEUES]
    sections: dict[str, list[dict]] = {}
    for row in rows:
        sections.setdefault(row["section"], []).append(row)
    dashboards = [(title, reverse(name)) for title, name, perm in DASHBOARDS if request.user.has_perm(perm)]
    return {"desk_sections": sections, "desk_dashboards": dashboards, "desk_now": now}


class DeskAdminSite(admin.AdminSite):
    site_header = "Медрег — служба поддержки"
    site_title = "Медрег"
    index_title = "Рабочий стол"
    index_template = "desk/index.html"

    def index(self, request, extra_context=None):
        return super().index(request, extra_context={**desk_context(request), **(extra_context or {})})
