"""Time the staff desk (the admin home page) on the current database next to a naive exact count of the
workers, and the workers' change list with its estimated count next to an exact one. Read-only: the
staff account it logs in with is created in a transaction rolled back at the end. Run it on a generated
register (generate_registry)."""

from __future__ import annotations

import statistics
import time

from django.core.management.base import BaseCommand
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from core.paginator import EstimatedCountPaginator
from desk import selectors
from perf.benchmarks import machine_description
from registry.models import MedicalWorker


def _median_ms(action, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _server_version() -> str:
    if connection.vendor == "sqlite":
        return f"(SQLite {connection.Database.sqlite_version})"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


class Command(BaseCommand):
    help = "Print the time of the staff desk page next to a naive COUNT(*) of the workers."

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, repeat: int, **options):
        self.stdout.write(machine_description(_server_version()))
        workers = MedicalWorker.objects.count()
        self.stdout.write(f"database: {connection.vendor}, workers: {workers:_}".replace("_", " "))
        with transaction.atomic(), override_settings(ALLOWED_HOSTS=["*"]):
            self._run(repeat)
            transaction.set_rollback(True)

    def _page(self, client: Client, url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    def _run(self, repeat: int) -> None:
        staff = User.objects.create(username="bench-desk", kind=User.Kind.STAFF, is_staff=True, is_superuser=True)
        client = Client()
        client.force_login(staff)
        desk, workers_list = reverse("admin:index"), reverse("admin:registry_medicalworker_changelist")
        self._page(client, desk)  # warm: templates, permissions
        with CaptureQueriesContext(connection) as queries:
            self._page(client, desk)
        rows = [
            (f"desk page ({len(queries)} queries)", _median_ms(lambda: self._page(client, desk), repeat)),
            ("desk figures (desk.selectors)", _median_ms(selectors.desk_queues, repeat)),
            ("baseline: exact COUNT(*) of workers", _median_ms(MedicalWorker.objects.count, repeat)),
            ("workers change list page", _median_ms(lambda: self._page(client, workers_list), repeat)),
            (
                "  its count: estimated",
                _median_ms(lambda: EstimatedCountPaginator(MedicalWorker.objects.all(), 100).count, repeat),
            ),
            (
                "  its count: exact (Django's)",
                _median_ms(lambda: Paginator(MedicalWorker.objects.all(), 100).count, repeat),
            ),
        ]
        for label, ms in rows:
            self.stdout.write(f"{label:<40} {ms:9.1f} ms (median of {repeat})")
