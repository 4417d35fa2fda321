"""`make bench-import`: import a 1,000,000-row worker file on PostgreSQL, next to a bulk_create baseline.

The scratch database (BENCH_IMPORT_DATABASE_URL, default medreg_bench_import) is dropped and
recreated; the command refuses the working databases. The file is generated first (seeded, not
timed); then, each in a child process as an operator would run it:
1. `import_registry FILE --kind workers` into the empty register, timed end to end (process start
   to exit: reading, checking every row, COPY into the register, rebuilding the secondary indexes,
   ANALYZE, duplicate detection; see docs/import.md, "How a large file goes fast");
2. the same file again (nothing changes: staging table, set-based checks against the register, the
   changed-only upsert);
3. the baseline: the same rows checked by the same cleaners and written with bulk_create into the
   emptied worker table.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from core import validators
from perf.benchmarks import machine_description
from registry.imports.engine import _Cleaner, _map_header
from registry.imports.formats import read_rows
from registry.imports.schema import KINDS, Context
from registry.models import MedicalWorker

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/medreg_bench_import"
PROTECTED = {"medreg_big", "medreg_ci", "medreg", "postgres", "template0", "template1"}


def generate_worker_file(path: Path, rows: int, seed: int) -> None:
    """A valid worker exchange file: unique SNILS, registry numbers and INNs, realistic names."""
    from faker import Faker

    fake = Faker("ru_RU")
    fake.seed_instance(seed)
    rnd = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    female = (
        [fake.last_name_female() for _ in range(400)],
        [fake.first_name_female() for _ in range(80)],
        [fake.middle_name_female() for _ in range(80)],
    )
    male = (
        [fake.last_name_male() for _ in range(400)],
        [fake.first_name_male() for _ in range(80)],
        [fake.middle_name_male() for _ in range(80)],
    )
    # An odd multiplier modulo a power of ten is not a permutation; a prime step over 9 digits is
    # close enough and keeps the numbers unique for the row counts used here.
    step = 7919
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(
            [
                "snils",
                "registry_number",
                "inn",
                "last_name",
                "first_name",
                "middle_name",
                "sex",
                "birth_date",
                "phone",
                "email",
            ]
        )
        for n in range(rows):
            sex = "F" if rnd.random() < 0.7 else "M"
            last, first, middle = female if sex == "F" else male
            birth = f"{rnd.randint(1950, 2002)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            writer.writerow(
                [
                    validators.snils_from_number(2_000_000 + n * step % 997_000_000),
                    validators.registry_number_from_serial(1 + n),
                    validators.inn_person_from_body(f"{77 + n % 3:02d}{n:08d}"),
                    rnd.choice(last),
                    rnd.choice(first),
                    rnd.choice(middle),
                    sex,
                    birth,
                    f"+79{rnd.randint(0, 999_999_999):09d}" if rnd.random() < 0.5 else "",
                    "",
                ]
            )


class Command(BaseCommand):
    help = "Замер импорта: файл работников на 1 000 000 строк на PostgreSQL и базовая линия bulk_create."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--file", help="Где держать сгенерированный файл (по умолчанию VAR_DIR).")
        parser.add_argument("--baseline-only", help=argparse_suppress())

    def handle(self, *args, **options):
        if options["baseline_only"]:
            return self._baseline(Path(options["baseline_only"]))
        url = os.environ.get("BENCH_IMPORT_DATABASE_URL", DEFAULT_URL)
        parts = urlsplit(url)
        dbname = parts.path.lstrip("/")
        if not parts.scheme.startswith("postgres"):
            raise CommandError("BENCH_IMPORT_DATABASE_URL must point at PostgreSQL.")
        if dbname in PROTECTED:
            raise CommandError(f"Refusing to drop the database {dbname!r}: choose a scratch database.")
        path = Path(
            options["file"] or Path(settings.VAR_DIR) / f"bench-workers-{options['rows']}-{options['seed']}.csv"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            started = time.perf_counter()
            generate_worker_file(path, options["rows"], options["seed"])
            self.stdout.write(f"-- generated {path.name} in {time.perf_counter() - started:.1f} s (not timed below)")
        self._recreate(parts, dbname)
        env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0"}
        env.pop("REDIS_URL", None)
        with psycopg.connect(url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        self.stdout.write(machine_description(version))
        size_mb = path.stat().st_size / 2**20
        self.stdout.write(f"Data: {options['rows']:,} worker rows, CSV {size_mb:.0f} MiB, seed {options['seed']}")
        self._run(env, ["migrate", "--noinput", "-v0"])
        self._run(env, ["load_directories", "-v0"])
        rows = options["rows"]
        first = self._run(env, ["import_registry", str(path), "--kind", "workers"], show=True)
        self.stdout.write(
            f"import_registry (empty register): {rows:,} rows in {first:.1f} s = {rows / first:,.0f} rows/s"
        )
        second = self._run(env, ["import_registry", str(path), "--kind", "workers"], show=True)
        self.stdout.write(
            f"import_registry (same file again, no changes): {second:.1f} s = {rows / second:,.0f} rows/s"
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE registry_duplicatecandidate, registry_medicalworker CASCADE")
        base = self._run(env, ["bench_import", "--baseline-only", str(path)], show=True)
        self.stdout.write(
            f"baseline bulk_create (empty register): {rows:,} rows in {base:.1f} s = {rows / base:,.0f} rows/s"
        )
        self.stdout.write(f"import_registry is {base / first:.1f}x the baseline")

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

    def _baseline(self, path: Path) -> None:
        """The straightforward way: the same cleaners, then MedicalWorker objects and bulk_create."""
        from django.utils import timezone


        spec = KINDS["workers"]
        _fmt, header, rows = read_rows(path)
        cleaner = _Cleaner(spec, _map_header(spec, header, path.name), Context.load(), keep_keys=False)
        names = [name for name, _type in spec.stage]
        errors, batch, today = [], [], timezone.localdate()
        for number, record in rows:
            cleaned = cleaner.clean(number, record, errors)
            if cleaned is None:
                continue
            values = dict(zip(names, cleaned, strict=True))
            values.pop("row_no")
            batch.append(MedicalWorker(registered_on=today, **values))
            if len(batch) >= 5000:
                MedicalWorker.objects.bulk_create(batch)
                batch = []
        if batch:
            MedicalWorker.objects.bulk_create(batch)
        self.stdout.write(f"bulk_create: {MedicalWorker.objects.count():,} rows, {len(errors)} errors")


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS
