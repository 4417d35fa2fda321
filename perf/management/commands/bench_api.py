"""Time API pages on the current database: first page against a deep keyset page, and the same
depth with OFFSET for comparison, and resuming a caught-up changes feed by updated_since (every row that
shares the last updated_at is read again) against resuming by cursor. Read-only; run it on a generated
register (generate_registry)."""

import datetime as dt
import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client, override_settings

from api.parameters import OPERATIONS
from perf.benchmarks import machine_description
from registry.models import MedicalWorker, Specialty, WorkerTombstone
from registry.search.params import Cursor

# The baseline re-reads at most this many rows (the size of a bulk import in issue 17): a generated register
# gives all its rows one updated_at, and re-reading 3 million of them would take most of an hour.
RESUME_BASELINE_ROWS = 20_000


def _cursor(operation: str, values) -> str:
    cursor = OPERATIONS[operation]["cursor"]
    assert isinstance(cursor, Cursor)
    return cursor.encode(values)


class Command(BaseCommand):
    help = "Print timings of API list pages at depth (keyset) next to OFFSET."

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=5)

    def _time(self, client, url, repeat):
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code, response.content[:200])
        return statistics.median(samples)

    def handle(self, *args, repeat, **options):
        total = MedicalWorker.objects.count()
        version = connection.Database.sqlite_version if connection.vendor == "sqlite" else ""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                version = cursor.fetchone()[0]
        self.stdout.write(machine_description(version))
        self.stdout.write(f"database: {connection.vendor}, workers: {total:,}".replace(",", " "))
        depth = total * 3 // 4
        by_name = MedicalWorker.objects.order_by("search_name", "id").values("search_name", "id")[depth]
        by_change = MedicalWorker.objects.order_by("updated_at", "id").values("updated_at", "id")[depth]
        specialty = Specialty.objects.get(
            pk=MedicalWorker.objects.exclude(primary_specialty=None).values_list("primary_specialty", flat=True)[:1][0]
        )
        client = Client()
        rows = [
            ("workers, page 1", "/api/v1/workers/?page_size=50"),
            (
                f"workers, row {depth:,}",
                f"/api/v1/workers/?page_size=50&cursor={_cursor('workers_search', by_name.values())}",
            ),
            ("workers by specialty, page 1", f"/api/v1/workers/?page_size=50&specialty={specialty.code}"),
            ("workers by name «иван»", "/api/v1/workers/?page_size=50&q=%D0%B8%D0%B2%D0%B0%D0%BD"),
            ("changes feed, page 1", "/api/v1/workers/changes/?page_size=50"),
            (
                f"changes feed, row {depth:,}",
                # The tombstones' half of the position: from the start (a generated register has none).
                f"/api/v1/workers/changes/?page_size=50&cursor="
                f"{_cursor('workers_changes', [*by_change.values(), dt.datetime(1, 1, 1, tzinfo=dt.UTC), 0])}",
            ),
            ("FHIR Practitioner name=иван", "/fhir/Practitioner?name=%D0%B8%D0%B2%D0%B0%D0%BD&_count=50"),
        ]
        with override_settings(API_ANON_RATE_PER_MINUTE=0, ALLOWED_HOSTS=["*"]):
            for label, url in rows:
                self.stdout.write(f"{label:<32} {self._time(client, url, repeat):8.1f} ms (median of {repeat})")
        start = time.perf_counter()
        list(
            MedicalWorker.objects.select_related("primary_specialty", "region", "category").order_by(
                "search_name", "id"
            )[depth : depth + 51]
        )
        offset_ms = (time.perf_counter() - start) * 1000
        self.stdout.write(f"{'OFFSET ' + format(depth, ',') + ' for comparison':<32} {offset_ms:8.1f} ms (one query)")
        with override_settings(API_ANON_RATE_PER_MINUTE=0, ALLOWED_HOSTS=["*"]):
            self._resume(client)

    def _resume(self, client):
        """A client that has read the whole feed asks again: by updated_since (the baseline) it reads every
        row sharing the last updated_at again, by cursor nothing."""
        last = MedicalWorker.objects.order_by("-updated_at", "-id").values("updated_at", "id").first()
        tied = MedicalWorker.objects.filter(updated_at=last["updated_at"]).count()
        since = last["updated_at"].isoformat().replace("+", "%2B")
        start, reread, url = time.perf_counter(), 0, f"/api/v1/workers/changes/?page_size=200&updated_since={since}"
        while url and reread < RESUME_BASELINE_ROWS:
            body = client.get(url).json()
            reread, url = reread + len(body["results"]), body["next"]
        by_since = (time.perf_counter() - start) * 1000
        more = f" (stopped there; {tied - reread:,} more would follow)" if url else ""
        tombstone = WorkerTombstone.objects.order_by("-created_at", "-id").values("created_at", "id").first()
        position = [*last.values(), *(tombstone.values() if tombstone else (dt.datetime(1, 1, 1, tzinfo=dt.UTC), 0))]
        cursor = _cursor("workers_changes", position)
        start = time.perf_counter()
        body = client.get(f"/api/v1/workers/changes/?page_size=200&cursor={cursor}").json()
        by_cursor = (time.perf_counter() - start) * 1000
        self.stdout.write(f"resume a caught-up feed ({tied:,} rows share the last updated_at):")
        self.stdout.write(f"  {'by updated_since (baseline)':<30} {by_since:8.1f} ms, {reread:,} rows read again{more}")
        self.stdout.write(f"  {'by cursor':<30} {by_cursor:8.1f} ms, {len(body['results']):,} rows read again")
