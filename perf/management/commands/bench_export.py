"""Export benchmark: CSV of 1,000,000 rows and XLSX of 100,000 rows through the real export code.

Each export runs in a child process so its peak memory (ru_maxrss) is the export's own, not this
command's. Rows are the public search result in name order, as the background export job writes them
(registry.exports.iter_rows → csv_chunks / write_xlsx). Targets (issue 5): CSV ≤ 20 s with ≤ 150 MB
RSS, XLSX ≤ 12 s.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from perf.benchmarks import machine_description
from registry.exports import services as exports
from registry.models import MedicalWorker
from registry.search import engine as search

TARGETS = {"csv": (1_000_000, 20.0, 150), "xlsx": (100_000, 12.0, None)}


class Command(BaseCommand):
    help = "Time the CSV (1,000,000 rows) and XLSX (100,000 rows) exports on PostgreSQL."

    def add_arguments(self, parser):
        parser.add_argument("--csv-rows", type=int, default=TARGETS["csv"][0])
        parser.add_argument("--xlsx-rows", type=int, default=TARGETS["xlsx"][0])
        parser.add_argument("--child", choices=["csv", "xlsx"], help="internal: run one export in this process")

    def handle(self, *args, **options):
        if options["child"]:
            self._child(options["child"], options[f"{options['child']}_rows"])
            return
        if connection.vendor != "postgresql":
            raise CommandError("bench_export needs PostgreSQL (DATABASE_URL): the targets are for production.")
        rows = MedicalWorker.objects.count()
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        self.stdout.write(f"{machine_description(version)}, {rows:,} workers in the database")
        for fmt in ("csv", "xlsx"):
            count = options[f"{fmt}_rows"]
            done = subprocess.run(  # noqa: S603 -- our own manage.py with fixed arguments
                [sys.executable, "manage.py", "bench_export", "--child", fmt, f"--{fmt}-rows", str(count)],
                cwd=settings.BASE_DIR,
                env={**os.environ, "DEBUG": "0"},
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                raise CommandError(f"{fmt} export failed: {done.stderr[-2000:]}")
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            _, target_s, target_mb = TARGETS[fmt]
            ok = figures["seconds"] <= target_s and (target_mb is None or figures["max_rss_mb"] <= target_mb)
            self.stdout.write(
                f"  {'OK  ' if ok else 'MISS'} {fmt.upper():<4} {figures['rows']:>9,} rows "
                f"in {figures['seconds']:6.1f} s "
                f"({figures['rows'] / figures['seconds']:,.0f} rows/s), file {figures['bytes'] / 2**20:.0f} MiB, "
                f"peak RSS {figures['max_rss_mb']:.0f} MB (target ≤ {target_s:.0f} s"
                + (f", ≤ {target_mb} MB" if target_mb else "")
                + ")"
            )

    def _child(self, fmt: str, count: int) -> None:
        qs = search.worker_search({}).queryset[:count]
        started = time.perf_counter()
        with tempfile.TemporaryFile() as handle:
            if fmt == "csv":
                written = 0
                for chunk in exports.csv_document(qs):
                    handle.write(chunk.encode("utf-8"))
                    written += chunk.count("\r\n")
                written -= 1  # the header line
            else:
                written = exports.write_xlsx(exports.iter_rows(qs), handle)
            size = handle.tell()
        seconds = time.perf_counter() - started
        max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        figures = {"rows": written, "seconds": seconds, "bytes": size, "max_rss_mb": max_rss_mb}
        sys.stdout.write(json.dumps(figures) + "\n")
