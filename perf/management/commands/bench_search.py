"""`make bench-search`: public search latency and throughput on the current (PostgreSQL) database.

A fixed, seeded mix of queries (names picked from real rows with a seeded random) runs through the
real view with django.test.Client, N times per kind; the same requests then run through a naive
baseline view (icontains on the name fields, Django Paginator with an exact count, the same form,
table and template). Finally gunicorn serves the search page on 127.0.0.1 and wrk (or a threaded
Python client when wrk is missing) measures requests/s over the same URLs.

Targets (issue 5): selective names p95 <= 50 ms, every kind p95 <= 150 ms, >= 200 requests/s,
>= 15x faster than the baseline at p95.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count, Q
from django.shortcuts import render
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse
from django_tables2 import RequestConfig

from perf.benchmarks import machine_description
from registry import selectors
from registry.models import MedicalWorker, QualificationCategory, Region, Specialty
from registry.search import engine as search
from registry.search.tables import SORTABLE_COLUMNS, WorkerTable

TARGET_SELECTIVE_P95 = 50.0
TARGET_ANY_P95 = 150.0
TARGET_RPS = 200.0
TARGET_RATIO = 15.0
SELECTIVE = "selective name"


def baseline_view(request):
    """What a straightforward Django search would do: icontains on the fields, exact count, OFFSET."""
    form = search.SearchForm(request.GET or None)
    context = {"form": form, "table": None, "fuzzy": False, **selectors.search_directories()}
    if form.is_bound and not form.is_valid():
        return render(request, "registry/_results.html", context)
    params = form.cleaned_data if form.is_bound else {}
    filters = Q()
    for field, lookup in (
        ("specialty", "primary_specialty"),
        ("region", "region"),
        ("category", "category"),
        ("status", "admission_status"),
    ):
        if params.get(field):
            filters &= Q(**{lookup: params[field]})
    if params.get("confirmed"):
        filters &= Q(has_confirmed_documents=True)
    for token in (params.get("q") or "").split():
        filters &= Q(last_name__icontains=token) | Q(first_name__icontains=token) | Q(middle_name__icontains=token)
    qs = MedicalWorker.objects.filter(filters).select_related("primary_specialty", "region", "category")
    table = WorkerTable(qs)
    # Default paginator: django.core.paginator.Paginator, exact COUNT(*), OFFSET page.
    RequestConfig(request, paginate={"per_page": params.get("per_page") or 25}).configure(table)
    context.update(table=table, count=table.paginator.count, more=False, max_page=None, deep=False)
    return render(request, "registry/_results.html", context)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


class Command(BaseCommand):
    help = "Benchmark the public search (ours vs a naive baseline) and requests/s under gunicorn."

    def add_arguments(self, parser):
        parser.add_argument("-n", type=int, default=30, help="Requests per query kind.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--baseline-n", type=int, default=None, help="Baseline requests per kind (default -n).")
        parser.add_argument(
            "--budget",
            type=float,
            default=60.0,
            help="Seconds per kind for our search; it stops early (at least 5 requests) when over budget.",
        )
        parser.add_argument(
            "--baseline-budget",
            type=float,
            default=45.0,
            help="Seconds per kind for the baseline; it stops early (at least 5 requests) when over budget.",
        )
        parser.add_argument("--duration", type=int, default=20, help="Seconds of load for requests/s.")
        parser.add_argument("--gunicorn-workers", type=int, default=max(2, 2 * (os.cpu_count() or 1)))
        parser.add_argument("--connections", type=int, default=16)
        parser.add_argument("--skip-baseline", action="store_true")
        parser.add_argument("--skip-load", action="store_true")

    def handle(self, *args, **options):
        if settings.DEBUG and sys.argv[1:2] == ["bench_search"]:
            # Measure the production configuration: DEBUG off (cached template loader, no query log).
            self.stdout.write("-- DEBUG is on: re-running with DEBUG=0")
            self.stdout.flush()
            done = subprocess.run(  # noqa: S603 -- our own manage.py with the same arguments
                [sys.executable, "manage.py", *sys.argv[1:]],
                env={**os.environ, "DEBUG": "0"},
                cwd=settings.BASE_DIR,
                check=False,
            )
            if done.returncode:
                raise CommandError(f"bench_search failed with exit code {done.returncode}")
            return
        if connection.vendor != "postgresql":
            raise CommandError("bench_search needs PostgreSQL (DATABASE_URL): the targets are for production.")
        rows = MedicalWorker.objects.count()
        if rows < 1000:
            raise CommandError(f"Only {rows} workers in the database: run `make bench` (generate_registry) first.")
        self._print_machine(rows)
        rng = random.Random(options["seed"])  # noqa: S311 -- a seeded, repeatable query mix
        mix = self._mix(rng, options["n"])
        url = reverse("registry:search")

        with override_settings(PUBLIC_SEARCH_RATE_LIMIT=0, DEBUG=False):
            client = Client(HTTP_HOST="127.0.0.1")
            factory = RequestFactory(HTTP_HOST="127.0.0.1")
            # Warm-up: one request per kind, both paths, not measured.
            for queries in mix.values():
                self._get(client, url, queries[-1])
            ours, base, fuzzy_hits = {}, {}, 0
            for kind, queries in mix.items():
                ours[kind] = []
                spent = 0.0
                for params in queries:
                    ms, response = self._get(client, url, params)
                    ours[kind].append(ms)
                    fuzzy_hits += kind == "typo" and "показаны похожие" in response.content.decode()
                    spent += ms / 1000
                    if spent > options["budget"] and len(ours[kind]) >= 5:
                        break
            if not options["skip_baseline"]:
                for kind, queries in mix.items():
                    base[kind] = self._baseline(
                        factory, url, queries[: options["baseline_n"] or options["n"]], options["baseline_budget"]
                    )

        self._print_table(mix, ours, base)
        self.stdout.write(f"typo kind: {fuzzy_hits}/{len(ours['typo'])} answered by the similarity fallback")
        rps = None
        if not options["skip_load"]:
            urls = [f"{url}?{urlencode(p)}" for queries in mix.values() for p in queries]
            # Filter/sort/deep-page URLs alone (no name typed) first: slow name queries left queued in
            # gunicorn by the whole mix would otherwise still hold its workers.
            rps = self._load({"no name typed": [u for u in urls if "q=" not in u], "whole mix": urls}, options)
        self._print_targets(ours, base, rps)

    # --- query mix ----------------------------------------------------------------------------

    def _mix(self, rng: random.Random, n: int) -> dict[str, list[dict]]:
        max_id = MedicalWorker.objects.order_by("-id").values_list("id", flat=True).first()
        ids = rng.sample(range(1, max_id + 1), 6 * n)
        people = list(MedicalWorker.objects.filter(id__in=ids).order_by("id").values_list("last_name", "first_name"))
        rng.shuffle(people)
        common = [
            name
            for name, _ in MedicalWorker.objects.values_list("last_name").annotate(c=Count("id")).order_by("-c")[:10]
        ]
        regions = list(Region.objects.order_by("code").values_list("code", flat=True))
        specialties = list(Specialty.objects.order_by("code").values_list("code", flat=True))
        categories = list(QualificationCategory.objects.order_by("code").values_list("code", flat=True))
        statuses = [value for value, _ in search.PUBLIC_STATUSES]

        def filters(i: int) -> dict:
            combos = [
                {"region": rng.choice(regions)},
                {"specialty": rng.choice(specialties)},
                {"status": rng.choice(statuses)},
                {"region": rng.choice(regions), "status": rng.choice(statuses)},
                {"specialty": rng.choice(specialties), "category": rng.choice(categories)},
                {"region": rng.choice(regions), "specialty": rng.choice(specialties), "status": "active"},
                {"category": rng.choice(categories), "status": rng.choice(statuses)},
            ]
            return combos[i % len(combos)]

        def typo(last: str, first: str) -> str:
            pos = rng.randrange(1, len(last) - 1)
            return f"{last[:pos]}{last[pos + 1 :]} {first}"  # one letter dropped from the surname

        mix = {
            SELECTIVE: [{"q": f"{last} {first[:3]}"} for last, first in people[:n]],
            "common surname": [{"q": common[i % len(common)]} for i in range(n)],
            "filters only": [filters(i) for i in range(n)],
        }
        for column in sorted(SORTABLE_COLUMNS):
            # Half over the whole register, half within a region; both directions.
            mix[f"sort {column}"] = [
                {"sort": f"{'-' if i % 2 else ''}{column}", **({"region": rng.choice(regions)} if i % 4 >= 2 else {})}
                for i in range(n)
            ]
        deep = [{}, {"q": common[0]}, {"status": "active"}, {"region": "77"}]
        mix["page 100"] = [{**deep[i % len(deep)], "page": search.MAX_PAGE} for i in range(n)]
        mix["typo"] = [{"q": typo(last, first)} for last, first in people[n : 2 * n]]
        return mix

    # --- measurement --------------------------------------------------------------------------

    def _get(self, client: Client, url: str, params: dict):
        started = time.perf_counter()
        response = client.get(url, params)
        ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise CommandError(f"{url}?{urlencode(params)} answered {response.status_code}")
        return ms, response

    def _baseline(self, factory: RequestFactory, url: str, queries: list[dict], budget: float) -> list[float]:
        times: list[float] = []
        spent = 0.0
        for params in queries:
            started = time.perf_counter()
            response = baseline_view(factory.get(url, params))
            ms = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise CommandError(f"baseline {urlencode(params)} answered {response.status_code}")
            times.append(ms)
            spent += ms / 1000
            if spent > budget and len(times) >= 5:
                break
        return times

    def _load(self, mixes: dict[str, list[str]], options) -> float | None:
        urls = mixes["whole mix"]
        port = _free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        env = {
            **os.environ,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "PUBLIC_SEARCH_RATE_LIMIT": "0",
            "DATABASE_URL": _database_url(),
        }
        env.pop("REDIS_URL", None)
        argv = [
            str(gunicorn),
            "portal.wsgi:application",
            "-w",
            str(options["gunicorn_workers"]),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ]
        # Our own gunicorn with fixed arguments, on the loopback interface only.
        server = subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR)  # noqa: S603
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(base + urls[0], timeout=5) as response:  # noqa: S310
                        if response.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise CommandError("gunicorn did not start") from None
                    time.sleep(0.3)
            for url in urls[:8]:  # open the workers' database connections
                urllib.request.urlopen(base + url, timeout=60).read()  # noqa: S310
            results, errors = {}, {}
            for label, mix_urls in mixes.items():
                self.stdout.write(f"-- load, {label}:")
                if shutil.which("wrk"):
                    results[label] = self._wrk(base, mix_urls, options)
                else:
                    results[label] = self._threads(base, mix_urls, options)
                errors[label] = self._load_errors
            self._load_errors = errors["whole mix"]
            return results["whole mix"]
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()

    def _wrk(self, base: str, urls: list[str], options) -> float:
        paths = ",\n".join('"' + u.replace("\\", "\\\\").replace('"', '\\"') + '"' for u in urls)
        script = (
            f"local paths = {{\n{paths}\n}}\n"
            "local i = 0\n"
            "function init(args) i = math.random(#paths) end\n"
            "function request()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n"
        )
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(script)
        threads = min(2, options["connections"])
        argv = [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(options["connections"]),
            "-d",
            f"{options['duration']}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            lua.name,
            base + "/",
        ]
        self.stdout.write(
            f"-- load: {' '.join(argv[:-3])} <rotating {len(urls)} search URLs> "
            f"against gunicorn -w {options['gunicorn_workers']}"
        )
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        os.unlink(lua.name)
        out = done.stdout
        self.stdout.write("\n".join("   " + line for line in out.strip().splitlines()))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        sock = re.search(r"Socket errors: (.*)", out)
        errors = int(non2xx.group(1)) if non2xx else 0
        self.stdout.write(f"requests/s: {rps:.1f}, non-2xx: {errors}, socket errors: {sock.group(1) if sock else 0}")
        self._load_errors = errors + (sum(int(x) for x in re.findall(r"\d+", sock.group(1))) if sock else 0)
        return rps

    def _threads(self, base: str, urls: list[str], options) -> float:
        self.stdout.write(f"-- load: wrk not installed; {options['connections']} Python threads")
        stop = time.monotonic() + options["duration"]
        counts, errors, lock = [0], [0], threading.Lock()

        def worker(offset: int):
            i = offset
            while time.monotonic() < stop:
                i = (i + 1) % len(urls)
                try:
                    with urllib.request.urlopen(base + urls[i], timeout=10) as response:  # noqa: S310
                        response.read()
                        ok = response.status == 200
                except OSError:
                    ok = False
                with lock:
                    counts[0] += 1
                    errors[0] += not ok

        pool = [threading.Thread(target=worker, args=(k * 97,)) for k in range(options["connections"])]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        rps = counts[0] / options["duration"]
        self._load_errors = errors[0]
        self.stdout.write(f"requests/s: {rps:.1f}, errors: {errors[0]}")
        return rps

    # --- output -------------------------------------------------------------------------------

    def _print_machine(self, rows: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
        self.stdout.write(
            f"{machine_description(version)}, database {connection.settings_dict['NAME']}: {rows:,} workers"
        )

    def _print_table(self, mix, ours, base) -> None:
        self.stdout.write("")
        self.stdout.write(
            f"{'kind':<30} {'n':>3} {'ours p50':>9} {'ours p95':>9} {'base n':>6} "
            f"{'base p50':>9} {'base p95':>9} {'ratio p95':>9}"
        )
        for kind in mix:
            b = base.get(kind, [])
            ratio = pct(b, 95) / pct(ours[kind], 95) if b else float("nan")
            self.stdout.write(
                f"{kind:<30} {len(ours[kind]):>3} {pct(ours[kind], 50):>9.1f} {pct(ours[kind], 95):>9.1f} "
                f"{len(b):>6} {pct(b, 50):>9.1f} {pct(b, 95):>9.1f} {ratio:>8.1f}x"
            )
        all_ours = [t for ts in ours.values() for t in ts]
        all_base = [t for ts in base.values() for t in ts]
        self.stdout.write(
            f"{'all kinds':<30} {len(all_ours):>3} {pct(all_ours, 50):>9.1f} {pct(all_ours, 95):>9.1f} "
            f"{len(all_base):>6} {pct(all_base, 50):>9.1f} {pct(all_base, 95):>9.1f} "
            f"{(pct(all_base, 95) / pct(all_ours, 95)) if all_base else float('nan'):>8.1f}x"
        )
        self.stdout.write(
            "Times in ms, wall time per request in-process (ours: django.test.Client through the "
            "middleware; baseline: its view called directly, so no middleware)."
        )

    def _print_targets(self, ours, base, rps) -> None:
        def mark(ok: bool) -> str:
            return "✓" if ok else "✗"

        selective = pct(ours[SELECTIVE], 95)
        worst_kind = max(ours, key=lambda k: pct(ours[k], 95))
        worst = pct(ours[worst_kind], 95)
        self.stdout.write("\nTargets (issue 5):")
        self.stdout.write(
            f"  {mark(selective <= TARGET_SELECTIVE_P95)} selective names p95 {selective:.1f} ms "
            f"(<= {TARGET_SELECTIVE_P95:.0f})"
        )
        self.stdout.write(
            f"  {mark(worst <= TARGET_ANY_P95)} every kind p95 <= {TARGET_ANY_P95:.0f} ms "
            f"(worst: {worst_kind} {worst:.1f} ms)"
        )
        if rps is not None:
            errors = getattr(self, "_load_errors", 0)
            self.stdout.write(
                f"  {mark(rps >= TARGET_RPS and not errors)} {rps:.1f} requests/s over the whole mix "
                f"with {errors} errors (>= {TARGET_RPS:.0f}, 0 errors)"
            )
        if base:
            all_ours = [t for ts in ours.values() for t in ts]
            all_base = [t for ts in base.values() for t in ts]
            overall = pct(all_base, 95) / pct(all_ours, 95)
            ratios = {k: pct(base[k], 95) / pct(ours[k], 95) for k in base}
            low = min(ratios, key=ratios.get)
            self.stdout.write(
                f"  {mark(overall >= TARGET_RATIO)} {overall:.1f}x faster than the baseline at p95 "
                f"over the whole mix (>= {TARGET_RATIO:.0f}x); per kind from {ratios[low]:.1f}x "
                f"({low}), median {statistics.median(ratios.values()):.1f}x"
            )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
