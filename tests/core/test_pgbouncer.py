"""The app through PgBouncer (Debian's package), started by the test with deploy/pgbouncer/start.sh in
front of the test database: the web's paths through the transaction pool (raw SQL of the search, the
COPY of CSV exports, chunked reads without server-side cursors), batch commands (COPY of
generate_registry and imports) through the session pool, and refused on the transaction pool.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.db.utils import DatabaseError, load_backend

from core import validators
from core.pooling import SessionRequired, require_session
from portal import settings as portal_settings
from registry.exports import services as exports
from registry.models import MedicalWorker
from registry.search import engine as search
from tests.celery_harness import free_port
from tests.conftest import skip_or_fail
from tests.factories import WorkerFactory

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pgbouncer-test-password"

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv  # it refuses root


class Bouncer:
    def __init__(self, run_dir: Path, database: dict):
        self.port = free_port()
        self.user = database["USER"]
        env = {
            **os.environ,
            "PGBOUNCER_DB_HOST": database["HOST"] or "127.0.0.1",
            "PGBOUNCER_DB_PORT": str(database["PORT"] or 5432),
            "PGBOUNCER_DB_NAME": database["NAME"],
            "PGBOUNCER_DB_USER": self.user,
            "PGBOUNCER_DB_PASSWORD": PASSWORD,
            "PGBOUNCER_RUN_DIR": str(run_dir),
            "PGBOUNCER_LISTEN_ADDR": "127.0.0.1",
            "PGBOUNCER_LISTEN_PORT": str(self.port),
            "PGBOUNCER_DB_ALIAS": "medreg",
        }
        self.log = open(run_dir / "pgbouncer.out", "wb")
        self.process = subprocess.Popen(
            _as_postgres(["sh", str(ROOT / "deploy" / "pgbouncer" / "start.sh")]),
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        while self.process.poll() is None:  # until it accepts a login (or dies)
            try:
                psycopg.connect(self.dsn("medreg"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.05)
        self.stop()
        pytest.fail("PgBouncer did not start:\n" + (run_dir / "pgbouncer.out").read_text(errors="replace"))

    def url(self, pool: str) -> str:
        return f"postgres://{self.user}:{PASSWORD}@127.0.0.1:{self.port}/{pool}"

    def dsn(self, pool: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} password={PASSWORD} dbname={pool}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def bouncer():
    if shutil.which("pgbouncer") is None:
        skip_or_fail("pgbouncer is not installed (apt-get install pgbouncer)")
    if connection.vendor != "postgresql":
        skip_or_fail("PgBouncer pools PostgreSQL connections")
    run_dir = Path(tempfile.mkdtemp(prefix="medreg-pgbouncer-"))
    if os.geteuid() == 0:
        shutil.chown(run_dir, "postgres", "postgres")
    server = Bouncer(run_dir, connection.settings_dict)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def web_alias(bouncer):
    """A connection alias configured as the web's is: portal.settings.database_config for a
    transaction pool (DATABASE_POOL_MODE=transaction)."""
    aliases = []

    def make(*, server_side_cursors_off: bool = True) -> str:
        alias = f"bouncer_{len(aliases)}"
        config = portal_settings.database_config(bouncer.url("medreg"), pooled=True)
        if server_side_cursors_off:
            config["DISABLE_SERVER_SIDE_CURSORS"] = True
        configured = connections.configure_settings({"default": connections.settings["default"], alias: config})
        # Made here rather than declared in DATABASES: Django's test case lets such a connection be used.
        wrapper = load_backend(config["ENGINE"]).DatabaseWrapper(configured[alias], alias)
        setattr(connections._connections, alias, wrapper)
        aliases.append(alias)
        return alias

    yield make
    for alias in aliases:
        connections[alias].close()
        delattr(connections._connections, alias)


@pytest.fixture
def busy_pool(bouncer):
    """Another client in the middle of a transaction: it holds one server connection of the pool,
    so this test's next statements are served by another one (as under load)."""
    other = psycopg.connect(bouncer.dsn("medreg"))
    other.execute("SELECT 1")  # a transaction is open: the server connection stays with it
    yield other
    other.rollback()
    other.close()


def _register(count: int) -> None:
    WorkerFactory.create_batch(count, last_name="Пулова")


