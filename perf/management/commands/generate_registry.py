"""Fill the registry with realistic synthetic data, up to the full national scale.

    manage.py generate_registry --workers 3000000 --organizations 60000 --seed 1
    manage.py generate_registry --workers 2000 --organizations 50 --seed 7 --append

The rows come from perf.synthetic (deterministic for a seed); this command reads the
directories, decides the numbering bases and writes. On PostgreSQL the batches are generated in
worker processes as COPY text while this process streams the previous batch into the tables; on
other databases the same rows go through bulk_create. Each batch (workers with all their child
rows, or organizations with their licenses) is one transaction: a failure leaves whole batches.

A registry that already holds workers or organizations is refused unless --append; with it the
numbering continues after what is stored (see perf.synthetic for the uniqueness argument).

Loading into empty tables on PostgreSQL drops their non-unique indexes and foreign keys first and
rebuilds them at the end (sorted index builds and one validation query per key are far faster than
maintaining them row by row). What was dropped is recorded in a comment on the worker table in the
same transaction as the drop, so an interrupted run is repaired by the next run of this command
(`generate_registry --workers 0` does only that). Unique indexes and primary keys stay in place.
Appending to a filled registry keeps every index and is much slower per row.

Measured on 2 cores with PostgreSQL 15: 3,000,000 workers and 60,000 organizations (21.8 million
rows with all child tables) in about 5 minutes: 3 for generating and COPY, 2 for rebuilding the
indexes and foreign keys.
"""

from __future__ import annotations

import collections
import datetime as dt
import enum
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from core.pooling import SessionRequired, require_session
from perf import synthetic
from registry import models, services

TABLE_MODELS = {
    "organization": models.MedicalOrganization,
    "license": models.OrganizationLicense,
    "worker": models.MedicalWorker,
    "employment": models.Employment,
    "education": models.Education,
    "document": models.AdmissionDocument,
    "category": models.CategoryAssignment,
    "cme": models.ContinuingEducation,
}
ALL_TABLES = synthetic.ORG_TABLES + synthetic.WORKER_TABLES
PENDING_MARKER = "generate_registry:pending"
ANCHOR_TABLE = models.MedicalWorker._meta.db_table
REBUILD_CONNECTIONS = 2
ADVISORY_LOCK = 0x4D52_4745_4E00  # "MRGEN": one generate_registry per database at a time
REBUILD_PARALLEL_WORKERS = None


def default_jobs() -> int:
    """Generator processes: one per core (at most 4).

    On 2 cores one generator process left the COPY waiting (the generator was then the slower
    side); a second one is worth the CPU time it takes from the database backend.
    """
    return max(1, min(os.cpu_count() or 1, 4))


