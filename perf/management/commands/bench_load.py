"""python manage.py bench_load — `make bench-load`: locust against gunicorn on the loopback interface.

Anonymous searches and profile views mixed with signed-in cabinet views (perf/locustfile.py),
by default 100 concurrent users for 5 minutes, against the database of DATABASE_URL (the Makefile
passes BENCH_DATABASE_URL). Prints requests/s, p50/p95/p99 and errors per request kind and overall,
with the machine description. Target (issue 9): 0 errors, p95 <= 300 ms.

What it writes to the database: one session row per signed-in user (deleted afterwards). Cabinet
users are existing active worker accounts; with --create-accounts, missing ones are created as
accounts without a password (first name "loadtest-NNN") and deleted afterwards (unless --keep-accounts).
Without accounts (and without --create-accounts) only the anonymous part runs, and says so.
"""

from __future__ import annotations

import csv
import json
import os
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
        parser.add_argument("--create-accounts", action="store_true",
                            help="Create missing cabinet accounts (loadtest-NNN), deleted afterwards.")
        parser.add_argument("--keep-accounts", action="store_true")
        parser.add_argument("--p95-target", type=float, default=300.0)

    def handle(self, *args, **options):
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
        self.stdout.write(f"{machine_description(version)}, database {connection.settings_dict['NAME']}: "
                          f"~{workers:,} workers")

        created: list[int] = []
        session_keys: list[str] = []
        try:
            users = self._cabinet_users(options, created)
            session_keys = [self._session_for(user) for user in users]
            data = self._sample(options["sample"])
            data["sessions"] = session_keys
            if not session_keys:
                self.stdout.write(self.style.WARNING(
                    "Нет учётных записей работников: кабинет не нагружается (добавьте --create-accounts)."
                ))
            with tempfile.TemporaryDirectory(prefix="medreg-load-") as scratch:
                scratch = Path(scratch)
                data_file = scratch / "data.json"
                data_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
                stats = self._run(options, duration, data_file, scratch, signed_in=bool(session_keys))
        finally:
            Session.objects.filter(session_key__in=session_keys).delete()
            if created and not options["keep_accounts"]:
                User.objects.filter(pk__in=created).delete()
        self._report(stats, options, duration)

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
            people = [{"registry_number": r, "last_name": last, "first_name": first}
                      for r, last, first in cursor.fetchall()]
            if len(people) < 50:
                cursor.execute(
                    "SELECT registry_number, last_name, first_name FROM registry_medicalworker ORDER BY id LIMIT %s",
                    [size],
                )
                people = [{"registry_number": r, "last_name": last, "first_name": first}
                          for r, last, first in cursor.fetchall()]
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
                user = User(username=snils, snils=snils, kind=User.Kind.WORKER,
                            last_name="Нагрузка", first_name=f"{ACCOUNT_PREFIX}{index:03d}")
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

    def _run(self, options, duration: int, data_file: Path, scratch: Path, *, signed_in: bool) -> list[dict]:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1", "PUBLIC_SEARCH_RATE_LIMIT": "0",
            "DATABASE_URL": self._database_url(), "LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)  # sessions in the database, where this command put them
        gunicorn = Path(sys.executable).with_name("gunicorn")
        argv = [str(gunicorn), "portal.wsgi:application", "-w", str(options["gunicorn_workers"]),
                "--threads", str(options["gunicorn_threads"]), "-b", f"127.0.0.1:{port}",
                "--log-level", "warning", "--timeout", "60"]
        self.stdout.write(f"gunicorn: {options['gunicorn_workers']} workers x {options['gunicorn_threads']} threads; "
                          f"locust: {options['users']} users for {duration} s, think time {options['wait']} s")
        self.stdout.flush()
        server = subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR)  # noqa: S603 -- fixed arguments
        try:
            self._wait_for(base)
            self._warm_up(base, options["gunicorn_workers"], data_file)
            locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
            classes = ["PublicVisitor", "SignedInWorker"] if signed_in else ["PublicVisitor"]
            prefix = scratch / "locust"
            locust_env = {
                **os.environ, "MEDREG_LOAD_DATA": str(data_file), "MEDREG_LOAD_WAIT": options["wait"],
                "MEDREG_LOAD_CABINET_SHARE": str(options["cabinet_share"]),
            }
            done = subprocess.run(  # noqa: S603 -- our locustfile, fixed arguments
                [locust, "-f", str(LOCUSTFILE), "--headless", "--host", base, "-u", str(options["users"]),
                 "-r", str(options["spawn_rate"]), "-t", f"{duration}s", "--csv", str(prefix), "--only-summary",
                 "--stop-timeout", "10", "--loglevel", "WARNING", *classes],
                env=locust_env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=False,
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
            line = (f"{row['Name'][:32]:<32} {int(row['Request Count']):>7} {int(row['Failure Count']):>6} "
                    f"{float(row['Requests/s']):>7.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6}")
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
