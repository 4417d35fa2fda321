"""python manage.py bench_load — `make bench-load`: locust against gunicorn on the loopback interface.

Anonymous searches and profile views mixed with signed-in cabinet views (perf/locustfile.py),
by default 100 concurrent users for 5 minutes. Prints requests/s, p50/p95/p99 and errors per request
kind and overall, with the machine description. Target (issue 9): 0 errors, p95 <= 300 ms.

Two passes in one run (issue 16): the primary alone, then the primary and one streaming replica that
serves the public reads (core.replicas), each with the same users, duration and warm-up, and a
comparison line at the end. The replica is either named (--replica-url, `make bench-load
BENCH_REPLICA_URL=...`, a replica of the database of DATABASE_URL) or made by the command
(--own-pair DIR, the default of `make bench-load`): a throwaway primary and a pg_basebackup -R replica
(deploy/pgcluster.py) under DIR, loaded once with a generated register of --workers workers and kept
for the next run (`make bench-load-clean` removes it). Without a replica only the first pass runs.

What it writes to the database: one session row per signed-in user (deleted afterwards). Cabinet
users are existing active worker accounts; with --create-accounts, missing ones are created as
accounts without a password (first name "loadtest-NNN") and deleted afterwards (unless --keep-accounts).
Without accounts (and without --create-accounts) only the anonymous part runs, and says so.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts import services as account_services
from accounts.models import User
from core import validators
from perf.benchmarks import machine_description

LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfile.py"
ACCOUNT_PREFIX = "loadtest-"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _libpq_url(url: str) -> str:
    """postgres:// URLs as dj-database-url takes them are libpq URIs too (postgresql:// for old libpq)."""
    return "postgresql://" + url.split("://", 1)[1]


def _without_password(url: str) -> str:
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", url)


def _duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    try:
        if text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except (ValueError, IndexError):
        raise CommandError(f"--duration: «{text}» — укажите секунды или 30s / 5m / 1h.") from None


