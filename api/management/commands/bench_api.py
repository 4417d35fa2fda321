"""Time API pages on the current database: first page against a deep keyset page, and the same
depth with OFFSET for comparison. Read-only; run it on a generated register (generate_registry)."""

import datetime as dt
import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client, override_settings

from api.parameters import OPERATIONS
from registry.models import MedicalWorker, Specialty
from registry.params import Cursor


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