def test_the_transaction_pool_sets_the_webs_session_options(bouncer):
    with psycopg.connect(bouncer.dsn("medreg")) as conn:
        assert conn.execute("SHOW jit").fetchone()[0] == "off"
        assert conn.execute("SHOW max_parallel_workers_per_gather").fetchone()[0] == "0"
    with psycopg.connect(bouncer.dsn("medreg_session")) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == connection.settings_dict["NAME"]


def test_web_reads_work_through_the_transaction_pool(web_alias, busy_pool):
    _register(30)
    alias = web_alias()
    # A search's raw SQL and its ORM queries.
    rows = list(MedicalWorker.objects.using(alias).filter(last_name="Пулова").order_by("id"))
    assert len(rows) == 30
    # The CSV export: one COPY ... TO STDOUT statement, streamed.
    text = "".join(exports.csv_document(MedicalWorker.objects.using(alias).order_by("search_name", "id")))
    assert len(list(csv.reader(text.lstrip("\ufeff").splitlines(), delimiter=";"))) == 1 + 30
    # XLSX rows: iterator() in chunks, fetched without a server-side cursor.
    assert sum(1 for _ in exports.iter_rows(MedicalWorker.objects.using(alias).order_by("id"))) == 30
    # Django binds parameters on the client (psycopg's ClientCursor): no server-side prepared statement,
    # which the next transaction, on another server connection, would not find (PgBouncer 1.18 does not
    # track them). OPTIONS server_side_binding must stay off behind the pool.
    assert issubclass(connections[alias].get_connection_params()["cursor_factory"], psycopg.ClientCursor)


def test_server_side_cursors_would_break_behind_a_transaction_pool(bouncer, web_alias, monkeypatch):
    # Why DATABASE_POOL_MODE=transaction turns them off: Django declares the cursor WITH HOLD outside a
    # transaction and fetches from it in later statements, which PgBouncer may send to another server
    # connection, where the cursor does not exist. The busy client makes that happen deterministically.
    _register(5)
    alias = web_alias(server_side_cursors_off=False)
    monkeypatch.setattr(exports, "CHUNK_SIZE", 2)  # several fetches from the cursor
    holder = psycopg.connect(bouncer.dsn("medreg"))
    try:
        with pytest.raises((DatabaseError, psycopg.errors.InvalidCursorName), match=r"cursor .* does not exist"):
            for index, _ in enumerate(exports.iter_rows(MedicalWorker.objects.using(alias).order_by("id"))):
                if index == 0:
                    holder.execute("SELECT 1")  # takes the server connection the cursor lives on
    finally:
        holder.rollback()
        holder.close()


def _manage(bouncer, pool: str, mode: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": bouncer.url(pool),
        "DATABASE_POOL_MODE": mode,
        "MEDREG_VAR_DIR": str(django_settings.VAR_DIR),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    env.pop("DATABASE_REPLICA_URLS", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_generate_registry_copies_through_the_session_pool(bouncer):
    done = _manage(bouncer, "medreg_session", "session", "load_directories")
    assert done.returncode == 0, done.stderr
    done = _manage(
        bouncer,
        "medreg_session",
        "session",
        "generate_registry",
        "--workers",
        "1500",
        "--organizations",
        "20",
        "--seed",
        "5",
        "--no-progress",
        "--jobs",
        "0",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert MedicalWorker.objects.count() == 1500


def test_an_import_copies_through_the_session_pool(bouncer, tmp_path):
    path = tmp_path / "workers.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["snils", "registry_number", "last_name", "first_name", "sex", "birth_date"])
        for n in range(1, 201):
            writer.writerow(
                [
                    validators.snils_from_number(200_000_000 + n * 7919),
                    validators.registry_number_from_serial(700_000 + n),
                    f"Импортова{n}",
                    "Анна",
                    "Ж",
                    "1980-01-01",
                ]
            )
    done = _manage(bouncer, "medreg_session", "session", "import_registry", str(path), "--kind", "workers")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert MedicalWorker.objects.filter(last_name__startswith="Импортова").count() == 200
    assert search.query_tokens("Импортова1") == ["импортова1"]


def test_batch_commands_refuse_the_transaction_pool(bouncer, settings):
    done = _manage(bouncer, "medreg", "transaction", "generate_registry", "--workers", "10", "--no-progress")
    assert done.returncode != 0
    assert "session pool" in done.stderr
    settings.DATABASE_POOL_MODE = "transaction"
    with pytest.raises(SessionRequired):
        require_session("An import")