class Command(BaseCommand):
    help = "Load test: locust (anonymous search + profiles, signed-in cabinet) against gunicorn on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=100, help="Concurrent users (default 100).")
        parser.add_argument("--spawn-rate", type=float, default=10.0, help="Users started per second.")
        parser.add_argument("--duration", default="5m", help="Run time: seconds or 30s / 5m (default 5m).")
        parser.add_argument("--sessions", type=int, default=50, help="Signed-in sessions to share (default 50).")
        parser.add_argument("--cabinet-share", type=float, default=0.25, help="Share of signed-in users.")
        parser.add_argument("--wait", default="1,3", help="Think time between requests, min,max seconds.")
        parser.add_argument("--gunicorn-workers", type=int, default=max(2, 2 * (os.cpu_count() or 1) + 1))
        parser.add_argument("--gunicorn-threads", type=int, default=2)
        parser.add_argument("--sample", type=int, default=3000, help="Workers sampled for queries and profiles.")
        parser.add_argument(
            "--create-accounts",
            action="store_true",
            help="Create missing cabinet accounts (loadtest-NNN), deleted afterwards.",
        )
        parser.add_argument("--keep-accounts", action="store_true")
        parser.add_argument("--p95-target", type=float, default=300.0)
        parser.add_argument(
            "--replica-url", default="", help="A streaming replica of this database for the second pass."
        )
        parser.add_argument(
            "--own-pair",
            default="",
            metavar="DIR",
            help="Make (or reuse) a primary + replica under DIR, load --workers into it, run there.",
        )
        parser.add_argument("--workers", type=int, default=3_000_000, help="Register size for --own-pair.")
        parser.add_argument("--primary-port", type=int, default=0, help="--own-pair: port of the primary (0: free).")
        parser.add_argument("--replica-port", type=int, default=0, help="--own-pair: port of the replica (0: free).")

    def handle(self, *args, **options):
        if options["own_pair"]:
            return self._on_own_pair(options)
        if connection.vendor != "postgresql":
            raise CommandError("bench_load нужен PostgreSQL (BENCH_DATABASE_URL / DATABASE_URL).")
        if shutil.which("locust", path=str(Path(sys.executable).parent)) is None and shutil.which("locust") is None:
            raise CommandError("locust не установлен: make install-dev.")
        duration = _duration_seconds(options["duration"])
        workers = self._estimate_workers()
        if workers < 100:
            raise CommandError(f"В базе {workers} работников: сначала сгенерируйте регистр (make bench).")
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        self.stdout.write(
            f"{machine_description(version)}, database {connection.settings_dict['NAME']}: ~{workers:,} workers"
        )

        created: list[int] = []
        session_keys: list[str] = []
        try:
            users = self._cabinet_users(options, created)
            session_keys = [self._session_for(user) for user in users]
            data = self._sample(options["sample"])
            data["sessions"] = session_keys
            if not session_keys:
                self.stdout.write(
                    self.style.WARNING(
                        "Нет учётных записей работников: кабинет не нагружается (добавьте --create-accounts)."
                    )
                )
            passes = [("primary only", {})]
            if options["replica_url"]:
                self._replica_ready(options["replica_url"])
                passes.append(("primary + 1 replica", {"DATABASE_REPLICA_URLS": options["replica_url"]}))
            else:
                self.stdout.write(
                    self.style.WARNING("No replica (--replica-url / --own-pair): the primary-only pass runs alone.")
                )
            results = []
            with tempfile.TemporaryDirectory(prefix="medreg-load-") as scratch:
                scratch = Path(scratch)
                data_file = scratch / "data.json"
                data_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
                for number, (label, extra_env) in enumerate(passes, start=1):
                    self.stdout.write("")
                    self.stdout.write(self.style.MIGRATE_HEADING(f"Pass {number} of {len(passes)}: {label}"))
                    before = self._replica_transactions(options["replica_url"]) if extra_env else None
                    stats = self._run(
                        options,
                        duration,
                        data_file,
                        scratch / label.replace(" ", "-"),
                        signed_in=bool(session_keys),
                        extra_env=extra_env,
                    )
                    total = self._report(stats, options, duration)
                    if before is not None:
                        served = self._replica_transactions(options["replica_url"]) - before
                        self.stdout.write(f"Transactions on the replica during the pass: {served:,}")
                    results.append((label, total))
        finally:
            Session.objects.filter(session_key__in=session_keys).delete()
            if created and not options["keep_accounts"]:
                User.objects.filter(pk__in=created).delete()
        if len(results) > 1:
            self._compare(results, options, duration)

    # --- Preparation ------------------------------------------------------------------------------

    def _estimate_workers(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'registry_medicalworker'")
            row = cursor.fetchone()
            estimate = int(row[0]) if row else -1
            if estimate < 1000:  # never analysed, or small: count exactly
                cursor.execute("SELECT count(*) FROM registry_medicalworker")
                estimate = cursor.fetchone()[0]
        return estimate

    def _sample(self, size: int) -> dict:
        with connection.cursor() as cursor:
            # TABLESAMPLE reads a few pages, not 3,000,000 rows.
            cursor.execute(
                "SELECT registry_number, last_name, first_name FROM registry_medicalworker "
                "TABLESAMPLE SYSTEM (1) REPEATABLE (42) LIMIT %s",
                [size],
            )
            people = [
                {"registry_number": r, "last_name": last, "first_name": first} for r, last, first in cursor.fetchall()
            ]
            if len(people) < 50:
                cursor.execute(
                    "SELECT registry_number, last_name, first_name FROM registry_medicalworker ORDER BY id LIMIT %s",
                    [size],
                )
                people = [
                    {"registry_number": r, "last_name": last, "first_name": first}
                    for r, last, first in cursor.fetchall()
                ]
            cursor.execute("SELECT code FROM registry_region ORDER BY code")
            regions = [code for (code,) in cursor.fetchall()]
            cursor.execute("SELECT code FROM registry_specialty ORDER BY code LIMIT 200")
            specialties = [code for (code,) in cursor.fetchall()]
        return {"people": people, "regions": regions, "specialties": specialties}

    def _cabinet_users(self, options, created: list[int]) -> list[User]:
        wanted = options["sessions"]
        users = list(User.objects.filter(is_active=True, kind=User.Kind.WORKER).order_by("pk")[:wanted])
        if len(users) < wanted and options["create_accounts"]:
            serial = 987_000_000
            for index in range(len(users), wanted):
                # A worker account has a SNILS (a check constraint): valid ones from a far range.
                while True:
                    serial += 7
                    snils = validators.snils_from_number(serial)
                    if not User.objects.filter(snils=snils).exists():
                        break
                user = User(
                    username=snils,
                    snils=snils,
                    kind=User.Kind.WORKER,
                    last_name="Нагрузка",
                    first_name=f"{ACCOUNT_PREFIX}{index:03d}",
                )
                user.set_unusable_password()
                user.save()
                created.append(user.pk)
                users.append(user)
        return users

    def _session_for(self, user: User) -> str:
        """A signed-in session made directly, as login_complete would leave it (no SMS round trip)."""
        session = SessionStore()
        now = time.time()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[account_services.SESSION_AUTH_AT] = now
        session[account_services.SESSION_LAST_SEEN] = now
        session.create()
        return session.session_key

    # --- Run ----------------------------------------------------------------------------------------

    def _run(
        self, options, duration: int, data_file: Path, scratch: Path, *, signed_in: bool, extra_env: dict
    ) -> list[dict]:
        scratch.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "PUBLIC_SEARCH_RATE_LIMIT": "0",
            "DATABASE_URL": self._database_url(),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)  # sessions in the database, where this command put them
        env.pop("DATABASE_REPLICA_URLS", None)
        env.update(extra_env)
        # No collected static files are needed (locust fetches pages only): not one warning per worker.
        env["PYTHONWARNINGS"] = "ignore:No directory at:UserWarning"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        argv = [
            str(gunicorn),
            "portal.wsgi:application",
            "-w",
            str(options["gunicorn_workers"]),
            "--threads",
            str(options["gunicorn_threads"]),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--timeout",
            "60",
        ]
        self.stdout.write(
            f"gunicorn: {options['gunicorn_workers']} workers x {options['gunicorn_threads']} threads; "
            f"locust: {options['users']} users for {duration} s, think time {options['wait']} s"
        )
        self.stdout.flush()
        server = subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR)  # noqa: S603 -- fixed arguments
        try:
            self._wait_for(base)
            self._warm_up(base, options["gunicorn_workers"], data_file)
            locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
            classes = ["PublicVisitor", "SignedInWorker"] if signed_in else ["PublicVisitor"]
            prefix = scratch / "locust"
            locust_env = {
                **os.environ,
                "MEDREG_LOAD_DATA": str(data_file),
                "MEDREG_LOAD_WAIT": options["wait"],
                "MEDREG_LOAD_CABINET_SHARE": str(options["cabinet_share"]),
            }
            done = subprocess.run(  # noqa: S603 -- our locustfile, fixed arguments
                [
                    locust,
                    "-f",
                    str(LOCUSTFILE),
                    "--headless",
                    "--host",
                    base,
                    "-u",
                    str(options["users"]),
                    "-r",
                    str(options["spawn_rate"]),
                    "-t",
                    f"{duration}s",
                    "--csv",
                    str(prefix),
                    "--only-summary",
                    "--stop-timeout",
                    "10",
                    "--loglevel",
                    "WARNING",
                    *classes,
                ],
                env=locust_env,
                cwd=settings.BASE_DIR,
                capture_output=True,
                text=True,
                check=False,
            )
            stats_file = Path(f"{prefix}_stats.csv")
            if not stats_file.exists():
                raise CommandError(f"locust не выдал статистику (код {done.returncode}):\n{done.stderr[-3000:]}")
            with open(stats_file, encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            failures = Path(f"{prefix}_failures.csv")
            if failures.exists():
                with open(failures, encoding="utf-8") as handle:
                    for row in list(csv.DictReader(handle))[:10]:
                        self.stdout.write(f"  error: {row.get('Name')}: {row.get('Error')} x{row.get('Occurrences')}")
            return rows
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()

    def _database_url(self) -> str:
        if os.environ.get("DATABASE_URL"):
            return os.environ["DATABASE_URL"]
        params = connection.settings_dict
        auth = params["USER"] + (f":{params['PASSWORD']}" if params.get("PASSWORD") else "")
        return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"

    def _wait_for(self, base: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as response:  # noqa: S310 -- loopback
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise CommandError("gunicorn не запустился за 60 с")
            time.sleep(0.3)

    def _warm_up(self, base: str, workers: int, data_file: Path) -> None:
        """Not measured: each gunicorn worker opens its connection and fills its caches (directory
        lists, statistics of the landing page) before the clock starts, as on a running site."""
        from urllib.parse import urlencode

        data = json.loads(data_file.read_text(encoding="utf-8"))
        people = data["people"][: max(1, workers * 2)]
        paths = ["/"] * (workers * 2)
        paths += ["/registry/?" + urlencode({"q": p["last_name"]}) for p in people]
        paths += [f"/registry/{p['registry_number']}/" for p in people]
        started = time.monotonic()
        for path in paths:
            try:
                urllib.request.urlopen(base + path, timeout=120).read()  # noqa: S310 -- loopback
            except OSError as exc:
                raise CommandError(f"прогрев: {path}: {exc}") from exc
        self.stdout.write(f"warm-up: {len(paths)} requests in {time.monotonic() - started:.0f} s (not measured)")

    # --- Report -------------------------------------------------------------------------------------

    def _report(self, rows: list[dict], options, duration: int) -> None:
        self.stdout.write("")
        self.stdout.write(f"{'request':<32} {'count':>7} {'errors':>6} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}")
        total = None
        for row in rows:
            line = (
                f"{row['Name'][:32]:<32} {int(row['Request Count']):>7} {int(row['Failure Count']):>6} "
                f"{float(row['Requests/s']):>7.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6}"
            )
            if row["Name"] == "Aggregated":
                total = row
                self.stdout.write("-" * 78)
            self.stdout.write(line)
        if total is None:
            raise CommandError("в статистике locust нет строки Aggregated")
        errors = int(total["Failure Count"])
        p95 = float(total["95%"])
        self.stdout.write("")
        self.stdout.write(
            f"Total: {float(total['Requests/s']):.1f} requests/s, p50 {total['50%']} ms, p95 {total['95%']} ms, "
            f"p99 {total['99%']} ms, errors {errors} of {total['Request Count']} "
            f"({options['users']} users, {duration} s)"
        )
        verdict = errors == 0 and p95 <= options["p95_target"]
        message = f"Target 0 errors, p95 <= {options['p95_target']:.0f} ms: {'met' if verdict else 'NOT met'}"
        self.stdout.write(self.style.SUCCESS(message) if verdict else self.style.ERROR(message))
        return total

    def _compare(self, results: list[tuple[str, dict]], options, duration: int) -> None:
        self.stdout.write("")
        self.stdout.write(
            self.style.MIGRATE_HEADING(
                f"Both passes ({options['users']} users, {duration} s each, same machine and data):"
            )
        )
        self.stdout.write(f"{'pass':<24} {'req/s':>8} {'p50':>6} {'p95':>6} {'p99':>6} {'errors':>8}")
        for label, total in results:
            self.stdout.write(
                f"{label:<24} {float(total['Requests/s']):>8.1f} {total['50%']:>6} {total['95%']:>6} "
                f"{total['99%']:>6} {int(total['Failure Count']):>8}"
            )

    # --- Replica ------------------------------------------------------------------------------------

    def _replica_ready(self, url: str) -> None:
        """The named replica is a standby of this primary and has replayed what the primary wrote."""
        import psycopg

        # The cluster's identifier (pg_control_system) is the same on a primary and its physical replicas.
        identity = "SELECT pg_is_in_recovery(), system_identifier::text FROM pg_control_system()"
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            target = cursor.fetchone()[0]
            cursor.execute(identity)
            system = cursor.fetchone()[1]
        deadline = time.monotonic() + 600
        with psycopg.connect(_libpq_url(url), autocommit=True, connect_timeout=5) as replica:
            standby, replica_system = replica.execute(identity).fetchone()
            if not standby or replica_system != system:
                raise CommandError(f"--replica-url: not a streaming replica of {connection.settings_dict['NAME']}")
            while not replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise CommandError("--replica-url: the replica did not catch up with the primary")
                time.sleep(0.2)
        self.stdout.write(f"Replica: {_without_password(url)}, a standby of this primary, caught up")

    def _replica_transactions(self, url: str) -> int:
        import psycopg

        name = _libpq_url(url).rsplit("/", 1)[-1].split("?")[0]
        with psycopg.connect(_libpq_url(url), autocommit=True, connect_timeout=5) as replica:
            # Statistics reach the view when the serving backends report them (at the latest when idle).
            return replica.execute(
                "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database WHERE datname = %s", [name]
            ).fetchone()[0]

    # --- A primary and a replica of the command's own --------------------------------------------------

    def _on_own_pair(self, options) -> None:
        """Make (or start again) a primary and a replica under --own-pair, load the register into the
        primary once, then run this command against them (a child process, so its Django connection is
        the pair's primary)."""
        pair = Path(options["own_pair"]).resolve()
        tool = [sys.executable, str(Path(settings.BASE_DIR) / "deploy" / "pgcluster.py")]
        # Sized like docker-compose.yml's servers, halved: both run on this machine.
        tuning = [
            "--set",
            "shared_buffers=1GB",
            "--set",
            "effective_cache_size=4GB",
            "--set",
            "random_page_cost=1.1",
            "--set",
            "max_connections=300",
        ]
        done = subprocess.run(  # noqa: S603 -- our tool, fixed arguments
            [
                *tool,
                "up",
                "--dir",
                str(pair),
                "--primary-port",
                str(options["primary_port"]),
                "--replica-port",
                str(options["replica_port"]),
                *tuning,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        ports = json.loads(done.stdout.strip().splitlines()[-1])
        database = "medreg_load"
        primary = f"postgres://postgres@127.0.0.1:{ports['primary_port']}/{database}"
        replica = f"postgres://postgres@127.0.0.1:{ports['replica_port']}/{database}"
        env = {**os.environ, "DATABASE_URL": primary, "DATABASE_POOL_MODE": ""}
        env.pop("DATABASE_REPLICA_URLS", None)
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        self.stdout.write(f"Own pair under {pair}: primary :{ports['primary_port']}, replica :{ports['replica_port']}")
        self._ensure_register(ports["primary_port"], database, options["workers"], manage, env)
        subprocess.run([*tool, "wait-replay", "--dir", str(pair)], check=True)  # noqa: S603
        forwarded = [
            "--users",
            str(options["users"]),
            "--spawn-rate",
            str(options["spawn_rate"]),
            "--duration",
            options["duration"],
            "--sessions",
            str(options["sessions"]),
            "--cabinet-share",
            str(options["cabinet_share"]),
            "--wait",
            options["wait"],
            "--gunicorn-workers",
            str(options["gunicorn_workers"]),
            "--gunicorn-threads",
            str(options["gunicorn_threads"]),
            "--sample",
            str(options["sample"]),
            "--p95-target",
            str(options["p95_target"]),
            "--replica-url",
            replica,
        ]
        if options["create_accounts"]:
            forwarded.append("--create-accounts")
        if options["keep_accounts"]:
            forwarded.append("--keep-accounts")
        try:
            result = subprocess.run([*manage, "bench_load", *forwarded], env=env, check=False)  # noqa: S603
        finally:
            for node in ("replica", "primary"):
                subprocess.run([*tool, "stop", "--dir", str(pair), "--node", node], check=False)  # noqa: S603
        if result.returncode:
            raise CommandError(f"bench_load on the pair failed ({result.returncode})")

    def _ensure_register(self, port: int, database: str, workers: int, manage: list[str], env: dict) -> None:
        import psycopg

        server = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
        with psycopg.connect(server, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
                conn.execute(f'CREATE DATABASE "{database}"')
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)  # noqa: S603
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname={database}") as conn:
            present = conn.execute("SELECT count(*) FROM registry_medicalworker").fetchone()[0]
        if present >= workers:
            self.stdout.write(f"Register already loaded: {present:,} workers")
            return
        if present:
            raise CommandError(
                f"The pair holds {present:,} workers, fewer than --workers {workers:,}: "
                "make bench-load-clean (removes it), then run again."
            )
        self.stdout.write(f"Loading a generated register of {workers:,} workers (once; kept for the next run)")
        subprocess.run([*manage, "load_directories", "-v", "0"], env=env, check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [
                *manage,
                "generate_registry",
                "--workers",
                str(workers),
                "--organizations",
                str(max(100, workers // 50)),
                "--seed",
                "16",
                "--no-progress",
                # One organization of 20,000 current staff, so bench_org and bench_desk can run on the
                # same register afterwards (the load mix does not touch it).
                *(["--big-organization", "20000"] if workers > 100_000 else []),
            ],
            env=env,
            check=True,
        )
