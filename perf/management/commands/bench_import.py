"""`make bench-import`: every import kind into a filled register, next to the floor measured in the same run.

The scratch database (BENCH_IMPORT_DATABASE_URL, default medreg_bench_import) is dropped and
recreated; the command refuses the working databases. generate_registry fills it with --workers
workers (and their employments, documents, diplomas, categories, НМО records) and --workers / 50
organizations; that is not timed. Then one child process on the scratch database, for each kind in
turn (perf.import_bench):

1. generates a file of --rows new records of that kind (not timed), referring to what is stored;
2. the floor: a plain COPY of the same rows, as register rows, into the same table with the same
   indexes, rolled back;
3. `import_file` of the file, as `import_registry` runs it (every check, the set-based SQL, the
   derived columns of the workers touched, alerts); for workers the duplicate check of the new
   workers is timed apart.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from perf import import_bench
from perf.benchmarks import machine_description

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/medreg_bench_import"
PROTECTED = {"medreg_big", "medreg_ci", "medreg", "postgres", "template0", "template1"}
TARGET_ROWS_PER_SECOND = 20_000  # issue 15: every kind into a 3,000,000-worker register


class Command(BaseCommand):
    help = "Замер импорта всех видов данных в заполненный регистр рядом с COPY тех же строк."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=300_000, help="размер регистра (работников)")
        parser.add_argument("--rows", type=int, default=50_000, help="строк в файле каждого вида")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--kinds", default=",".join(import_bench.KINDS))
        parser.add_argument("--measure", action="store_true", help=argparse_suppress())

    def handle(self, *args, **options):
        kinds = [k for k in options["kinds"].split(",") if k]
        unknown = set(kinds) - set(import_bench.KINDS)
        if unknown:
            raise CommandError(f"Unknown kinds: {', '.join(sorted(unknown))}")
        if options["measure"]:
            return self._measure(kinds, options["rows"], options["seed"])
        url = os.environ.get("BENCH_IMPORT_DATABASE_URL", DEFAULT_URL)
        parts = urlsplit(url)
        dbname = parts.path.lstrip("/")
        if not parts.scheme.startswith("postgres"):
            raise CommandError("BENCH_IMPORT_DATABASE_URL must point at PostgreSQL.")
        if dbname in PROTECTED:
            raise CommandError(f"Refusing to drop the database {dbname!r}: choose a scratch database.")
        self._recreate(parts, dbname)
        env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0"}
        env.pop("REDIS_URL", None)
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        self.stdout.write(machine_description(version))
        self._run(env, ["migrate", "--noinput", "-v0"])
        self._run(env, ["load_directories", "-v0"])
        workers = options["workers"]
        built = self._run(
            env,
            [
                "generate_registry",
                "--workers",
                str(workers),
                "--organizations",
                str(max(workers // 50, 100)),
                "--seed",
                str(options["seed"]),
                "--no-progress",
            ],
        )
        self.stdout.write(f"-- register built in {built:.0f} s (not timed below)")
        with psycopg.connect(url) as conn:
            sizes = [
                (table, conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0])
                for table in (
                    "registry_medicalworker",
                    "registry_medicalorganization",
                    "registry_employment",
                    "registry_admissiondocument",
                    "registry_education",
                    "registry_categoryassignment",
                    "registry_continuingeducation",
                )
            ]
        self.stdout.write("Register: " + ", ".join(f"{table.removeprefix('registry_')} {n:,}" for table, n in sizes))
        self._run(
            env,
            [
                "bench_import",
                "--measure",
                "--rows",
                str(options["rows"]),
                "--seed",
                str(options["seed"]),
                "--kinds",
                ",".join(kinds),
            ],
            show=True,
        )

    def _measure(self, kinds: list[str], rows: int, seed: int) -> None:
        """In the scratch database: each kind's file imported, next to the COPY floor."""
        from registry.imports import import_file

        rnd = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.stdout.write(f"Data: {rows:,} new rows per kind, seed {seed}; target {TARGET_ROWS_PER_SECOND:,} rows/s")
        self.stdout.write(
            f"{'kind':<20} {'rows':>8} {'import s':>9} {'rows/s':>9} {'floor s':>8} {'floor rows/s':>13} "
            f"{'import/floor':>12}  errors"
        )
        with tempfile.TemporaryDirectory(dir=settings.VAR_DIR if Path(settings.VAR_DIR).exists() else None) as tmp:
            for kind in kinds:
                bench = import_bench.GENERATORS[kind](rows, rnd, Path(tmp))
                floor = import_bench.floor_copy(bench)
                started = time.perf_counter()
                result = import_file(bench.path, kind=kind)
                elapsed = time.perf_counter() - started - result.duplicate_seconds
                self.stdout.write(
                    f"{kind:<20} {bench.rows:>8,} {elapsed:>9.2f} {bench.rows / elapsed:>9,.0f} {floor:>8.2f} "
                    f"{bench.rows / floor:>13,.0f} {elapsed / floor:>11.1f}x  {result.invalid}"
                )
                if result.workers_rewritten:
                    rest = elapsed - result.refresh_seconds
                    self.stdout.write(
                        f"{'':<20} of which {result.refresh_seconds:.2f} s rewriting the {result.workers_rewritten:,} "
                        f"workers whose derived columns changed; the rest {bench.rows / rest:,.0f} rows/s"
                    )
                if result.duplicate_seconds:
                    self.stdout.write(
                        f"{'':<20} duplicate check of the {result.created:,} new workers: "
                        f"{result.duplicate_seconds:.2f} s (not in the rows/s above), "
                        f"{len(result.duplicates):,} probable duplicates"
                    )
                self.stdout.flush()

    def _recreate(self, parts, dbname: str) -> None:
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))

    def _run(self, env: dict, argv: list[str], *, show: bool = False) -> float:
        self.stdout.write(f"-- manage.py {' '.join(argv)}")
        self.stdout.flush()
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
            [sys.executable, "manage.py", *argv],
            env=env,
            cwd=settings.BASE_DIR,
            check=False,
            capture_output=not show,
            text=True,
        )
        elapsed = time.perf_counter() - started
        if done.returncode:
            raise CommandError(f"{argv[0]} failed with exit code {done.returncode}: {done.stderr or ''}")
        return elapsed


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS
