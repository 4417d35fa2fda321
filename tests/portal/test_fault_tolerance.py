"""At-least-once delivery with idempotent tasks, the reconciler, and a web that keeps answering
while Redis is down. The service tests run real `celery worker` processes against real Redis:
the shared one (MEDREG_TEST_REDIS_URL) and, for the restart, a private redis-server of their own.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from core import reconcile, validators
from portal.celery import app
from registry.exports import services as exports
from registry.models import ExportJob, MedicalWorker
from tests.celery_harness import Workers, free_port, publishing_to
from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]


# --- Configuration ---------------------------------------------------------------------------------


def _all_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_celery_is_configured_for_at_least_once_delivery():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] >= 3600


def test_visibility_timeout_is_longer_than_every_task_time_limit():
    # Covers tasks added later too: a task without its own limit gets the global one.
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    tasks = _all_tasks()
    assert "registry.run_export" in tasks and "core.reconcile_queued" in tasks
    for name, task in tasks.items():
        limit = task.time_limit or app.conf.task_time_limit
        assert limit, f"{name} has no time limit"
        assert limit < visibility, f"{name}: time limit {limit}s is not shorter than the visibility timeout"


def test_exactly_one_beat_is_declared_and_reconciler_is_scheduled():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert schedule["reconcile-queued"]["task"] == "core.reconcile_queued"
    compose = (ROOT / "docker-compose.yml").read_text()
    beat = re.search(r"\n  beat:\n(.*?)(?=\n  \w|\nvolumes:)", compose, re.S).group(1)
    assert "replicas: 1" in beat
    # Only the beat service runs the scheduler; no worker is started with an embedded beat (-B).
    assert compose.count('"beat"') == 1
    assert not re.search(r'"worker"[^\]]*"(-B|--beat)"', compose)


def test_every_registered_model_names_a_real_task():
    tasks = _all_tasks()
    entries = reconcile.registered()
    assert any(entry.model is ExportJob for entry in entries)
    for entry in entries:
        assert entry.task in tasks, entry


def test_register_refuses_a_field_the_model_does_not_have():
    with pytest.raises(ValueError, match="no field"):
        reconcile.register(
            ExportJob,
            status_field="state",
            queued_value="queued",
            task="registry.run_export",
            age=dt.timedelta(minutes=5),
        )


# --- The reconciler (inline mode) -------------------------------------------------------------------


def _workers(count: int) -> None:
    MedicalWorker.objects.bulk_create(
        [
            MedicalWorker(
                registry_number=validators.registry_number_from_serial(500_000 + n),
                snils=validators.snils_from_number(400_000_000 + n * 7919),
                inn=validators.inn_person_from_body(f"78{n:08d}"),
                last_name=f"Иванова{n}",
                first_name="Анна",
                middle_name="Петровна",
                sex=MedicalWorker.Sex.FEMALE,
                birth_date=dt.date(1980, 1, 1),
                search_name=validators.normalize_person_name(f"Иванова{n} Анна Петровна"),
            )
            for n in range(count)
        ],
        batch_size=5000,
    )


@pytest.mark.django_db
def test_reconciler_enqueues_a_job_stuck_in_queued_and_leaves_a_fresh_one():
    _workers(3)
    stuck = ExportJob.objects.create(format="csv", params={}, created_at=timezone.now() - dt.timedelta(minutes=30))
    fresh = ExportJob.objects.create(format="csv", params={})
    assert reconcile.reconcile_queued()["registry.ExportJob"] == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (stuck.status, stuck.rows) == (ExportJob.Status.DONE, 3)
    assert fresh.status == ExportJob.Status.QUEUED
    # Run again: nothing left to do, the finished job is not touched.
    assert reconcile.reconcile_queued()["registry.ExportJob"] == 0


@pytest.mark.django_db
def test_reconciler_retakes_a_job_left_running_by_a_dead_worker():
    _workers(2)
    started = timezone.now() - exports.STALE_RUNNING - dt.timedelta(minutes=1)
    lost = ExportJob.objects.create(format="csv", params={}, status=ExportJob.Status.RUNNING, started_at=started)
    alive = ExportJob.objects.create(
        format="csv", params={}, status=ExportJob.Status.RUNNING, started_at=timezone.now()
    )
    reconcile.reconcile_queued()
    lost.refresh_from_db()
    alive.refresh_from_db()
    assert lost.status == ExportJob.Status.DONE
    assert alive.status == ExportJob.Status.RUNNING


@pytest.mark.django_db
def test_a_redelivered_task_retakes_its_running_job_and_a_duplicate_does_not():
    _workers(2)
    job = ExportJob.objects.create(format="csv", params={}, status=ExportJob.Status.RUNNING, started_at=timezone.now())
    assert exports.export_job_run(job_id=job.pk) == "skipped"  # a plain duplicate delivery
    assert exports.export_job_run(job_id=job.pk, redelivered=True) == ExportJob.Status.DONE
    assert exports.export_job_run(job_id=job.pk, redelivered=True) == "skipped"  # done stays done


# --- The web while Redis is down ---------------------------------------------------------------------


@pytest.fixture
def redis_down(settings):
    """Broker, cache and sessions all pointed at a port where no Redis listens."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    with publishing_to(dead):
        yield dead


def export_queued_while_redis_is_down(client, caplog) -> ExportJob:
    """An export above the threshold answers with its job page; the job stays queued, the failed
    publish logged (the reconciler enqueues it later)."""
    response = client.get(reverse("registry:export_csv"))
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.QUEUED
    assert f"could not enqueue registry.run_export({job.pk})" in caplog.text
    assert client.get(reverse("registry:export_job", args=[job.pk])).status_code == 200
    return job


@pytest.mark.django_db
def test_web_keeps_answering_and_queues_exports_while_redis_is_down(
    redis_down, worker_user, on_commit_immediate, monkeypatch, caplog
):
    _workers(3)
    monkeypatch.setattr(exports, "ASYNC_THRESHOLD", 1)  # every export becomes a background job
    client = Client()
    client.force_login(worker_user)
    for url in (
        "/",
        reverse("registry:search") + "?q=Иванова",
        reverse("accounts:security"),
        reverse("accounts:journal"),
    ):
        assert client.get(url).status_code == 200, url
    assert Client().get(reverse("accounts:login")).status_code == 200
    job = export_queued_while_redis_is_down(client, caplog)
    assert client.get(reverse("healthz")).status_code == 503
    # That publishing never waits on Redis is tested without a clock: tests/core/test_redis_down.py.

    # Redis is back (inline mode stands in for the broker here): the reconciler finishes the job.
    app.conf.task_always_eager = True
    reconcile.reconcile_queued(now=timezone.now() + dt.timedelta(minutes=10))
    job.refresh_from_db()
    assert (job.status, job.rows) == (ExportJob.Status.DONE, MedicalWorker.objects.count())


# --- Real workers -----------------------------------------------------------------------------------


def _status(job_id) -> ExportJob:
    return ExportJob.objects.get(pk=job_id)


class HeldExport:
    """Holds a worker in the middle of an export with locks taken from connections of the test's own,
    and tells from pg_stat_activity where it waits: events, not time, so a busy machine only makes the
    test slower. First the worker table is locked (the export's count waits, after the claim), then the
    job row (the export's first progress figure, after 2,000 rows written, waits)."""

    def __init__(self, job_id):
        import psycopg

        settings = connection.settings_dict
        params = {
            "dbname": settings["NAME"],
            "host": settings["HOST"] or "127.0.0.1",
            "port": settings["PORT"] or 5432,
            "user": settings["USER"],
            "password": settings["PASSWORD"],
        }
        self.job_id = job_id
        self.table = psycopg.connect(**params, autocommit=False)
        self.row = psycopg.connect(**params, autocommit=False)
        self.watcher = psycopg.connect(**params, autocommit=True)

    def lock_workers(self) -> None:
        self.table.execute("LOCK TABLE registry_medicalworker IN ACCESS EXCLUSIVE MODE")

    def lock_job_row(self) -> str:
        return self.row.execute(
            "SELECT status FROM registry_exportjob WHERE id = %s FOR UPDATE", [self.job_id]
        ).fetchone()[0]

    def waiting(self, statement: str) -> list[int]:
        rows = self.watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query ILIKE %s",
            [statement + "%"],
        ).fetchall()
        return [pid for (pid,) in rows]

    def end_backends(self, pids: list[int]) -> None:
        # The killed worker's database session would otherwise still make its write once the lock goes.
        for pid in pids:
            self.watcher.execute("SELECT pg_terminate_backend(%s)", [pid])

    def release(self) -> None:
        self.table.commit()
        self.row.commit()

    def close(self) -> None:
        for conn in (self.table, self.row, self.watcher):
            conn.close()


