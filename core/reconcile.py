"""Re-enqueue work the broker lost: rows stuck in a queued (or long-running) state.

Delivery of a task is at least once (acks late, reject on worker lost, visibility timeout; see the
Celery settings), but two gaps remain that only the database can close:

- the web process committed a row "queued" but could not publish its task (Redis was down):
  ``enqueue_on_commit`` logs that and carries on, the request does not fail;
- a worker died outright after claiming a row; the broker redelivers the task only after its
  visibility timeout, and not at all if Redis lost the message.

Every app registers its queued models here (in its AppConfig.ready)::

    reconcile.register(ExportJob, status_field="status", queued_value="queued",
                       task="registry.run_export", age=timedelta(minutes=5))

and the periodic ``core.reconcile_queued`` task (core.tasks, every 5 minutes, see CELERY_BEAT_SCHEDULE)
enqueues again each row that has been queued for longer than ``age``, or running for longer than
``running_age``. The tasks claim their rows with a conditional UPDATE, so a duplicate delivery of
a row that was not lost after all is skipped; re-enqueueing is always safe.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from celery import Celery, current_app
from django.db import models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

BATCH = 500  # rows re-enqueued per model per run; the next run takes the rest


@dataclass(frozen=True)
class Reconciled:
    model: type[models.Model]
    status_field: str
    queued_value: str
    task: str
    age: dt.timedelta
    timestamp_field: str = "created_at"
    running_value: str | None = None
    running_timestamp_field: str | None = None
    running_age: dt.timedelta | None = None
    args: Callable[[models.Model], list] | None = None

    @property
    def label(self) -> str:
        return self.model._meta.label


_registry: dict[str, Reconciled] = {}


def register(
    model: type[models.Model],
    *,
    status_field: str,
    queued_value: str,
    task: str,
    age: dt.timedelta,
    timestamp_field: str = "created_at",
    running_value: str | None = None,
    running_timestamp_field: str | None = None,
    running_age: dt.timedelta | None = None,
) -> None:
    """Declare that rows of ``model`` with ``status_field == queued_value`` are processed by the
    Celery task named ``task`` (called with the row id as a string), and are lost when still queued
    ``age`` after ``timestamp_field``. Optionally rows in ``running_value`` whose
    ``running_timestamp_field`` is older than ``running_age`` are lost too (their worker died; the
    task must then be able to retake them, e.g. by claiming "running and started before ...")."""
    names = {f.name for f in model._meta.get_fields()}
    for field in (status_field, timestamp_field, running_timestamp_field):
        if field is not None and field not in names:
            raise ValueError(f"{model._meta.label} has no field {field!r}")
    if running_value is not None and (running_timestamp_field is None or running_age is None):
        raise ValueError("running_value needs running_timestamp_field and running_age")
    _registry[model._meta.label] = Reconciled(
        model=model,
        status_field=status_field,
        queued_value=queued_value,
        task=task,
        age=age,
        timestamp_field=timestamp_field,
        running_value=running_value,
        running_timestamp_field=running_timestamp_field,
        running_age=running_age,
    )


def registered() -> list[Reconciled]:
    return list(_registry.values())


_app: Celery | None = None


def use_app(app: Celery) -> None:
    """The Celery application tasks are published with; the wiring (portal.celery) sets it at start-up.
    Not celery.current_app: any other Celery() created in the process (a client in a test, a tool)
    becomes the current one."""
    global _app
    _app = app


def _celery() -> Celery:
    return _app if _app is not None else current_app


def _send(task_name: str, *args) -> None:
    app = _celery()
    if app.conf.task_always_eager:
        # The embedded set-up runs the task inline; by name, so the task module may not be imported yet.
        if task_name not in app.tasks:
            app.loader.import_default_modules()
        app.tasks[task_name].apply_async(args=list(args))
    else:
        # ignore_result: send_task would otherwise subscribe to the result backend before publishing
        # (send_task does not read task_ignore_result), a second Redis round trip that retries for
        # seconds while Redis is down.
        app.send_task(task_name, args=list(args), ignore_result=True)


def enqueue(task_name: str, *args, log_args: bool = True) -> bool:
    """Publish one task now; False (logged) when the broker cannot be reached. ``log_args=False``
    for messages (notification texts, addresses) that have no place in a log."""
    try:
        _send(task_name, *args)
    except Exception as exc:  # kombu OperationalError, redis ConnectionError, socket errors...
        if _celery().conf.task_always_eager:
            raise  # inline mode: the task itself failed, not the broker; let it show
        shown = ", ".join(map(str, args)) if log_args else f"{len(args)} arguments"
        logger.warning("could not enqueue %s(%s): %s", task_name, shown, type(exc).__name__)
        return False
    return True


def enqueue_on_commit(task_name: str, *args, using: str | None = None) -> None:
    """Publish the task once the current transaction commits, without ever raising into the request:
    if the broker is down the row stays queued and ``reconcile_queued`` picks it up later."""
    transaction.on_commit(lambda: enqueue(task_name, *args), using=using)


def reconcile_queued(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Enqueue again every registered row stuck in its queued (or stale running) state."""
    now = now or timezone.now()
    counts: dict[str, int] = {}
    for entry in registered():
        manager = entry.model._default_manager
        stuck = models.Q(**{entry.status_field: entry.queued_value, f"{entry.timestamp_field}__lt": now - entry.age})
        if entry.running_value is not None:
            stuck |= models.Q(
                **{
                    entry.status_field: entry.running_value,
                    f"{entry.running_timestamp_field}__lt": now - entry.running_age,
                }
            )
        pks = list(manager.filter(stuck).order_by(entry.timestamp_field).values_list("pk", flat=True)[:BATCH])
        sent = 0
        for pk in pks:
            if not enqueue(entry.task, str(pk)):
                break  # the broker is down: the next run tries again
            sent += 1
        if pks:
            logger.info("reconcile: %s: %s of %s stuck rows enqueued again", entry.label, sent, len(pks))
        counts[entry.label] = sent
    return counts
