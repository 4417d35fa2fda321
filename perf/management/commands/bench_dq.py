"""`make bench-dq`: duplicate detection on generated registers with known duplicates.

For each size (300,000 and 3,000,000 workers by default) a fresh PostgreSQL database is made and
filled with a seeded register (perf.synthetic_duplicates: a surname tail like a real register's,
2 % duplicates spread over every kind of issue 15, 1 % namesakes, 0.5 % twins), then:

- the scan with every blocking key computed from scratch (the first run after a bulk load), then
  again with the keys current (every later run), both timed;
- recall per kind of duplicate, precision, namesakes and twins stored as candidates (must be 0), and
  the false pairs that are two generated people with the same name and birth date by chance;
- the check of one record against the register (probable_duplicates): p50/p95/p99/max over probes
  that are half new duplicates of stored workers, half strangers;
- the baseline in the same run: the detection this replaced (the same normalized full name and birth
  date, one GROUP BY), its time and recall.

Each size runs as a child process with DATABASE_URL pointing at its database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

from perf import dq_register
from perf import synthetic_duplicates as gen
from perf.benchmarks import machine_description
from registry.models import DuplicateCandidate
from registry.quality import matching, scan

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/medreg_bench_dq"


class Command(BaseCommand):
    help = "Duplicate detection on generated registers with known duplicates: recall, precision, times."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default="300000,3000000", help="register sizes, comma-separated")
        parser.add_argument("--seed", type=int, default=5)
        parser.add_argument("--probes", type=int, default=1000)
        parser.add_argument("--child", type=int, help=argparse.SUPPRESS)

    def handle(self, *args, **options):
        if options["child"]:
            return self._child(options["child"], options)
        base = os.environ.get("BENCH_DQ_DATABASE_URL", DEFAULT_URL)
        parts = urlsplit(base)
        if not parts.scheme.startswith("postgres"):
            raise CommandError("BENCH_DQ_DATABASE_URL must point at PostgreSQL: the figures are for production.")
        for size in (int(s) for s in options["sizes"].split(",") if s.strip()):
            url = urlunsplit(parts._replace(path=f"{parts.path}_{size}"))
            self._recreate(url)
            env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0"}
            env.pop("REDIS_URL", None)
            for argv in (["migrate", "--noinput", "-v0"], ["load_directories"]):
                self._run(env, argv)
            self._run(env, ["bench_dq", "--child", str(size), "--seed", str(options["seed"]),
                            "--probes", str(options["probes"])])  # fmt: skip
        return None

    # --- one size, inside its database -----------------------------------------------------------------

    def _child(self, size: int, options) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            self.stdout.write(machine_description(cursor.fetchone()[0]))
        started = time.perf_counter()
        generator = gen.Generator(size, seed=options["seed"], dup_rate=0.02, share_scale=1.0, surnames="tail",
                                  namesake_rate=0.01, twin_rate=0.005)  # fmt: skip
        records = dq_register.rows_of(generator)
        counts = dq_register.load_register(records)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        negatives = dq_register.negatives_by_kind(records)
        self.stdout.write(
            f"Register: {counts['workers']:,} workers ({sum(negatives.values()):,} namesakes and twins), "
            f"{counts['documents']:,} admission documents, {counts['diplomas']:,} diplomas, "
            f"{counts['employments']:,} employments, {counts['organizations']:,} organizations; "
            f"generated and loaded in {time.perf_counter() - started:.0f} s (seed {options['seed']})"
        )
        self._baseline(records)
        first = self._timed_scan("scan, keys from scratch")
        self._report_quality(dq_register.measure(records), first)
        DuplicateCandidate.objects.all().delete()
        self._timed_scan("scan, keys current")
        self._incremental(records, options["probes"], options["seed"])

    def _timed_scan(self, label: str) -> scan.ScanResult:
        started = time.perf_counter()
        result = scan.duplicates_detect()
        elapsed = time.perf_counter() - started
        skipped = ", ".join(
            f"{rule}: {v['blocks']} blocks / {v['pairs']:,} pairs" for rule, v in result.skipped.items()
        )
        rules = ", ".join(f"{rule} {v['pairs']:,}" for rule, v in result.stats.items())
        self.stdout.write(
            f"{label}: {elapsed:.1f} s ({elapsed / 60:.1f} min); keys computed for {result.keys_refreshed:,} "
            f"workers; {result.pairs:,} pairs compared (new pairs by rule: {rules}); "
            f"{result.new:,} candidates at p >= {matching.THRESHOLD}; skipped: {skipped or 'nothing'}"
        )
        return result

    def _report_quality(self, quality: dq_register.Quality, result: scan.ScanResult) -> None:
        self.stdout.write(
            f"recall {quality.recall:.2%} of {sum(quality.injected.values()):,} injected duplicates; precision "
            f"{quality.precision:.2%} ({quality.true_candidates:,} of {quality.candidates:,} candidates); "
            f"namesakes flagged {quality.negatives_flagged['namesake']}, twins flagged "
            f"{quality.negatives_flagged['twin']}; namesakes born one digit apart (a typo by content) "
            f"{quality.negatives_near_date}; false pairs with the same name and birth date by chance {quality.chance}"
        )
        self.stdout.write(f"  {'kind':<16}{'injected':>10}{'found':>10}{'recall':>10}")
        for kind, injected, found, recall in dq_register.by_kind_table(quality):
            self.stdout.write(f"  {kind:<16}{injected:>10,}{found:>10,}{recall:>10.1%}")

    def _baseline(self, records: list[dict]) -> None:
        """The detection this replaced: the same normalized full name and birth date (one GROUP BY)."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT array_agg(id) FROM registry_medicalworker GROUP BY search_name, birth_date HAVING count(*) > 1"
            )
            groups = [ids for (ids,) in cursor.fetchall()]
        elapsed = time.perf_counter() - started
        pairs = {(min(a, b), max(a, b)) for ids in groups for a in ids for b in ids if a != b}
        by_id = {r["id"] + 1: r for r in records}
        injected = [r for r in records if r["kind"] not in ("base", *dq_register.NEGATIVE_KINDS)]
        found = sum(
            1 for r in injected if (min(r["id"] + 1, int(r["of"]) + 1), max(r["id"] + 1, int(r["of"]) + 1)) in pairs
        )
        true = sum(1 for a, b in pairs if by_id[a]["person"] == by_id[b]["person"])
        self.stdout.write(
            f"baseline (equal normalized name and birth date): {elapsed:.1f} s, "
            f"recall {found / max(len(injected), 1):.2%}, "
            f"precision {true / max(len(pairs), 1):.2%} ({len(pairs):,} pairs)"
        )

    def _incremental(self, records: list[dict], count: int, seed: int) -> None:
        probes = dq_register.probes(records, count, seed + 1000)
        matching.register_size(), matching.term_frequencies()  # warm, as in a running process
        times, hits, misses = [], 0, 0
        for fields, expected in probes:
            started = time.perf_counter()
            found = matching.probable_duplicates(fields=fields)
            times.append((time.perf_counter() - started) * 1000)
            if expected is not None:
                hits += expected in {d.worker_id for d in found}
            elif found:
                misses += 1
        times.sort()
        p = lambda q: times[min(len(times) - 1, int(q * len(times)))]  # noqa: E731
        self.stdout.write(
            f"check of one record: {len(times)} probes, p50 {p(0.5):.1f} ms, p95 {p(0.95):.1f} ms, "
            f"p99 {p(0.99):.1f} ms, max {times[-1]:.1f} ms, mean {statistics.mean(times):.1f} ms; "
            f"new duplicates recognised {hits} of {count // 2}; strangers matched to someone {misses} of "
            f"{count - count // 2}"
        )

    # --- databases -------------------------------------------------------------------------------------------

    def _recreate(self, url: str) -> None:
        parts = urlsplit(url)
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            name = sql.Identifier(parts.path.lstrip("/"))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))

    def _run(self, env: dict, argv: list[str]) -> None:
        self.stdout.flush()
        done = subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
            [sys.executable, "manage.py", *argv], env=env, cwd=settings.BASE_DIR, check=False
        )
        if done.returncode:
            raise CommandError(f"{' '.join(argv)} failed with exit code {done.returncode}")