def _kill_mid_export(tmp_path, redis_url, *, whole_worker: bool):
    if connection.vendor != "postgresql":
        skip_or_fail("the worker is held mid-export by PostgreSQL locks")
    rows = 6_000  # more than one CHUNK_SIZE: the export reports progress before it ends
    _workers(rows)
    workers = Workers(redis_url, tmp_path, CELERY_BROKER_VISIBILITY_TIMEOUT="8")
    job = ExportJob.objects.create(format="xlsx", params={})
    held = HeldExport(job.pk)
    try:
        held.lock_workers()
        first = workers.start("first")
        workers.send("registry.run_export", str(job.pk))
        workers.wait(lambda: held.waiting("SELECT COUNT"), timeout=300, what="the worker to claim the job")
        assert held.lock_job_row() == ExportJob.Status.RUNNING
        held.table.commit()
        workers.wait(
            lambda: held.waiting('UPDATE "registry_exportjob"'),
            timeout=300,
            what="the worker to report its first progress",
        )
        sessions = held.waiting('UPDATE "registry_exportjob"')  # the first worker's, and only its
        workers.kill_mid_task(first, whole_worker=whole_worker)
        killed_at = _status(job.pk)
        assert killed_at.status == ExportJob.Status.RUNNING and killed_at.progress < 100
        held.end_backends(sessions)
        held.release()
        workers.start("second")
        workers.wait(
            lambda: _status(job.pk).status == ExportJob.Status.DONE,
            timeout=300,
            what="another worker to finish the export",
        )
        # The row turns DONE just before the worker logs it: wait for the line before stopping.
        workers.wait(lambda: f"export job {job.pk} done" in workers.output(), timeout=60, what="its log line")
    finally:
        held.close()
        workers.stop()
    job.refresh_from_db()
    assert (job.status, job.rows, job.error) == (ExportJob.Status.DONE, rows, "")
    sheet = load_workbook(exports.job_file_path(job), read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) == rows + 1
    output = workers.output()
    assert output.count(f"export job {job.pk} done") == 1, output[-4000:]
    assert not list(exports.exports_dir().glob(f"{job.pk}*.part"))
    return output


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_pool_process_killed_mid_export_is_requeued_and_finished_once(tmp_path, redis_url):
    output = _kill_mid_export(tmp_path, redis_url, whole_worker=False)
    assert "WorkerLostError" in output or "exited prematurely" in output


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_worker_killed_outright_mid_export_is_redelivered_to_another_worker_once(tmp_path, redis_url):
    # The killed worker never acknowledged: Redis gives the task to the second worker after the
    # visibility timeout (8 s in this test, two hours in production), and the redelivered task retakes
    # the job the dead worker left running.
    _kill_mid_export(tmp_path, redis_url, whole_worker=True)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_tasks_queued_across_redis_restarts_all_complete_exactly_once(tmp_path, private_redis):
    _workers(4000)
    url = private_redis.url
    workers = Workers(url, tmp_path)
    jobs = [ExportJob.objects.create(format="csv", params={}) for _ in range(8)]
    try:
        for job in jobs:
            workers.send("registry.run_export", str(job.pk))
        # 1. Restart with every task still queued and no worker yet: the queue survives.
        private_redis.restart()
        workers.start("worker")
        workers.wait(
            lambda: ExportJob.objects.filter(status=ExportJob.Status.DONE).exists(), timeout=120, what="the first job"
        )
        # 2. Restart again while the worker is busy with the rest: it reconnects and carries on.
        private_redis.restart(pause=1)

        def done() -> int:
            return ExportJob.objects.filter(status=ExportJob.Status.DONE).count()

        # A message Redis handed to the worker just as the connection dropped is lost with it: kombu
        # keeps it in its unacked hash until the visibility timeout (two hours), and its job stays
        # queued. The reconciler, which beat runs every few minutes, publishes such a job again. Once
        # the worker has nothing left to take (the queue is empty and no job runs), run it as beat
        # would; a job whose message was not lost after all is claimed once and the copy does nothing.
        workers.wait(
            lambda: (
                done() == len(jobs)
                or (workers.queue_empty() and not ExportJob.objects.filter(status=ExportJob.Status.RUNNING).exists())
            ),
            timeout=240,
            what="the worker to take every job it was given",
        )
        if done() < len(jobs):
            with workers.publishing():
                reconcile.reconcile_queued(now=timezone.now() + dt.timedelta(minutes=10))
        workers.wait(lambda: done() == len(jobs), timeout=240, what="every job")
        # The row turns DONE just before the worker logs it: wait for every log line too, or stopping
        # the worker at once can cut the last one off (a race of the test, not of the task).
        workers.wait(
            lambda: all(f"export job {job.pk} done" in workers.output() for job in jobs),
            timeout=60,
            what="every job's log line",
        )
    finally:
        workers.stop()
    output = workers.output()
    for job in jobs:
        job.refresh_from_db()
        assert (job.status, job.rows) == (ExportJob.Status.DONE, 4000)
        done_lines = output.count(f"export job {job.pk} done")
        assert done_lines == 1, f"job {job.pk} finished {done_lines} times\n{output[-4000:]}"


@pytest.mark.django_db
def test_support_ticket_is_accepted_while_redis_is_down(redis_down, on_commit_immediate, caplog):
    # Its e-mail cannot be queued; the ticket is registered anyway and the visitor sees its number.
    from support.models import Ticket

    response = Client().post(
        reverse("support:ticket_new"),
        {
            "full_name": "Петрова Анна Сергеевна",
            "inn_or_snils": "112-233-445 95",
            "topic": "other",
            "description": "Не открывается страница.",
            "contact_email": "anna@example.org",
        },
    )
    assert response.status_code == 302
    assert Ticket.objects.count() == 1
    assert "could not enqueue accounts.send_message(" in caplog.text
    assert "anna@example.org" not in caplog.text
    # The e-mail waits in the outbox for the reconciler, not lost with the publish.
    from accounts.models import OutboundMessage

    assert list(OutboundMessage.objects.values_list("state", "to")) == [("queued", "anna@example.org")]