class Command(BaseCommand):
    help = (
        "Генерирует синтетический регистр: организации с лицензиями, работников с местами работы, "
        "образованием, документами о допуске, категориями и НМО (generate synthetic registry data)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=0, help="сколько работников создать")
        parser.add_argument("--organizations", type=int, default=0, help="сколько организаций создать")
        parser.add_argument("--seed", type=int, default=1, help="зерно генератора: тот же seed — те же данные")
        parser.add_argument(
            "--batch", type=int, default=50_000, help="работников в одной транзакции (округляется до 100)"
        )
        parser.add_argument("--today", help="дата отсчёта статусов допуска, YYYY-MM-DD (по умолчанию сегодня)")
        parser.add_argument("--append", action="store_true", help="дописать к непустому регистру")
        parser.add_argument(
            "--jobs",
            type=int,
            default=None,
            help="процессов генерации для PostgreSQL; 0 — в этом процессе (по умолчанию по числу ядер, до 4)",
        )
        parser.add_argument(
            "--keep-indexes", action="store_true", help="не снимать индексы и внешние ключи на время загрузки"
        )
        parser.add_argument("--no-progress", action="store_true", help="без индикатора выполнения")
        parser.add_argument(
            "--big-organization",
            type=int,
            default=0,
            metavar="STAFF",
            help="одна организация примерно с STAFF сотрудниками из новых работников (для bench_org)",
        )

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        workers, organizations = options["workers"], options["organizations"]
        if workers < 0 or organizations < 0:
            raise CommandError("--workers и --organizations не могут быть отрицательными")
        if options["batch"] < 1:
            raise CommandError("--batch должен быть положительным")
        if options["big_organization"] and not 0 < options["big_organization"] < workers:
            raise CommandError("--big-organization: больше нуля и меньше числа новых работников (--workers)")
        today = self._parse_today(options["today"])
        if connection.vendor != "postgresql":
            return self._generate(options, today, postgres=False)
        try:
            require_session("generate_registry")
        except SessionRequired as exc:
            raise CommandError(str(exc)) from None
        # One run at a time: a second one would take the same numbering bases, and its start-up
        # repair (below) would rebuild the indexes the first one has just dropped.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK])
            if not cursor.fetchone()[0]:
                raise CommandError("generate_registry уже выполняется для этой базы (another run is in progress)")
        try:
            self._restore_pending()
            return self._generate(options, today, postgres=True)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK])

    def _generate(self, options, today: dt.date, *, postgres: bool) -> None:
        workers, organizations = options["workers"], options["organizations"]
        if not workers and not organizations:
            self.stdout.write("Нечего создавать: укажите --workers и/или --organizations.")
            return

        catalog = self._read_catalog()
        counts_before = {t: TABLE_MODELS[t].objects.exists() for t in ALL_TABLES}
        if (counts_before["worker"] or counts_before["organization"]) and not options["append"]:
            raise CommandError(
                "Регистр не пуст: в базе уже есть работники или организации. Запустите с --append, чтобы "
                "дописать данные (нумерация продолжится после существующих), или используйте пустую базу. "
                "(The registry is not empty; pass --append to add more rows.)"
            )

        plan = self._build_plan(options, today, catalog, workers, organizations)
        if postgres:
            self._reserve_ids(plan)
        self.columns = {t: self._columns(t) for t in ALL_TABLES}
        self.stats = {t: [0, 0.0] for t in ALL_TABLES}  # rows, seconds spent writing
        started = time.monotonic()

        fast = postgres and not options["keep_indexes"] and not any(counts_before.values())
        dropped = self._drop_secondary() if fast else []
        self.phases = {}
        try:
            phase_started = time.monotonic()
            self._organizations(plan, options, postgres)
            self.phases["организации"] = time.monotonic() - phase_started
            if workers:
                phase_started = time.monotonic()
                self._write_workers(plan, options, postgres)
                self.phases["работники (генерация и запись)"] = time.monotonic() - phase_started
        finally:
            # Also after a failure: the committed batches need their indexes, and the sequences
            # must not hand out ids that committed rows already hold.
            try:
                if dropped:
                    rebuild_started = time.monotonic()
                    self.stdout.write(f"Восстанавливаю {len(dropped)} индексов и внешних ключей…")
                    self._restore_pending()
                    self.phases["индексы и внешние ключи"] = time.monotonic() - rebuild_started
            finally:
                self._reset_sequences()
        if workers:
            words_started = time.monotonic()
            services.search_words_rebuild()
            self.phases["поисковый словарь"] = time.monotonic() - words_started
        if postgres:
            analyze_started = time.monotonic()
            with connection.cursor() as cursor:
                for table in ALL_TABLES:
                    cursor.execute(f"ANALYZE {TABLE_MODELS[table]._meta.db_table}")
            self.phases["ANALYZE"] = time.monotonic() - analyze_started
        self._summary(time.monotonic() - started)

    def _organizations(self, plan: synthetic.Plan, options, postgres: bool) -> None:
        """This run's organizations (or the stored ones) as the pool workers are employed at."""
        org_rows = synthetic.generate_organizations(plan)
        if plan.organizations:
            self._write_organizations(org_rows, options["batch"], postgres)
        else:
            plan.orgs = self._existing_org_pool(plan.seed)
        del org_rows
        if options["big_organization"]:
            big = synthetic.org_pool_enlarge(plan.orgs, share=options["big_organization"] / plan.workers)
            self.stdout.write(f"Крупная организация: id {big}, около {options['big_organization']} сотрудников")

    # --- Inputs ----------------------------------------------------------------------------------

    def _parse_today(self, value: str | None) -> dt.date:
        if not value:
            return timezone.localdate()
        try:
            today = dt.date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"--today: ожидается дата YYYY-MM-DD, получено «{value}»") from None
        # The generator's tables (birth years, issue dates) cover this range; outside it they would
        # index past their ends or wrap around silently.
        if not dt.date(2000, 1, 1) <= today <= dt.date(2070, 12, 31):
            raise CommandError(f"--today: дата должна быть между 2000-01-01 и 2070-12-31, получено {today}")
        return today

    def _read_catalog(self) -> synthetic.Catalog:
        def rows(model):
            return [
                synthetic.DirRow(r.id, r.code, r.name, r.sort_order)
                for r in model.objects.filter(is_active=True).order_by("sort_order", "code", "id")
            ]

        try:
            return synthetic.Catalog.build(
                regions=rows(models.Region),
                specialties=rows(models.Specialty),
                positions=rows(models.Position),
                org_types=rows(models.OrganizationType),
                accreditation_kinds=rows(models.AccreditationKind),
                categories=rows(models.QualificationCategory),
                education_levels=rows(models.EducationLevel),
            )
        except synthetic.DirectoriesMissing as exc:
            raise CommandError(
                f"Справочники не загружены ({exc}). Сначала выполните: python manage.py load_directories "
                "(directories are empty: run load_directories first)"
            ) from None
        except ValueError as exc:  # a directory name that cannot go into COPY text
            raise CommandError(f"Справочник не подходит для генерации: {exc}") from None

    def _build_plan(self, options, today, catalog, workers, organizations) -> synthetic.Plan:
        def next_id(table: str) -> int:
            return (TABLE_MODELS[table].objects.aggregate(m=Max("id"))["m"] or 0) + 1

        max_number = models.MedicalWorker.objects.aggregate(m=Max("registry_number"))["m"]
        plan = synthetic.Plan(
            seed=options["seed"],
            today=today,
            now=timezone.now().replace(microsecond=0),
            workers=workers,
            organizations=organizations,
            catalog=catalog,
            names=synthetic.NamePools.from_faker(),
            expiring_days=settings.ADMISSION_EXPIRING_DAYS,
            validity_years=settings.ADMISSION_VALIDITY_YEARS,
            org_id=next_id("organization"),
            license_id=next_id("license"),
            worker_id=next_id("worker"),
            registry_serial=int(max_number[:9]) + 1 if max_number else 1,
            employment_id=next_id("employment"),
            education_id=next_id("education"),
            document_id=next_id("document"),
            category_id=next_id("category"),
            cme_id=next_id("cme"),
        )
        try:
            plan.check_spaces()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        # Hand-entered rows may hold a SNILS / INN / OGRN that our counters would produce; those
        # keys get spares. Generated rows of earlier runs use keys below this run's range.
        serials = range(plan.registry_serial, plan.registry_serial + workers)
        if workers and models.MedicalWorker.objects.exists():
            plan.snils_spare = synthetic.spare_keys(
                self._keys(models.MedicalWorker, "snils", synthetic.snils_key, serials.start),
                serials,
                synthetic.SNILS_SPACE,
            )
            plan.inn_spare = synthetic.spare_keys(
                self._keys(models.MedicalWorker, "inn", synthetic.inn_person_key, serials.start),
                serials,
                synthetic.INN_PERSON_SPACE,
            )
        if organizations and models.MedicalOrganization.objects.exists():
            org_keys = range(plan.org_id, plan.org_id + organizations)
            plan.ogrn_spare = synthetic.spare_keys(
                self._keys(models.MedicalOrganization, "ogrn", synthetic.ogrn_key, org_keys.start),
                org_keys,
                synthetic.ORG_SPACE,
            )
        return plan

    def _keys(self, model, column: str, key_of, minimum: int) -> set[int]:
        """Keys (see perf.synthetic) of the stored values at or above `minimum`.

        Lower keys belong to earlier runs and can clash neither with this run nor with its spares.
        """
        keys = set()
        for value in (
            model.objects.exclude(**{f"{column}__isnull": True})
            .values_list(column, flat=True)
            .iterator(chunk_size=20_000)
        ):
            key = key_of(value)
            if key is not None and key >= minimum:
                keys.add(key)
        return keys

    def _reserve_ids(self, plan: synthetic.Plan) -> None:
        """Move the id sequences past this run's ids before writing, so rows the portal inserts
        meanwhile take ids after ours instead of clashing with them (PostgreSQL)."""
        last = {
            "organization": plan.org_id + plan.organizations,
            "license": plan.license_id + plan.organizations,
            "worker": plan.worker_id + plan.workers,
            "employment": plan.employment_id + plan.workers * synthetic.EMPLOYMENT_SLOTS,
            "education": plan.education_id + plan.workers * synthetic.EDUCATION_SLOTS,
            "document": plan.document_id + plan.workers * synthetic.DOCUMENT_SLOTS,
            "category": plan.category_id + plan.workers * synthetic.CATEGORY_SLOTS,
            "cme": plan.cme_id + plan.workers * synthetic.CME_SLOTS,
        }
        with connection.cursor() as cursor:
            for table, value in last.items():
                db_table = TABLE_MODELS[table]._meta.db_table
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    "GREATEST(%s, nextval(pg_get_serial_sequence(%s, 'id'))))",
                    [db_table, value, db_table],
                )

    def _existing_org_pool(self, seed: int) -> synthetic.OrgPool:
        rows = list(
            models.MedicalOrganization.objects.order_by("id").values_list(
                "id", "region_id", "region__code", "closed_on"
            )
        )
        if not rows or all(closed for *_, closed in rows):
            raise CommandError("Нет действующих организаций: укажите --organizations (no active organizations).")
        return synthetic.existing_org_pool(seed, rows)

    def _columns(self, table: str):
        """Generated columns plus defaults of model fields the generator does not know about."""
        model = TABLE_MODELS[table]
        generated = [name for name, _ in synthetic.COLUMNS[table]]
        fields = {f.attname: f for f in model._meta.concrete_fields}
        unknown = [name for name in generated if name not in fields]
        if unknown:
            raise CommandError(f"{model.__name__}: нет полей {unknown}; обновите perf/synthetic.py")
        extras = []
        for name, f in fields.items():
            if name in generated or f.null:
                continue
            if not f.has_default():
                raise CommandError(f"{model.__name__}.{name} обязательно и не генерируется; обновите perf/synthetic.py")
            default = f.get_default()
            # A choices member (Employment.Source.REGISTER) would make the spawned workers import the
            # models to unpickle it, before Django is set up: hand them its plain value.
            extras.append((f.column, default.value if isinstance(default, enum.Enum) else default))
        return [fields[name].column for name in generated] + [c for c, _ in extras], tuple(v for _, v in extras)

    # --- Writing ---------------------------------------------------------------------------------

    def _copy(self, cursor, table: str, count: int, payload: bytes) -> None:
        if not count:
            return
        t0 = time.monotonic()
        columns, _ = self.columns[table]
        with cursor.copy(f"COPY {TABLE_MODELS[table]._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(payload)
        self.stats[table][0] += count
        self.stats[table][1] += time.monotonic() - t0

    def _bulk(self, table: str, rows: list[tuple]) -> None:
        if not rows:
            return
        t0 = time.monotonic()
        model = TABLE_MODELS[table]
        names = [name for name, _ in synthetic.COLUMNS[table]]
        model.objects.bulk_create([model(**dict(zip(names, row, strict=True))) for row in rows], batch_size=2000)
        self.stats[table][0] += len(rows)
        self.stats[table][1] += time.monotonic() - t0

    def _write_organizations(self, rows: dict[str, list[tuple]], batch: int, postgres: bool) -> None:
        encoders = {
            t: synthetic.make_copy_encoder(synthetic.COLUMNS[t], self.columns[t][1]) for t in synthetic.ORG_TABLES
        }
        total = len(rows["organization"])
        for start in range(0, total, batch):
            part = {t: rows[t][start : start + batch] for t in synthetic.ORG_TABLES}
            with transaction.atomic():
                if postgres:
                    with connection.cursor() as cursor:
                        for t in synthetic.ORG_TABLES:
                            self._copy(cursor, t, len(part[t]), encoders[t](part[t]))
                else:
                    for t in synthetic.ORG_TABLES:
                        self._bulk(t, part[t])
        self.stdout.write(f"Организации: {total} с лицензиями.")

    def _write_workers(self, plan: synthetic.Plan, options, postgres: bool) -> None:
        blocks = synthetic.block_count(plan.workers)
        per_batch = max(1, -(-options["batch"] // synthetic.BLOCK_SIZE))
        tasks = [(b, min(b + per_batch, blocks)) for b in range(0, blocks, per_batch)]
        bar = self._progress(plan.workers, options["no_progress"])
        t0 = time.monotonic()
        try:
            if postgres:
                jobs = options["jobs"] if options["jobs"] is not None else default_jobs()
                extras = {t: self.columns[t][1] for t in synthetic.WORKER_TABLES}
                for task, result in zip(tasks, self._encoded_batches(plan, extras, tasks, jobs), strict=True):
                    with transaction.atomic(), connection.cursor() as cursor:
                        for t in synthetic.WORKER_TABLES:
                            self._copy(cursor, t, *result[t])
                    self._advance(bar, plan, task, t0)
            else:
                for task in tasks:
                    rows = synthetic.generate_workers(plan, *task)
                    with transaction.atomic():
                        for t in synthetic.WORKER_TABLES:
                            self._bulk(t, rows[t])
                    self._advance(bar, plan, task, t0)
        finally:
            if bar is not None:
                bar.close()

    def _encoded_batches(self, plan, extras, tasks, jobs):
        """COPY payloads of the batches in order; generated ahead in worker processes, a bounded window."""
        if jobs < 1 or len(tasks) == 1:
            synthetic.process_init(plan, extras)
            for task in tasks:
                yield synthetic.process_encode(*task)
            return
        context = multiprocessing.get_context("spawn")
        with context.Pool(jobs, initializer=synthetic.process_init, initargs=(plan, extras)) as pool:
            pending = collections.deque()
            queue = iter(tasks)
            # Enough batches in flight to keep every process busy while this one writes; no more,
            # or finished batches pile up in memory when the database is the slower side.
            for task in queue:
                pending.append(pool.apply_async(synthetic.process_encode, task))
                if len(pending) > jobs:
                    break
            while pending:
                result = pending.popleft().get()
                next_task = next(queue, None)
                if next_task is not None:
                    pending.append(pool.apply_async(synthetic.process_encode, next_task))
                yield result

    def _progress(self, total: int, disabled: bool):
        if disabled:
            return None
        from tqdm import tqdm

        return tqdm(total=total, unit=" workers", unit_scale=True, file=sys.stderr, dynamic_ncols=True, mininterval=1)

    def _advance(self, bar, plan, task, t0) -> None:
        done = min(task[1] * synthetic.BLOCK_SIZE, plan.workers) - task[0] * synthetic.BLOCK_SIZE
        if bar is None:
            return
        rows = sum(self.stats[t][0] for t in synthetic.WORKER_TABLES)
        bar.set_postfix_str(f"{rows / max(time.monotonic() - t0, 1e-6):,.0f} rows/s".replace(",", " "))
        bar.update(done)

    # --- PostgreSQL: indexes, foreign keys, sequences -----------------------------------------------

    def _drop_secondary(self) -> list[dict]:
        """Drop non-unique indexes and foreign keys of the empty tables; remember them in a comment."""
        tables = [TABLE_MODELS[t]._meta.db_table for t in ALL_TABLES]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT 'index', c.relname, t.relname, pg_get_indexdef(i.indexrelid)
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
                WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
                  AND NOT i.indisunique AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
                UNION ALL
                SELECT 'fk', k.conname, t.relname, pg_get_constraintdef(k.oid)
                FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
                WHERE k.contype = 'f' AND t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
                """,
                [tables, tables],
            )
            objects = [{"kind": k, "name": n, "table": t, "sql": s} for k, n, t, s in cursor.fetchall()]
            if not objects:
                return []
            cursor.execute("SELECT obj_description(%s::regclass, 'pg_class')", [ANCHOR_TABLE])
            previous = cursor.fetchone()[0]
            # Inside an outer transaction that deleted rows, deferred foreign-key checks are still
            # queued, and PostgreSQL refuses to alter a table with pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            note = json.dumps({PENDING_MARKER: objects, "previous_comment": previous}, ensure_ascii=False)
            cursor.execute(f"COMMENT ON TABLE {ANCHOR_TABLE} IS %s", [note])
            for obj in objects:
                if obj["kind"] == "fk":
                    cursor.execute(f'ALTER TABLE "{obj["table"]}" DROP CONSTRAINT "{obj["name"]}"')
            for obj in objects:
                if obj["kind"] == "index":
                    cursor.execute(f'DROP INDEX "{obj["name"]}"')
        return objects

    def _restore_pending(self) -> None:
        """Recreate what a (possibly interrupted) run dropped, as recorded in the worker table's comment.

        Idempotent: only what is missing is built, and the note is removed only when all is back.
        Two connections build in parallel (the trigram index alone is a quarter of the work and
        runs on one core), except inside an outer transaction, which other connections cannot see.
        """
        with connection.cursor() as cursor:
            cursor.execute("SELECT obj_description(%s::regclass, 'pg_class')", [ANCHOR_TABLE])
            comment = cursor.fetchone()[0]
        if not comment or PENDING_MARKER not in comment:
            return
        note = json.loads(comment)
        with connection.cursor() as cursor:
            missing = [obj for obj in note[PENDING_MARKER] if not self._exists(cursor, obj)]
            sizes = {}
            for table in {obj["table"] for obj in missing}:
                cursor.execute("SELECT pg_relation_size(%s::regclass)", [table])
                sizes[table] = cursor.fetchone()[0]
        # Longest first, so the two connections finish together: GIN, then by table size.
        missing.sort(key=lambda obj: ("USING gin" not in obj["sql"], obj["kind"] == "fk", -sizes[obj["table"]]))
        if connection.in_atomic_block:
            for obj in missing:
                self._build(obj, close=False)
        else:
            with ThreadPoolExecutor(max_workers=REBUILD_CONNECTIONS) as pool:
                for future in [pool.submit(self._build, obj, close=True) for obj in missing]:
                    future.result()
        with connection.cursor() as cursor:
            cursor.execute(f"COMMENT ON TABLE {ANCHOR_TABLE} IS %s", [note.get("previous_comment")])

    @staticmethod
    def _exists(cursor, obj) -> bool:
        if obj["kind"] == "index":
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [obj["name"]])
        else:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = %s AND conrelid = %s::regclass)",
                [obj["name"], obj["table"]],
            )
        return cursor.fetchone()[0]

    def _build(self, obj, *, close: bool) -> None:
        if obj["kind"] == "index":
            sql = obj["sql"]
        else:
            sql = f'ALTER TABLE "{obj["table"]}" ADD CONSTRAINT "{obj["name"]}" {obj["sql"]}'
        t0 = time.monotonic()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '512MB'")
                if REBUILD_PARALLEL_WORKERS is not None:
                    cursor.execute(f"SET max_parallel_maintenance_workers = {int(REBUILD_PARALLEL_WORKERS)}")
                cursor.execute(sql)
                cursor.execute("RESET maintenance_work_mem")
                cursor.execute("RESET max_parallel_maintenance_workers")
        finally:
            if close:  # a thread's own connection
                connection.close()
        if self.verbosity >= 2:
            self.stdout.write(f"  {obj['name']}: {time.monotonic() - t0:.1f} с")

    def _reset_sequences(self) -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), list(TABLE_MODELS.values()))
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)

    # --- Report ----------------------------------------------------------------------------------

    def _summary(self, elapsed: float) -> None:
        total = sum(rows for rows, _ in self.stats.values())
        self.stdout.write("")
        write_column = "COPY, с" if connection.vendor == "postgresql" else "запись, с"
        self.stdout.write(f"{'таблица':<34}{'строк':>12}{write_column:>12}{'строк/с':>12}")
        for table in ALL_TABLES:
            rows, seconds = self.stats[table]
            rate = f"{rows / seconds:,.0f}".replace(",", " ") if seconds else "—"
            name = TABLE_MODELS[table]._meta.db_table
            self.stdout.write(f"{name:<34}{rows:>12,}{seconds:>12.1f}{rate:>12}".replace(",", " "))
        for phase, seconds in self.phases.items():
            self.stdout.write(f"{phase}: {seconds:.1f} с")
        rate = total / max(elapsed, 1e-6)
        self.stdout.write(
            self.style.SUCCESS(f"Всего {total:,} строк за {elapsed:.1f} с — {rate:,.0f} строк/с".replace(",", " "))
        )
