"""Read replicas against a real PostgreSQL streaming replica (core.replicas).

.ci/run makes a throwaway primary and a replica of it (deploy/pgcluster.py: pg_basebackup -R) and runs
this module a second time with DATABASE_URL on that primary, DATABASE_REPLICA_URLS on the replica and
MEDREG_TEST_REPLICA_DIR naming the pair, so the tests can pause, stop and start the replica. The test
database reaches the replica by replication; the tests wait for the replica's replay position, never
for time. In the ordinary run (no replica) the module is skipped: it has its own run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.signals import request_started
from django.db import OperationalError, close_old_connections, connections, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import replicas
from registry import services
from registry.exports import services as exports
from registry.models import ExportJob, MedicalWorker
from tests.conftest import skip_or_fail
from tests.factories import EmploymentFactory, UserFactory, WorkerFactory

ROOT = Path(__file__).resolve().parents[2]
PAIR = os.environ.get("MEDREG_TEST_REPLICA_DIR", "")
REPLICA = "replica_1"
# A register table in a query's FROM/JOIN: what must come from the replica.
REGISTER_TABLE = re.compile(
    r'(FROM|JOIN)\s+"?registry_(medicalworker|medicalorganization|employment|specialty|region|searchword)\b'
)

pytestmark = [pytest.mark.replica, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture(autouse=True)
def _replica_configured(settings):
    if not PAIR:
        skip_or_fail(
            "runs with -m replica against a primary and a streaming replica of its own (MEDREG_TEST_REPLICA_DIR)"
        )
    assert replicas.replica_aliases() == [REPLICA], "DATABASE_REPLICA_URLS: the replica of MEDREG_TEST_REPLICA_DIR"
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0  # every request re-reads the replica's state
    settings.DATABASE_REPLICA_RETRY_SECONDS = 0
    settings.DATABASE_REPLICA_MAX_LAG = 5
    replicas.forget_health()
    yield
    _pair("start", "--node", "replica")  # whatever a test stopped
    replicas.forget_health()


def _stop_replica(mode: str) -> None:
    # A restartpoint first: the replica then replays seconds of WAL when it starts again, not minutes.
    for alias in ("default", REPLICA):
        with connections[alias].cursor() as cursor:
            cursor.execute("CHECKPOINT")
        if alias == "default":
            replayed()
    _pair("stop", "--node", "replica", "--mode", mode)


def _pair(*args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "pgcluster.py"), args[0], "--dir", PAIR, *args[1:]], check=True
    )


def _scalar(alias: str, sql: str, params=()):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def wait_until(condition, *, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def replayed() -> None:
    """Until the replica has replayed every write the primary made so far (its replay position)."""
    target = _scalar("default", "SELECT pg_current_wal_lsn()::text")
    wait_until(
        lambda: _scalar(REPLICA, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]),
        what=f"the replica to replay up to {target}",
    )


class _Capture(CaptureQueriesContext):
    """Django's query capture, without opening a connection first: the replica may be down."""

    def __enter__(self):
        try:
            return super().__enter__()
        except OperationalError:
            self.initial_queries = len(self.connection.queries_log)
            self.final_queries = None
            request_started.disconnect(reset_queries)
            return self


class Queries:
    """The SQL each database ran while the block was open."""

    def __enter__(self):
        self.contexts = {alias: _Capture(connections[alias]) for alias in ("default", REPLICA)}
        for context in self.contexts.values():
            context.__enter__()
        return self

    def __exit__(self, *exc):
        for context in self.contexts.values():
            context.__exit__(*exc)

    def sql(self, alias: str) -> list[str]:
        return [q["sql"] for q in self.contexts[alias].captured_queries]

    def register_reads(self, alias: str) -> list[str]:
        return [sql for sql in self.sql(alias) if REGISTER_TABLE.search(sql)]

    def writes(self, alias: str) -> list[str]:
        return [sql for sql in self.sql(alias) if re.match(r"\s*(INSERT|UPDATE|DELETE|COPY \w)", sql, re.I)]


def _register(count: int = 3) -> list[MedicalWorker]:
    workers = [WorkerFactory(last_name=f"Репликова{n}") for n in range(count)]
    EmploymentFactory(worker=workers[0])
    services.search_words_rebuild()  # the name dictionary the search starts from
    replayed()
    return workers


PUBLIC_URLS = [
    ("search", lambda w: reverse("registry:search") + "?q=Репликова"),
    ("profile", lambda w: reverse("registry:profile", args=[w.registry_number])),
    ("export", lambda w: reverse("registry:export_csv") + "?q=Репликова"),
    ("api list", lambda w: "/api/v1/workers/?q=Репликова"),
    ("api detail", lambda w: f"/api/v1/workers/{w.registry_number}/"),
    ("fhir", lambda w: "/fhir/Practitioner?name=Репликова"),
    ("landing", lambda w: "/"),
]


def _get(client: Client, url: str):
    response = client.get(url)
    if response.streaming:
        b"".join(response.streaming_content)  # a streamed export reads while it is sent
    return response


def test_the_replica_is_a_standby_of_the_primary():
    assert _scalar(REPLICA, "SELECT pg_is_in_recovery()") is True
    assert _scalar("default", "SELECT pg_is_in_recovery()") is False
    assert replicas.health(REPLICA, fresh=True).usable


@pytest.mark.parametrize("name,url", PUBLIC_URLS, ids=[n for n, _ in PUBLIC_URLS])
def test_public_reads_of_the_register_land_on_the_replica(name, url):
    worker = _register()[0]
    with Queries() as queries:
        response = _get(Client(), url(worker))
    assert response.status_code == 200, response.content[:500]
    assert queries.register_reads(REPLICA), f"{name}: nothing read from the replica"
    assert queries.register_reads("default") == [], f"{name}: register read from the primary"
    assert queries.writes(REPLICA) == []


