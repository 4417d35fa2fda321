"""Time the organization cabinet's staff list (/org/) for one large organization: the first page, each
kind of filter, the sorts that are not by name, past staff and a search, p50/p95 over N requests
through the real view (login, membership, selectors, template), next to a baseline measured in the
same run: the same pages with PostgreSQL's index scans switched off, which is what the list costs
without the indexes it was designed for.

    manage.py bench_org [--organization ID] [--requests 30]

The organization is the one with the most current staff unless --organization names one; make one
with generate_registry --big-organization 20000. A benchmark HR officer of it is created (or reused)
on this database. Read-only otherwise; run it on the benchmark database (make bench).
"""

from __future__ import annotations

import statistics
import time
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count
from django.test import Client, override_settings

from accounts.models import User
from core import validators
from orgs.models import OrgMembership
from orgs.selectors import SESSION_KEY
from perf.benchmarks import machine_description
from registry.models import Employment, MedicalOrganization, MedicalWorker

TARGET_P95_MS = 100.0
BENCH_USERNAME = "bench-org-hr"
BENCH_SNILS_NUMBER = 998_877_665  # an account's SNILS (accounts, not the register's workers)
# The baseline: the planner may not use an index (the tables are read in full).
NO_INDEXES = ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan")


def _n(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Staff list of the organization cabinet: p50/p95 of four pages next to a no-index baseline."

    def add_arguments(self, parser):
        parser.add_argument("--organization", type=int, help="id организации (по умолчанию — самая крупная)")
        parser.add_argument("--requests", type=int, default=30, help="запросов на каждую страницу")
        parser.add_argument("--baseline-requests", type=int, default=5, help="запросов базовой линии на страницу")

    def handle(self, *args, **options):
        if options["requests"] < 2 or options["baseline_requests"] < 1:
            raise CommandError("--requests не меньше 2, --baseline-requests не меньше 1")
        self._machine()
        organization, staff = self._organization(options["organization"])
        client = self._client(organization)
        pages = self._pages(organization)
        rows = Employment.objects.filter(organization=organization).count()
        self.stdout.write(
            f"organization {organization.pk} «{organization.short_name}»: {_n(staff)} current staff, "
            f"{_n(rows)} employment rows"
        )
        with override_settings(DEBUG=False, ALLOWED_HOSTS=["*"]):
            self._compare(client, pages, options["requests"], options["baseline_requests"])

    def _machine(self) -> None:
        version = connection.Database.sqlite_version if connection.vendor == "sqlite" else ""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                version = cursor.fetchone()[0]
        self.stdout.write(machine_description(version))
        workers = MedicalWorker.objects.count()
        employments = Employment.objects.count()
        self.stdout.write(f"database: {connection.vendor}, workers: {_n(workers)}, employments: {_n(employments)}")

    def _organization(self, organization_id: int | None) -> tuple[MedicalOrganization, int]:
        current = Employment.objects.filter(ended_on__isnull=True)
        if organization_id is None:
            biggest = current.values("organization").annotate(n=Count("id")).order_by("-n").first()
            if biggest is None:
                raise CommandError("В регистре нет мест работы: сначала generate_registry --big-organization 20000")
            organization_id = biggest["organization"]
        organization = MedicalOrganization.objects.filter(pk=organization_id).first()
        if organization is None:
            raise CommandError(f"Организации {organization_id} нет")
        return organization, current.filter(organization=organization).count()

    def _client(self, organization: MedicalOrganization) -> Client:
        user, _ = User.objects.get_or_create(
            username=BENCH_USERNAME,
            defaults={
                "kind": User.Kind.WORKER,
                "snils": validators.snils_from_number(BENCH_SNILS_NUMBER),
                "first_name": "Кадровик",
                "last_name": "Тест",
            },
        )
        OrgMembership.objects.update_or_create(
            user=user, organization=organization, defaults={"role": OrgMembership.Role.HR, "is_active": True}
        )
        client = Client()
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = organization.pk
        session.save()
        return client

    def _pages(self, organization: MedicalOrganization) -> list[tuple[str, str]]:
        rows = Employment.objects.filter(organization=organization, ended_on__isnull=True)
        position = rows.values("position").annotate(n=Count("id")).order_by("-n").values_list("position", flat=True)[:1]
        department = (
            rows.exclude(department="")
            .values("department")
            .annotate(n=Count("id"))
            .order_by("-n")
            .values_list("department", flat=True)[:1]
        )
        name = rows.order_by("id").values_list("worker__last_name", flat=True).first() or "Иван"
        prefix = name[:3]
        return [
            ("first page", "/org/"),
            ("filter: most common position", f"/org/?position={position[0] if position else ''}"),
            ("filter: most common department", f"/org/?department={quote(department[0] if department else '')}"),
            ("filter: admission expired", "/org/?admission_status=expired"),
            ("filter: expiring within 30 days", "/org/?expiring=30"),
            ("filter: expiring within 90 days", "/org/?expiring=90"),
            ("sort: newest start date", "/org/?sort=-started"),
            ("sort: admission ends soonest", "/org/?sort=admission"),
            ("past staff", "/org/?state=past"),
            (f"search: «{prefix}»", f"/org/?q={quote(prefix)}"),
        ]

    def _time(self, client: Client, url: str, count: int) -> list[float]:
        client.get(url)  # warm-up: the first request compiles the templates
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise CommandError(f"{url}: HTTP {response.status_code}")
        return samples

    def _compare(self, client: Client, pages, count: int, baseline_count: int) -> None:
        self.stdout.write(f"{'page':<34} {'p50 ms':>8} {'p95 ms':>8}   baseline (no indexes) p50 / p95 ms")
        worst = 0.0
        for label, url in pages:
            samples = self._time(client, url, count)
            p50, p95 = statistics.median(samples), percentile(samples, 0.95)
            worst = max(worst, p95)
            baseline = self._baseline(client, url, baseline_count)
            self.stdout.write(f"{label:<34} {p50:8.1f} {p95:8.1f}   {baseline}")
        verdict = "met" if worst <= TARGET_P95_MS else "NOT met"
        self.stdout.write(
            f"requests per page: {count}; worst p95 {worst:.1f} ms; target ≤ {TARGET_P95_MS:.0f} ms p95: {verdict}"
        )
        if settings.DEBUG:
            self.stdout.write("note: DEBUG is on in the settings; the pages ran with DEBUG off")

    def _baseline(self, client: Client, url: str, count: int) -> str:
        if connection.vendor != "postgresql":
            return "PostgreSQL only"
        # The test client keeps the connection between requests, so the session settings hold for them.
        with connection.cursor() as cursor:
            for name in NO_INDEXES:
                cursor.execute(f"SET {name} = off")
        try:
            samples = self._time(client, url, count)
        finally:
            with connection.cursor() as cursor:
                for name in NO_INDEXES:
                    cursor.execute(f"RESET {name}")
        return f"{statistics.median(samples):8.1f} / {percentile(samples, 0.95):8.1f}"
