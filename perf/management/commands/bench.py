"""`make bench`: benchmarks on a fresh PostgreSQL database, printed with the machine and data size.

The benchmark database is dropped and recreated, so it never touches the working database. Each
step runs as a child process with DATABASE_URL pointing at it, exactly as an operator would run it.
Later issues add their own figures (search, import, export) to STEPS.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from perf.benchmarks import machine_description

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/medreg_bench"


class Command(BaseCommand):
    help = "Run the benchmarks on a fresh PostgreSQL database (BENCH_DATABASE_URL) and print the figures."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=300_000)
        parser.add_argument("--organizations", type=int, default=6_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--org-staff", type=int, default=20_000, help="Current staff of the one large organization (bench_org)."
        )
        parser.add_argument("--keep", action="store_true", help="Reuse the database if it already holds data.")

    def handle(self, *args, **options):
        url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise CommandError("BENCH_DATABASE_URL must point at PostgreSQL: the figures are for the production stack.")
        dbname = parts.path.lstrip("/")
        if not options["keep"]:
            self._recreate(parts, dbname)

        env = {**os.environ, "DATABASE_URL": url}
        env.pop("REDIS_URL", None)
        self._print_machine(url)
        self._run(env, "migrate", ["migrate", "--noinput", "-v0"])
        if options["keep"] and self._has_workers(url):
            self.stdout.write("-- reusing the generated data (--keep)")
        else:
            self._generate(env, options)
        self._print_sizes(url)
        # Search latency (ours vs a naive baseline) and requests/s under gunicorn; DEBUG off as in production.
        self._run({**env, "DEBUG": "0"}, "bench_search", ["bench_search"])
        # Export: CSV of 1,000,000 rows and XLSX of 100,000 rows through the real export code.
        self._run({**env, "DEBUG": "0"}, "bench_export", ["bench_export"])
        # The staff desk next to a naive COUNT(*) of the workers.
        self._run({**env, "DEBUG": "0"}, "bench_desk", ["bench_desk"])
        # The organization cabinet's staff list for the large organization (issue 20): p95 against 100 ms.
        self._run({**env, "DEBUG": "0"}, "bench_org", ["bench_org"])

    def _generate(self, env: dict, options) -> None:
        self._run(env, "load_directories", ["load_directories"])
        started = time.perf_counter()
        self._run(
            env,
            "generate_registry",
            [
                "generate_registry",
                "--workers",
                str(options["workers"]),
                "--organizations",
                str(options["organizations"]),
                "--seed",
                str(options["seed"]),
                "--big-organization",
                str(options["org_staff"]),
            ],
        )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"generate_registry: {options['workers']:,} workers, {options['organizations']:,} organizations "
            f"in {elapsed:.1f} s = {options['workers'] / elapsed:,.0f} workers/s end to end"
        )

    def _has_workers(self, url: str) -> bool:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM registry_medicalworker)").fetchone()[0]

    def _recreate(self, parts, dbname: str) -> None:
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))

    def _run(self, env: dict, label: str, argv: list[str]) -> None:
        self.stdout.write(f"-- {label}")
        self.stdout.flush()
        # Our own manage.py with fixed arguments.
        done = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *argv], env=env, cwd=settings.BASE_DIR, check=False
        )
        if done.returncode:
            raise CommandError(f"{label} failed with exit code {done.returncode}")

    def _print_machine(self, url: str) -> None:
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        self.stdout.write(machine_description(version))

    def _print_sizes(self, url: str) -> None:
        query = """
            SELECT relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid))
            FROM pg_stat_user_tables WHERE relname LIKE 'registry_%%' ORDER BY pg_total_relation_size(relid) DESC
        """
        # VACUUM too: after a bulk load the visibility map is empty and every index-only scan visits the heap.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
            rows = conn.execute(query).fetchall()
        self.stdout.write("Data size (rows, table + indexes):")
        for name, count, size in rows:
            self.stdout.write(f"  {name:<40} {count:>12,}  {size}")