def test_signed_in_pages_and_writes_stay_on_the_primary_and_pin_the_browser():
    _register()
    user = UserFactory()
    client = Client()
    client.force_login(user)
    with Queries() as queries:
        assert client.get(reverse("accounts:journal")).status_code == 200
    assert queries.sql(REPLICA) == []

    with Queries() as queries:
        response = client.post(reverse("registry:saved_create"), {"name": "Мой поиск", "query": "q=Репликова"})
    assert response.status_code == 302
    assert queries.sql(REPLICA) == [] and queries.writes("default")
    assert replicas.PIN_COOKIE in response.cookies
    assert int(response.cookies[replicas.PIN_COOKIE]["max-age"]) == 30

    # Right after its write the browser reads the register from the primary...
    with Queries() as queries:
        assert _get(client, reverse("registry:search") + "?q=Репликова").status_code == 200
    assert queries.sql(REPLICA) == [] and queries.register_reads("default")

    # ...and from the replica again once the pin has expired (the cookie's lifetime).
    del client.cookies[replicas.PIN_COOKIE]
    with Queries() as queries:
        assert _get(client, reverse("registry:search") + "?q=Репликова").status_code == 200
    assert queries.register_reads(REPLICA) and queries.register_reads("default") == []


@pytest.mark.parametrize("fmt", [ExportJob.Format.CSV, ExportJob.Format.XLSX])
def test_a_background_export_reads_the_replica_and_writes_its_job_on_the_primary(fmt):
    _register(5)
    job = ExportJob.objects.create(format=fmt, params={"q": ["Репликова"]})
    with Queries() as queries:
        assert exports.export_job_run(job_id=job.pk) == ExportJob.Status.DONE
    job.refresh_from_db()
    assert job.rows == 5
    assert queries.register_reads(REPLICA) and queries.register_reads("default") == []
    assert queries.writes(REPLICA) == []
    assert any("registry_exportjob" in sql for sql in queries.writes("default"))


def test_a_lagging_replica_is_skipped_until_it_catches_up(settings):
    settings.DATABASE_REPLICA_MAX_LAG = 0.5
    _register()
    _scalar(REPLICA, "SELECT pg_wal_replay_pause()::text")
    try:
        late = WorkerFactory(last_name="Запоздалова")
        services.search_words_add(names=[late.search_name])
        # The replica receives the new worker but does not apply it: its own lag figure grows.
        wait_until(lambda: _scalar(REPLICA, replicas.LAG_SQL) > 0.5, what="the replica to fall behind")
        with Queries() as queries:
            response = _get(Client(), reverse("registry:search") + "?q=Запоздалова")
        assert response.status_code == 200 and late.last_name in response.content.decode()
        assert all("pg_is_in_recovery" in sql for sql in queries.sql(REPLICA))  # its state, nothing else
        assert queries.register_reads("default")
        assert not replicas.health(REPLICA, fresh=True).usable
    finally:
        _scalar(REPLICA, "SELECT pg_wal_replay_resume()::text")
    replayed()
    with Queries() as queries:
        response = _get(Client(), reverse("registry:search") + "?q=Запоздалова")
    assert late.last_name in response.content.decode()
    assert queries.register_reads(REPLICA) and queries.register_reads("default") == []


def _answers_without_error(client: Client, worker) -> dict[str, int]:
    return {name: _get(client, url(worker)).status_code for name, url in PUBLIC_URLS}


@pytest.mark.parametrize("between_requests", [False, True], ids=["during-a-request", "between-requests"])
def test_a_replica_stopped_mid_test_costs_no_error(settings, between_requests):
    # The replica's state is cached as healthy, so the stop is found by the next request itself:
    # a query fails on it (the view runs again on the primary), or, as a WSGI server starts each
    # request with Django's connection health check, before the first query.
    settings.DATABASE_REPLICA_CHECK_SECONDS = 3600
    settings.DATABASE_REPLICA_RETRY_SECONDS = 3600
    worker = _register()[0]
    client = Client()
    with Queries() as queries:
        assert set(_answers_without_error(client, worker).values()) == {200}
    assert queries.register_reads(REPLICA)

    _stop_replica("immediate")  # as if its server had crashed
    for _ in range(2):
        if between_requests:
            close_old_connections()  # what a WSGI server does at the start of every request
        with Queries() as queries:
            answers = _answers_without_error(client, worker)
        assert answers == {name: 200 for name, _ in PUBLIC_URLS}
        assert queries.register_reads("default")
    assert not replicas.health(REPLICA).usable

    _pair("start", "--node", "replica")
    replayed()
    replicas.forget_health()
    with Queries() as queries:
        assert _get(client, reverse("registry:search") + "?q=Репликова").status_code == 200
    assert queries.register_reads(REPLICA) and queries.register_reads("default") == []


def test_a_down_replica_is_not_asked_again_before_the_retry_interval(settings):
    settings.DATABASE_REPLICA_RETRY_SECONDS = 3600
    _register()
    _stop_replica("fast")
    assert not replicas.health(REPLICA, fresh=True).usable
    with Queries() as queries:
        for _ in range(3):
            assert _get(Client(), reverse("registry:search") + "?q=Репликова").status_code == 200
    assert queries.sql(REPLICA) == []  # no connection attempt, no query: the known state is used
    assert len(queries.register_reads("default")) >= 3


def test_ports_of_the_pair_are_those_the_settings_name(settings):
    ports = json.loads((Path(PAIR) / "ports.json").read_text())
    assert int(settings.DATABASES[REPLICA]["PORT"]) == ports["replica_port"]
    assert int(settings.DATABASES["default"]["PORT"]) == ports["primary_port"]
