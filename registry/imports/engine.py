# ruff: noqa: S608 - table and column names in the SQL below are our own constants; values are parameters.
"""The import: read, check every row, then per batch stage → set-based checks → upsert, one
transaction per batch.

Per batch (BATCH_SIZE rows):
1. Rows were cleaned in Python (schema.py), in a reader thread while the previous batch is
   written: checksums, directories, dates, formats, in-file duplicates of a natural key. Bad rows
   are reported and left out. Canonical worker rows take a fast path with the same outcome.
2. The good rows go into a temporary staging table: COPY on PostgreSQL, executemany elsewhere.
   Workers into an empty register skip 2-4: COPY writes them into the table itself (_Loader.direct).
3. Set-based checks against the register, one query each: a SNILS or OGRN that is not in the
   register, a registry number or INN of another worker, a document number of another worker.
   Those rows are reported and deleted from the stage.
4. One INSERT ... SELECT ... ON CONFLICT (natural key) DO UPDATE ... WHERE <some column differs>:
   a row whose values are all the same is not touched, so re-running a file changes nothing,
   not even updated_at. Employments have no unique key in the register (a worker may hold the
   same post twice in different years), so they are an UPDATE ... FROM plus an INSERT of the
   missing ones keyed on (worker, organization, position, start date).
5. Derived search columns of the workers whose records changed are recomputed in the same
   transaction; discrepancies found on the way become alerts (registry.dq).

A batch that fails in the database is rolled back as a whole and its rows are reported; the
batches before it stay. A dry run does all of it in one transaction and rolls it back.
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core import validators
from core.pooling import require_session

from ..models import AdmissionDocument, DiscrepancyAlert, Employment, MedicalOrganization, MedicalWorker, SearchWord
from ..quality import discrepancies
from ..services import worker_refresh_derived
from . import aliases, derived, formats
from .schema import CLEAR, KINDS, WORKER_RECORD_KINDS, CellError, Context, ImportFileError, KindSpec, RowError

logger = logging.getLogger(__name__)

BATCH_SIZE = 100_000
# A worker's records are smaller batches: the reader thread checks the next batch while PostgreSQL
# writes this one, and their per-batch statements (the derived columns) stay short.
RECORD_BATCH_SIZE = 25_000
SAMPLE_SIZE = 20
COPY_CHUNK = 10_000  # lines per write to COPY
STAGE = "medreg_import_stage"
# Kinds an organization may upload for itself (import_file(scope_ogrn=...)): rows keyed by its OGRN.
SCOPED_KINDS = ("employments",)


@dataclass
class ImportResult:
    kind: str
    dry_run: bool = False
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    vanished: int = 0
    errors: list[RowError] = field(default_factory=list)
    new_keys: list[str] = field(default_factory=list)
    changed_keys: list[str] = field(default_factory=list)
    vanished_keys: list[str] = field(default_factory=list)
    worker_ids: set[int] = field(default_factory=set)
    bulk_indexes: int = 0  # secondary indexes rebuilt at the end (bulk mode), 0 otherwise
    # Worker rows that carried an identifier of a record merged into another: reported, identity kept.
    merged: int = 0
    # Per-row remarks that are not errors: «объединена с МР …», probable duplicates.
    notes: list[RowError] = field(default_factory=list)
    # Probable duplicates of the imported workers: (row, the other record's registry number, probability).
    duplicates: list[tuple[int, str, float]] = field(default_factory=list)
    duplicate_seconds: float = 0.0
    # Workers whose derived columns (region, specialty, admission, category) the import rewrote.
    workers_rewritten: int = 0
    refresh_seconds: float = 0.0

    @property
    def invalid(self) -> int:
        return len({error.row for error in self.errors})

    def summary(self) -> str:
        head = "Проверка без записи" if self.dry_run else "Импорт"
        text = (
            f"{head}: строк {self.total}, добавлено {self.created}, изменено {self.updated}, "
            f"без изменений {self.unchanged}, строк с ошибками {self.invalid}"
        )
        if self.merged:
            text += f", объединённых записей {self.merged}"
        if self.duplicates:
            text += f", возможных дубликатов {len(self.duplicates)}"
        if self.vanished:
            text += f", исчезло из источника {self.vanished}"
        return text


def _map_header(spec: KindSpec, header: list[str], filename: str) -> list[str | None]:
    by_name = {}
    for column in spec.columns:
        by_name[column.name.casefold()] = column.name
        by_name[column.label.casefold()] = column.name
    mapped: list[str | None] = []
    unknown = []
    for cell in header:
        name = by_name.get(cell.strip().casefold())
        if name is None and cell.strip():
            unknown.append(cell.strip())
        if name is not None and name in mapped:
            raise ImportFileError(f"{filename}: столбец «{cell}» указан дважды")
        mapped.append(name)
    if unknown:
        raise ImportFileError(
            f"{filename}: неизвестные столбцы для вида «{spec.label}»: {', '.join(unknown[:10])}. "
            f"Ожидаются: {', '.join(c.name for c in spec.columns)}"
        )
    missing = [c.name for c in spec.columns if c.required and c.name not in mapped]
    if missing:
        raise ImportFileError(f"{filename}: нет обязательных столбцов: {', '.join(missing)}")
    return mapped


class _Cleaner:
    """Turns raw records into stage tuples; remembers natural keys to catch in-file duplicates."""

    def __init__(
        self,
        spec: KindSpec,
        mapped: list[str | None],
        ctx: Context,
        *,
        keep_keys: bool,
        keep: bool = True,
        scope_ogrn: str | None = None,
    ):
        self.spec, self.ctx = spec, ctx
        # An organization's own upload: a row of another organization is refused (_in_scope).
        self.scope_ogrn = scope_ogrn
        # keep: an empty optional cell leaves the stored value (None in the stage); off only when the
        # rows go straight into an empty register, where nothing is stored to keep.
        self.keep = keep
        self.slots = [
            (index, spec.column(name), keep and spec.keeps(spec.column(name)))
            for index, name in enumerate(mapped)
            if name
        ]
        self.absent = [(c, keep and spec.keeps(c)) for c in spec.columns if c.name not in mapped]
        self.stage_names = [name for name, _type in spec.stage]
        self.stage_row = operator.itemgetter(*self.stage_names)
        self.key_of = (lambda row, k=spec.key[0]: (row[k],)) if len(spec.key) == 1 else operator.itemgetter(*spec.key)
        self.seen: dict[str, dict] = {name: {} for name in self._unique_columns()}
        self.seen_key: dict = {}
        self.keep_keys = keep_keys
        self.keys: set = set()
        # Rows in canonical form skip the per-cell cleaners; anything else (every error among
        # them) goes through the cleaners, so the report is the same either way.
        self.fast = spec.fast(mapped, ctx, keep) if spec.fast else None

    def _unique_columns(self) -> list[str]:
        if self.spec.kind == "workers":
            return ["registry_number", "inn"]
        if self.spec.kind == "organizations":
            return ["license_number"]
        return []

    def _cells(self, number: int, record: list[str], errors: list[RowError]) -> dict | None:
        """Every cell through its cleaner; None (with the errors reported) if any is wrong."""
        spec, ctx = self.spec, self.ctx
        row: dict = {}
        cleared = []
        bad = False
        for index, column, keeps in self.slots:
            value = record[index].strip() if index < len(record) else ""
            if value == CLEAR:
                if column.required:
                    errors.append(RowError(number, column.name, "поле обязательное: очистить его («-») нельзя"))
                    bad = True
                    continue
                value = ""
                cleared.append(column.name)
            elif keeps and not value:
                row[column.name] = None
                continue
            try:
                row[column.name] = column.clean(value, ctx)
            except CellError as exc:
                errors.append(RowError(number, column.name, str(exc)))
                bad = True
        for column, keeps in self.absent:
            row[column.name] = None if keeps else column.clean("", ctx)
        if cleared:
            row["cleared"] = cleared
        if self.keep_keys and all(name in row for name in spec.key):
            self.keys.add(tuple(row[name] for name in spec.key))
        return None if bad else row

    def clean(self, number: int, record: list[str] | None, errors: list[RowError]) -> tuple | None:
        spec, ctx = self.spec, self.ctx
        if record is None:
            errors.append(RowError(number, "—", "запись не является объектом с полями"))
            return None
        row = self.fast(record) if self.fast is not None else None
        fast = row is not None
        if not fast:
            row = self._cells(number, record, errors)
            if row is None:
                return None
        key = self.key_of(row)
        if fast and self.keep_keys:
            self.keys.add(key)
        bad = self.scope_ogrn is not None and not self._in_scope(number, row, errors)
        for column, reason in spec.check(row, ctx):
            errors.append(RowError(number, column, reason))
            bad = True
        first = self.seen_key.setdefault(key, number)
        if first != number:
            errors.append(
                RowError(
                    number,
                    spec.key[0] if len(spec.key) == 1 else "—",
                    f"запись с тем же ключом ({_key_text(key)}) уже была в строке {first}",
                )
            )
            bad = True
        for name, seen in self.seen.items():
            value = row[name]
            if not value:
                continue
            owner = seen.setdefault(value, (number, key))
            if owner[1] != key:
                errors.append(RowError(number, name, f"значение уже встречалось в строке {owner[0]} у другой записи"))
                bad = True
        if bad:
            return None
        if self.keep and "cleared" in row:
            self._mark_cleared(row)
        row["row_no"] = number
        return self.stage_row(row)

    def _in_scope(self, number: int, row: dict, errors: list[RowError]) -> bool:
        if row["ogrn"] == self.scope_ogrn:
            return True
        errors.append(
            RowError(number, "ogrn", f"строка другой организации (ОГРН {row['ogrn']}): файл загружает только свою")
        )
        return False

    def _mark_cleared(self, row: dict) -> None:
        """Cleared cells as the stage says "clear" (NULL there means "keep"): a nullable column's
        marker (spec.cleared), a column with a default its default; text is already ""."""
        spec = self.spec
        for name in row["cleared"]:
            if name in spec.nullable:
                row[name] = spec.cleared(name)
            elif name in spec.defaults:
                row[name] = spec.defaults[name]


# COPY text format: these four characters are escaped, NULL is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)  # int, Decimal, date (ISO)


def _copy_line(row: tuple) -> str:
    """One stage row in COPY text format."""
    # Stage values are text, numbers and dates, whose str() is their COPY text, and None. Cleaned
    # text rarely holds a character COPY treats specially; escape field by field only then.
    if None in row:
        return "\t".join([_copy_value(value) for value in row]) + "\n"
    line = "\t".join(map(str, row))
    if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != len(row) - 1:
        line = "\t".join([_copy_value(value) for value in row])
    return line + "\n"


def _key_text(key) -> str:
    return ", ".join(str(part) for part in key)


@dataclass
class _Batch:
    """Rows of one batch transaction: their file row numbers, the stage rows (COPY text lines on
    PostgreSQL, tuples elsewhere) and, for workers, the search names and the words they hold."""

    numbers: list[int] = field(default_factory=list)
    rows: list = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    words: set[tuple[str, int]] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.numbers)


def _words(names: Iterable[str]) -> set[tuple[str, int]]:
    """(word, position) pairs of search names, as the search dictionary keeps them (positions
    after the fourth count as the fourth); the same rule as services.search_words_add."""
    return {
        (word[:100], min(position, 4))
        for name in names
        if name  # None: a kept middle name, completed in the stage (_Loader._names_complete)
        for position, word in enumerate(name.split(" "), start=1)
        if word
    }


def import_file(
    path: str | Path,
    *,
    kind: str,
    dry_run: bool = False,
    sync: bool = False,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    today: dt.date | None = None,
    check_duplicates: bool = True,
    scope_ogrn: str | None = None,
) -> ImportResult:
    """Import one exchange file; see the module docstring. ``sync`` also lists (and, unless
    ``dry_run``, applies) what vanished from the source. Raises ImportFileError for a file that
    cannot be read at all; bad rows are in ``result.errors``.

    ``scope_ogrn``: the upload of one organization (its cabinet): only rows of that OGRN are
    written, any other is reported; kinds without an organization column and a sync (which
    would end other organizations' rows) are refused."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ImportFileError(f"Неизвестный вид данных «{kind}»; допустимы: {', '.join(KINDS)}")
    if scope_ogrn is not None and (kind not in SCOPED_KINDS or sync):
        raise ImportFileError(f"Вид данных: организация загружает только {', '.join(SCOPED_KINDS)}, без синхронизации")
    path = Path(path)
    _fmt, header, rows = formats.read_rows(path)
    run = _ImportRun(
        spec,
        header,
        rows,
        path=path,
        dry_run=dry_run,
        sync=sync,
        today=today,
        batch_size=batch_size or (RECORD_BATCH_SIZE if kind in WORKER_RECORD_KINDS else BATCH_SIZE),
        progress=progress,
        check_duplicates=check_duplicates,
        scope_ogrn=scope_ogrn,
    )
    result = run.result
    if dry_run:
        with transaction.atomic():
            run.run()
            run.check()
            transaction.set_rollback(True)
    elif _bulk_mode(spec, path):
        # A large file into an empty table: maintain the secondary indexes once at the end.
        indexes_restore()
        dropped = _indexes_drop(TARGET_TABLES[spec.kind])
        try:
            run.run()
        finally:
            indexes_restore()
        # A table filled in one go has no planner statistics until autovacuum gets to it; the
        # duplicate check right after the import and the first searches need them.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TARGET_TABLES[spec.kind]}")
        result.bulk_indexes = len(dropped)
        run.check()
    else:
        run.run()
        run.check()
    result.errors = sorted(run.cell_errors + result.errors, key=lambda error: error.row)
    result.notes.sort(key=lambda note: note.row)
    result.unchanged = max(0, result.total - result.invalid - result.created - result.updated)
    return result


class _ImportRun:
    """One file's rows through the cleaner (in a thread) and the loader (in the caller's thread)."""

    def __init__(
        self,
        spec,
        header,
        rows,
        *,
        path: Path,
        dry_run: bool,
        sync: bool,
        today,
        batch_size: int,
        progress: Callable[[int], None] | None,
        check_duplicates: bool = True,
        scope_ogrn: str | None = None,
    ):
        self.spec, self.rows, self.sync, self.dry_run = spec, rows, sync, dry_run
        self.ctx = Context.load(today)
        self.result = ImportResult(kind=spec.kind, dry_run=dry_run)
        mapped = _map_header(spec, header, path.name)
        self.size, self.progress = batch_size, progress
        self.loader = _Loader(spec, self.ctx, self.result, sample=sync)
        self.loader.scoped = scope_ogrn is not None
        self.pg = connection.vendor == "postgresql"
        if self.pg:
            require_session("An import")
        if self.pg and spec.kind in TARGET_TABLES_FRESH:
            self.loader.fresh = _table_empty(TARGET_TABLES[spec.kind])
            self.loader.direct = self.loader.fresh and spec.kind == "workers" and not sync
        self.cleaner = _Cleaner(
            spec, mapped, self.ctx, keep_keys=sync, keep=not self.loader.direct, scope_ogrn=scope_ogrn
        )
        self.check_duplicates = check_duplicates
        self.cell_errors: list[RowError] = []
        self.counted = 0
        self.name_at = self.cleaner.stage_names.index("search_name") if spec.kind == "workers" else None

    def produce(self):
        """Read and check rows in batches (no database): runs in a thread while the main thread
        writes the previous batch, so Python checking and PostgreSQL work overlap. On PostgreSQL
        the rows leave this thread as COPY text, ready to send."""
        loader, name_at, pg = self.loader, self.name_at, self.pg
        batch = _Batch()
        clean, numbers, rows_, names = self.cleaner.clean, batch.numbers, batch.rows, batch.names
        suffix = loader.direct_suffix() if loader.direct else None
        for number, record in self.rows:
            self.counted += 1
            cleaned = clean(number, record, self.cell_errors)
            if cleaned is None:
                continue
            numbers.append(number)
            if suffix is not None:  # a register row: without the row number, with the defaults
                line = _copy_line(cleaned)
                rows_.append(line[line.index("\t") + 1 : -1] + suffix)
            else:
                rows_.append(_copy_line(cleaned) if pg else cleaned)
            if name_at is not None:
                names.append(cleaned[name_at])
            if len(numbers) >= self.size:
                batch.words = _words(names)
                yield batch, self.counted
                batch = _Batch()
                numbers, rows_, names = batch.numbers, batch.rows, batch.names
                suffix = loader.direct_suffix() if loader.direct else None
        if numbers:
            batch.words = _words(names)
            yield batch, self.counted

    def run(self) -> None:
        for batch, done in _prefetch(self.produce()):
            self.loader.load(batch)
            if self.progress:
                self.progress(done)
        self.result.total = self.counted
        if self.sync:
            _reconcile_vanished(self.spec, self.cleaner.keys, self.result, self.ctx, apply=not self.dry_run)
        if self.progress:
            self.progress(self.result.total)

    def check(self) -> None:
        """The created and changed workers checked against the register; the report lists probable
        duplicates by row (after a bulk load: once the indexes are back)."""
        if not (self.check_duplicates and self.spec.kind == "workers" and self.loader.stamps):
            return
        started = time.perf_counter()
        # Keyed by SNILS: the row each imported worker came from.
        rows = {key[0]: number for key, number in self.cleaner.seen_key.items()}
        derived.duplicates_report(self.result, stamps=self.loader.stamps, rows=rows, whole_register=self.loader.fresh)
        self.result.duplicate_seconds = time.perf_counter() - started


# --- Bulk mode: a large file into an empty table ---------------------------------------------------

TARGET_TABLES = {
    "workers": "registry_medicalworker",
    "organizations": "registry_medicalorganization",
    "employments": "registry_employment",
    "admission_documents": "registry_admissiondocument",
    "educations": "registry_education",
    "categories": "registry_categoryassignment",
    "cme": "registry_continuingeducation",
}
BULK_MIN_BYTES = 20 * 2**20  # about 200,000 worker rows
BULK_MARKER = "import_registry:pending"
BULK_NOTE_TABLE = "registry_importjob"
REBUILD_CONNECTIONS = 2
# Per rebuilding connection: a million-row trigram GIN builds faster with 1 GB than with 256 MB
# (fewer flushes of its in-memory entry lists), and every btree sorts in memory.
REBUILD_MAINTENANCE_MEM = "1GB"
# The rebuilding connections already keep the cores busy; parallel workers of one btree build would
# only take CPU from the GIN build on the other (about 3 s of 20 at a million rows, two cores).
# None leaves the server's max_parallel_maintenance_workers.
REBUILD_PARALLEL_WORKERS: int | None = 0


# Kinds whose checks against the register only look at their own table (see _Loader.fresh).
TARGET_TABLES_FRESH = ("workers", "organizations")


def _table_empty(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")
        return cursor.fetchone()[0]


def _bulk_mode(spec: KindSpec, path: Path) -> bool:
    """PostgreSQL, a file of BULK_MIN_BYTES or more, and a target table with no rows yet.

    Each row inserted into the worker table updates 17 secondary indexes, a trigram GIN among
    them; for an initial load, building them once after the data is in is several times faster
    (the same reasoning as generate_registry). Unique indexes stay: the set-based checks and
    ON CONFLICT need them.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    # Employments and documents refresh their workers' derived columns per batch, which reads
    # those tables by worker: they keep their indexes.
    if spec.kind not in ("workers", "organizations") or path.stat().st_size < BULK_MIN_BYTES:
        return False
    return _table_empty(TARGET_TABLES[spec.kind])


def _indexes_drop(table: str) -> list[dict]:
    """Drop the non-unique indexes of ``table``; what was dropped is noted in a table comment in
    the same transaction, so an interrupted import is repaired by the next one (indexes_restore)."""
    import json

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = %s AND t.relnamespace = 'public'::regnamespace
              AND NOT i.indisunique AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            """,
            [table],
        )
        objects = [{"name": name, "sql": sql} for name, sql in cursor.fetchall()]
        if objects:
            cursor.execute(f"COMMENT ON TABLE {BULK_NOTE_TABLE} IS %s", [json.dumps({BULK_MARKER: objects})])
            for obj in objects:
                cursor.execute(f'DROP INDEX "{obj["name"]}"')
    return objects


def indexes_restore() -> int:
    """Rebuild the indexes a bulk import dropped (two connections at once); idempotent."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description(%s::regclass, 'pg_class')", [BULK_NOTE_TABLE])
        comment = cursor.fetchone()[0]
    if not comment or BULK_MARKER not in comment:
        return 0
    objects = json.loads(comment)[BULK_MARKER]
    with connection.cursor() as cursor:
        missing = []
        for obj in objects:
            cursor.execute("SELECT to_regclass(%s) IS NULL", [obj["name"]])
            if cursor.fetchone()[0]:
                missing.append(obj)
    missing.sort(key=lambda obj: "USING gin" not in obj["sql"])  # the longest first

    def build(obj):
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET maintenance_work_mem = '{REBUILD_MAINTENANCE_MEM}'")
                if REBUILD_PARALLEL_WORKERS is not None:
                    cursor.execute(f"SET max_parallel_maintenance_workers = {int(REBUILD_PARALLEL_WORKERS)}")
                cursor.execute(obj["sql"])
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=REBUILD_CONNECTIONS) as pool:
        for future in [pool.submit(build, obj) for obj in missing]:
            future.result()
    with connection.cursor() as cursor:
        cursor.execute(f"COMMENT ON TABLE {BULK_NOTE_TABLE} IS NULL")
    return len(missing)


def _prefetch(iterator, depth: int = 2):
    """Run ``iterator`` in a background thread, ``depth`` items ahead; re-raise its errors here."""
    import queue
    import threading

    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        items.put(("item", item), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(("done", done))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            items.put(("error", exc))

    thread = threading.Thread(target=work, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            tag, value = items.get()
            if tag == "done":
                return
            if tag == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join(timeout=5)


# --- Per-batch SQL -------------------------------------------------------------------------------


# Stage columns of an organization row and of its licence, by the register's column they go to.
ORGANIZATION_COLUMNS = [
    ("ogrn", "ogrn"),
    ("inn", "inn"),
    ("kpp", "kpp"),
    ("full_name", "full_name"),
    ("short_name", "short_name"),
    ("org_type_id", "org_type"),
    ("region_id", "region"),
    ("address", "address"),
    ("phone", "phone"),
    ("email", "email"),
    ("website", "website"),
    ("status", "status"),
    ("closed_on", "closed_on"),
    ("search_name", "search_name"),
]
LICENSE_COLUMNS = [
    ("organization_id", "organization_id"),
    ("number", "license_number"),
    ("issued_on", "license_issued_on"),
    ("valid_until", "license_valid_until"),
    ("authority", "license_authority"),
    ("status", "license_status"),
]


class _Loader:
    def __init__(self, spec: KindSpec, ctx: Context, result: ImportResult, *, sample: bool):
        self.spec, self.ctx, self.result, self.sample = spec, ctx, result, sample
        self.pg = connection.vendor == "postgresql"
        self.rejected: set[int] = set()
        self.known_words: set[tuple[str, int]] = set()  # already in the dictionary (committed batches)
        # With an empty target table at the start, every row in it came from this file, and the
        # in-file checks (_Cleaner) already refused a second owner of a key or unique value: the
        # checks against the register would find nothing, at a full join per batch.
        self.fresh = False
        # Fresh, and no sample of new keys wanted: worker rows go straight into the register with
        # COPY, no stage and no INSERT ... SELECT (set by import_file before the first batch).
        self.direct = False
        # The updated_at given to the workers each batch wrote: the duplicate check reads them back.
        self.stamps: list = []
        # Whether any record was merged into another (WorkerAlias rows): the alias lookups run only then.
        self.aliases = aliases.any_exist()
        self.extra_names: list[str] = []
        self.scoped = False  # an organization's own upload (import_file(scope_ogrn=...))

    def load(self, batch: _Batch) -> None:
        first, last = batch.numbers[0], batch.numbers[-1]
        self.rejected = set()
        self.extra_names = []
        words: set = set()
        try:
            with transaction.atomic():
                counts = (self.result.created, self.result.updated, len(self.result.errors))
                with connection.cursor() as cursor:
                    if self.direct:
                        self._copy_workers(cursor, batch)
                    else:
                        self._stage(cursor, batch)
                        getattr(self, f"_load_{self.spec.kind}")(cursor, len(batch))
                        # On failure the rollback of this batch takes the stage table with it.
                        cursor.execute(f"DROP TABLE {STAGE}")
                    if self.spec.kind == "workers":
                        words = self._search_words_add(cursor, batch)
                _after_batch(self.spec.kind, batch)
        except DatabaseError as exc:
            logger.exception("import batch of rows %s-%s failed", first, last)
            # Nothing of this batch was written: forget what it counted and report every row.
            self.result.created, self.result.updated = counts[0], counts[1]
            del self.result.errors[counts[2] :]
            reason = f"пакет строк {first}–{last} не записан целиком из-за ошибки базы данных: {str(exc)[:200]}"
            self.result.errors.extend(RowError(number, "—", reason) for number in batch.numbers)
        else:
            self.known_words |= words

    # Staging

    def worker_defaults(self, now) -> dict:
        """The columns of a new worker that the file does not carry."""
        return {
            "identity_status": "not_confirmed",
            "public_contacts_consent": False,
            "registered_on": self.ctx.today,
            "admission_status": "none",
            "has_confirmed_documents": False,
            "created_at": now,
            "updated_at": now,
        }

    def direct_suffix(self) -> str:
        """What follows the file's columns on a COPY line of a new worker (see direct)."""
        now = timezone.now()
        self.stamps.append(now)
        values = self.worker_defaults(now).values()
        return "\t" + "\t".join(_copy_value(value) for value in values) + "\n"

    def _copy_workers(self, cursor, batch: _Batch) -> None:
        """A fresh table: the lines are whole register rows (direct_suffix), COPY writes them."""
        names = [name for name, _type in self.spec.stage if name != "row_no"]
        names += list(self.worker_defaults(None))
        with cursor.copy(f"COPY registry_medicalworker ({', '.join(names)}) FROM STDIN") as copy:
            for start in range(0, len(batch.rows), COPY_CHUNK):
                copy.write("".join(batch.rows[start : start + COPY_CHUNK]))
        self.result.created += cursor.rowcount

    def _stage(self, cursor, batch: _Batch) -> None:
        columns = ", ".join(f"{name} {sqltype}" for name, sqltype in self.spec.stage)
        names = ", ".join(name for name, _type in self.spec.stage)
        if self.pg:
            # A temporary table is not WAL-logged and is private to this session.
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGE}")
            cursor.execute(f"CREATE TEMP TABLE {STAGE} ({columns}) ON COMMIT DROP")
            lines = batch.rows
            with cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy:
                for start in range(0, len(lines), COPY_CHUNK):
                    copy.write("".join(lines[start : start + COPY_CHUNK]))
        else:
            cursor.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
            cursor.execute(f"CREATE TEMP TABLE {STAGE} ({columns})")
            marks = ", ".join(["%s"] * len(self.spec.stage))
            cursor.executemany(f"INSERT INTO {STAGE} ({names}) VALUES ({marks})", [_sqlite_row(r) for r in batch.rows])

    def _reject(self, cursor, sql: str, params, field_name: str, reason: Callable[[tuple], str]) -> list[tuple]:
        """Rows the query finds are reported and removed from the stage; returns the query rows."""
        cursor.execute(sql, params)
        found = cursor.fetchall()
        if found:
            self.result.errors.extend(RowError(row[0], field_name, reason(row)) for row in found)
            numbers = [row[0] for row in found]
            self.rejected.update(numbers)
            for start in range(0, len(numbers), 1000):
                chunk = numbers[start : start + 1000]
                cursor.execute(f"DELETE FROM {STAGE} WHERE row_no IN ({', '.join(['%s'] * len(chunk))})", chunk)
        return found

    def _resolve(self, cursor, column: str, table: str, natural: str, target: str) -> None:
        cursor.execute(f"ALTER TABLE {STAGE} ADD COLUMN {column} bigint")
        if self.pg:
            cursor.execute(f"UPDATE {STAGE} s SET {column} = t.id FROM {table} t WHERE t.{target} = s.{natural}")
        else:
            cursor.execute(
                f"UPDATE {STAGE} SET {column} = (SELECT t.id FROM {table} t WHERE t.{target} = {STAGE}.{natural})"
            )

    def _distinct(self, target_alias: str, source_alias: str, columns: Iterable[tuple[str, str]]) -> str:
        """Some column differs; the stage side as it will be written (spec.final)."""
        final = self.spec.final if source_alias == "s" else (lambda name, alias: f"{alias}.{name}")
        return " OR ".join(
            f"{target_alias}.{target} IS DISTINCT FROM {final(source, source_alias)}" for target, source in columns
        )

    def _fill(self, cursor, *, table: str, key_join: str, columns: Iterable[tuple[str, str]]) -> None:
        """Empty cells keep the stored value: NULL stage cells of the records the rows update take
        the stored values (one UPDATE ... FROM per batch), so what the upsert writes is final."""
        keeps = {c.name for c in self.spec.columns if self.spec.keeps(c)}
        pairs = [(target, source) for target, source in columns if source in keeps]
        if not pairs:
            return
        sets = ", ".join(f"{source} = COALESCE(s.{source}, t.{target})" for target, source in pairs)
        empty = " OR ".join(f"s.{source} IS NULL" for _target, source in pairs)
        alias = f"{STAGE} s" if self.pg else f"{STAGE} AS s"
        cursor.execute(f"UPDATE {alias} SET {sets} FROM {table} t WHERE {key_join} AND ({empty})")

    def _sample_keys(self, cursor, *, table, key_join, key_select, stage_filter, distinct) -> None:
        """The first keys of new and of changed rows, for a sync's preview (when sampling)."""
        and_filter = f"AND {stage_filter}" if stage_filter else ""
        if self.sample and len(self.result.new_keys) < SAMPLE_SIZE:
            cursor.execute(
                f"SELECT {key_select} FROM {STAGE} s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {key_join}) "
                f"{and_filter} ORDER BY s.row_no LIMIT {SAMPLE_SIZE}"
            )
            self.result.new_keys += [_key_text(r) for r in cursor.fetchall()][: SAMPLE_SIZE - len(self.result.new_keys)]
        if self.sample and len(self.result.changed_keys) < SAMPLE_SIZE:
            cursor.execute(
                f"SELECT {key_select} FROM {STAGE} s JOIN {table} t ON {key_join} WHERE ({distinct}) {and_filter} "
                f"ORDER BY s.row_no LIMIT {SAMPLE_SIZE}"
            )
            self.result.changed_keys += [_key_text(r) for r in cursor.fetchall()][
                : SAMPLE_SIZE - len(self.result.changed_keys)
            ]

    def _upsert(
        self,
        cursor,
        *,
        table: str,
        key: tuple[str, ...],
        columns: list[tuple[str, str]],
        inserts: dict,
        returning: str,
        key_join: str,
        key_select: str,
        stage_filter: str = "",
        rows: bool = False,
    ) -> list:
        """INSERT ... ON CONFLICT (key) DO UPDATE for changed rows only; counts and samples. With
        ``rows``, returns the ``returning`` values of the written rows."""
        where = f"WHERE {stage_filter}" if stage_filter else "WHERE true"
        update_cols = [(t, s) for t, s in columns if t not in key]
        if not self.pg:
            cursor.execute(f"SELECT count(*) FROM {STAGE} s JOIN {table} t ON {key_join} {where}")
            existing = cursor.fetchone()[0]
            cursor.execute(f"SELECT count(*) FROM {STAGE} s {where}")
            staged = cursor.fetchone()[0]
        self._sample_keys(cursor, table=table, key_join=key_join, key_select=key_select,
                          stage_filter=stage_filter, distinct=self._distinct("t", "s", update_cols))  # fmt: skip
        names = [t for t, _s in columns] + list(inserts)
        values = [self.spec.final(s) for _t, s in columns] + ["%s"] * len(inserts)
        params = list(inserts.values())
        sets = ", ".join(f"{t} = excluded.{t}" for t, _s in update_cols)
        if "updated_at" in inserts:
            sets += ", updated_at = excluded.updated_at"
        changed = self._distinct("t", "excluded", [(t, t) for t, _s in update_cols])
        upsert = (
            f"INSERT INTO {table} AS t ({', '.join(names)}) SELECT {', '.join(values)} FROM {STAGE} s {where} "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets} WHERE {changed}"
        )
        if not self.pg:
            cursor.execute(f"{upsert} RETURNING {returning}", params)
            returned = cursor.fetchall()
            created, written = staged - existing, len(returned)
        elif rows:
            # xmax is 0 on a row version this statement inserted, our transaction id on one it updated.
            cursor.execute(f"{upsert} RETURNING {returning}, t.xmax = 0", params)
            fetched = cursor.fetchall()
            returned = [row[:-1] for row in fetched]
            created, written = sum(1 for row in fetched if row[-1]), len(fetched)
        else:
            # Counted in the database: a batch of new workers sends back one row, not 100,000 ids.
            cursor.execute(
                f"WITH written AS ({upsert} RETURNING t.xmax = 0 AS created) "
                "SELECT count(*) FILTER (WHERE created), count(*) FROM written",
                params,
            )
            created, written = cursor.fetchone()
            returned = []
        self.result.created += created
        self.result.updated += written - created
        return returned

    # Kinds

    def _load_workers(self, cursor, count: int) -> None:
        w = "registry_medicalworker"
        columns = [(name, name) for name, _type in KINDS["workers"].stage if name != "row_no"]
        if not self.fresh:
            if self.aliases:
                aliases.workers_resolve(self, cursor)
            self._fill(cursor, table=w, key_join="t.snils = s.snils", columns=columns)
        self._names_complete(cursor)
        if not self.fresh:
            self._reject(
                cursor,
                f"SELECT s.row_no FROM {STAGE} s JOIN {w} t ON t.registry_number = s.registry_number "
                "WHERE t.snils <> s.snils",
                [],
                "registry_number",
                lambda r: "регистровый номер уже принадлежит другому работнику",
            )
            self._reject(
                cursor,
                f"SELECT s.row_no FROM {STAGE} s JOIN {w} t ON t.snils = s.snils "
                "WHERE t.registry_number <> s.registry_number",
                [],
                "registry_number",
                lambda r: "у работника с этим СНИЛС в регистре другой регистровый номер",
            )
            self._reject(
                cursor,
                f"SELECT s.row_no FROM {STAGE} s JOIN {w} t ON t.inn = s.inn WHERE t.snils <> s.snils",
                [],
                "inn",
                lambda r: "ИНН уже принадлежит другому работнику",
            )
        stamp = timezone.now()
        self.stamps.append(stamp)
        now = connection.ops.adapt_datetimefield_value(stamp)
        self._upsert(
            cursor,
            table=w,
            key=("snils",),
            columns=columns,
            inserts={
                **self.worker_defaults(now),
                "registered_on": connection.ops.adapt_datefield_value(self.ctx.today),
            },
            returning="id",
            key_join="t.snils = s.snils",
            key_select="s.snils",
        )

    def _names_complete(self, cursor) -> None:
        """The search name of rows whose middle name was kept, now that the stage holds it."""
        cursor.execute(f"SELECT row_no, last_name, first_name, middle_name FROM {STAGE} WHERE search_name IS NULL")
        found = cursor.fetchall()
        if not found:
            return
        normalize = validators.normalize_person_name
        names = [normalize(f"{last} {first} {middle or ''}") for _n, last, first, middle in found]
        numbers = [row[0] for row in found]
        if self.pg:
            cursor.execute(
                f"UPDATE {STAGE} s SET search_name = v.name FROM unnest(%s::int[], %s::text[]) AS v(row_no, name) "
                "WHERE s.row_no = v.row_no",
                [numbers, names],
            )
        else:
            cursor.executemany(
                f"UPDATE {STAGE} SET search_name = %s WHERE row_no = %s", list(zip(names, numbers, strict=True))
            )
        self.extra_names += names

    def _search_words_add(self, cursor, batch: _Batch) -> set:
        """New words of the written names into the search dictionary, in the batch transaction
        (registry.search needs every word of every name there; worker_refresh_derived does the
        same for single edits). Returns the words, remembered once the batch is committed."""
        words = batch.words
        if self.rejected:
            words = _words(
                name for number, name in zip(batch.numbers, batch.names, strict=True) if number not in self.rejected
            )
        if self.extra_names:
            words = words | _words(self.extra_names)
        new = words - self.known_words
        if not new:
            return words
        if self.pg:
            pairs = sorted(new)
            cursor.execute(
                "INSERT INTO registry_searchword (word, position, workers) "
                "SELECT v.word, v.position, 1 FROM unnest(%s::text[], %s::int[]) AS v(word, position) "
                "ON CONFLICT DO NOTHING",
                [[word for word, _ in pairs], [position for _, position in pairs]],
            )
        else:
            SearchWord.objects.bulk_create(
                [SearchWord(word=word, position=position, workers=1) for word, position in new], ignore_conflicts=True
            )
        return words

    def _load_organizations(self, cursor, count: int) -> None:
        o, lic = "registry_medicalorganization", "registry_organizationlicense"
        if not self.fresh:
            self._reject(
                cursor,
                f"SELECT s.row_no FROM {STAGE} s JOIN {lic} l ON l.number = s.license_number "
                f"JOIN {o} t ON t.id = l.organization_id WHERE t.ogrn <> s.ogrn",
                [],
                "license_number",
                lambda r: "лицензия с этим номером принадлежит другой организации",
            )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        if not self.fresh:
            self._fill(cursor, table=o, key_join="t.ogrn = s.ogrn", columns=ORGANIZATION_COLUMNS)
            self._fill(cursor, table=lic, key_join="t.number = s.license_number", columns=LICENSE_COLUMNS)
        self._upsert(
            cursor,
            table=o,
            key=("ogrn",),
            columns=ORGANIZATION_COLUMNS,
            inserts={"created_at": now, "updated_at": now},
            returning="id",
            key_join="t.ogrn = s.ogrn",
            key_select="s.ogrn",
        )
        # Licenses ride along on the organization rows; they are counted with their organization.
        self._resolve(cursor, "organization_id", o, "ogrn", "ogrn")
        self._load_licenses(cursor, now)
        self._expired_license_alerts(cursor)

    def _load_licenses(self, cursor, now) -> None:
        counts, sample = (self.result.created, self.result.updated), self.sample
        self.sample = False
        self._upsert(
            cursor,
            table="registry_organizationlicense",
            key=("number",),
            columns=LICENSE_COLUMNS,
            inserts={"kinds_of_work": "", "updated_at": now},
            returning="id",
            key_join="t.number = s.license_number",
            key_select="s.license_number",
            stage_filter="s.license_number IS NOT NULL",
        )
        self.result.created, self.result.updated, self.sample = counts[0], counts[1], sample

    def _expired_license_alerts(self, cursor) -> None:
        spec = self.spec
        cursor.execute(
            f"SELECT s.license_number, s.short_name, s.region FROM {STAGE} s WHERE s.license_number IS NOT NULL "
            f"AND {spec.final('license_status')} = 'active' AND {spec.final('license_valid_until')} < %s",
            [connection.ops.adapt_datefield_value(self.ctx.today)],
        )
        discrepancies.alerts_raise_many(
            [
                {
                    "kind": DiscrepancyAlert.Kind.LICENSE_EXPIRED_ACTIVE,
                    "key": number,
                    "message": f"Лицензия {number} ({name}) истекла, но отмечена действующей",
                    "object_type": "license",
                    "object_id": number,
                    "region_id": region,
                }
                for number, name, region in cursor.fetchall()
            ]
        )

    def _resolve_worker(self, cursor, key: tuple[str, ...] = ()) -> None:
        """worker_id by SNILS; a SNILS merged into another record reaches the survivor (noted per row).
        ``key``: the stage columns that, with the worker, identify a record (checked again for rows
        that now share a worker through a merge)."""
        self._resolve(cursor, "worker_id", "registry_medicalworker", "snils", "snils")
        if self.aliases:
            aliases.records_resolve(self, cursor, key=key)
        self._reject(
            cursor,
            f"SELECT row_no FROM {STAGE} WHERE worker_id IS NULL",
            [],
            "snils",
            lambda r: "работника с таким СНИЛС нет в регистре (сначала загрузите работников)",
        )

    def _load_admission_documents(self, cursor, count: int) -> None:
        d = "registry_admissiondocument"
        self._resolve_worker(cursor)
        shared = self._reject(
            cursor,
            f"SELECT s.row_no, s.number, s.snils, w.snils, w.region_id FROM {STAGE} s "
            f"JOIN {d} t ON t.kind = s.kind AND t.number = s.number "
            "JOIN registry_medicalworker w ON w.id = t.worker_id WHERE t.worker_id <> s.worker_id",
            [],
            "number",
            lambda r: "документ с этим номером уже записан за другим работником",
        )
        discrepancies.alerts_raise_many(
            [
                {
                    "kind": DiscrepancyAlert.Kind.DOCUMENT_SHARED,
                    "key": number,
                    "message": f"Документ о допуске № {number} указан у двух работников (импорт: СНИЛС …{snils[-4:]}, "
                    f"в регистре: СНИЛС …{other[-4:]})",
                    "object_type": "admission_document",
                    "object_id": number,
                    "region_id": region,
                }
                for _row, number, snils, other, region in shared
            ]
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        columns = [
            ("worker_id", "worker_id"),
            ("kind", "kind"),
            ("number", "number"),
            ("specialty_id", "specialty"),
            ("accreditation_kind_id", "accreditation_kind"),
            ("issued_on", "issued_on"),
            ("valid_until", "valid_until"),
            ("status", "status"),
        ]
        key_join = "t.kind = s.kind AND t.number = s.number"
        self._fill(cursor, table=d, key_join=key_join, columns=columns)
        returned = self._upsert(
            cursor,
            table=d,
            key=("kind", "number"),
            columns=columns,
            inserts={"updated_at": now},
            returning="worker_id",
            key_join=key_join,
            key_select="s.kind, s.number",
            rows=True,
        )
        self._refresh(cursor, {row[0] for row in returned})

    def _refresh(self, cursor, worker_ids: set[int]) -> None:
        """The derived columns of the workers whose records changed, in this transaction: set-based
        on PostgreSQL (registry.imports.derived), worker_refresh_derived elsewhere."""
        if not worker_ids:
            return
        if self.pg:
            started = time.perf_counter()
            self.result.workers_rewritten += derived.workers_refresh(
                cursor, worker_ids=worker_ids, today=self.ctx.today
            )
            self.result.refresh_seconds += time.perf_counter() - started
            self.result.worker_ids |= worker_ids
        else:
            _refresh(self.result, worker_ids, self.ctx.today)

    def _load_employments(self, cursor, count: int) -> None:
        e, o = "registry_employment", "registry_medicalorganization"
        self._resolve(cursor, "organization_id", o, "ogrn", "ogrn")
        self._resolve_worker(cursor, key=("organization_id", "position", "started_on"))
        self._reject(
            cursor,
            f"SELECT row_no FROM {STAGE} WHERE organization_id IS NULL",
            [],
            "ogrn",
            lambda r: "организации с таким ОГРН нет в регистре (сначала загрузите организации)",
        )
        key_join = (
            "t.worker_id = s.worker_id AND t.organization_id = s.organization_id "
            "AND t.position_id = s.position AND t.started_on = s.started_on"
        )
        columns = [
            ("specialty_id", "specialty"),
            ("department", "department"),
            ("rate", "rate"),
            ("kind", "kind"),
            ("ended_on", "ended_on"),
            ("dismissal_reason", "dismissal_reason"),
        ]
        self._fill(cursor, table=e, key_join=key_join, columns=columns)
        cursor.execute(
            f"SELECT s.snils, t.ogrn, t.short_name, t.region_id, s.worker_id FROM {STAGE} s "
            f"JOIN {o} t ON t.id = s.organization_id "
            f"WHERE t.status = 'closed' AND ({self.spec.final('ended_on')} IS NULL "
            f"OR {self.spec.final('ended_on')} > t.closed_on)"
        )
        discrepancies.alerts_raise_many(
            [
                {
                    "kind": DiscrepancyAlert.Kind.CLOSED_ORGANIZATION,
                    "key": f"{worker_id}:{ogrn}",
                    "message": f"Работник (СНИЛС …{snils[-4:]}) числится работающим в ликвидированной организации "
                    f"{name}",
                    "object_type": "worker",
                    "object_id": str(worker_id),
                    "region_id": region,
                }
                for snils, ogrn, name, region, worker_id in cursor.fetchall()
            ]
        )
        key = [
            ("worker_id", "worker_id"),
            ("organization_id", "organization_id"),
            ("position_id", "position"),
            ("started_on", "started_on"),
        ]
        # Rows an organization uploads for itself are marked as the employer's entries (the worker may dispute them).
        source = Employment.Source.ORGANIZATION if self.scoped else Employment.Source.REGISTER
        touched = self._update_insert(
            cursor,
            table=e,
            key=key,
            columns=columns,
            key_join=key_join,
            sample_select="s.snils, s.ogrn, s.started_on",
            fixed={"source": source},
        )
        self._refresh(cursor, touched)

    def _update_insert(
        self,
        cursor,
        *,
        table: str,
        key: list[tuple[str, str]],
        columns: list[tuple[str, str]],
        key_join: str,
        sample_select: str,
        stamped: bool = True,
        fixed: dict[str, str] | None = None,
    ) -> set[int]:
        """Records with no unique key in the register (a worker may hold the same post twice in different
        years): one UPDATE ... FROM of the changed ones and one INSERT of the missing ones, keyed on the
        indexed (worker, ...) columns. Counts and samples; returns the workers whose records were written."""
        distinct = self._distinct("t", "s", columns)
        cursor.execute(f"SELECT count(*) FROM {STAGE}")
        staged = cursor.fetchone()[0]
        self._samples(cursor, table=table, key_join=key_join, distinct=distinct, select=sample_select)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        stamp = ", updated_at = %s" if stamped else ""
        fixed = fixed or {}
        params = ([now] if stamped else []) + list(fixed.values())
        sets = ", ".join(f"{t} = {self.spec.final(src)}" for t, src in columns) + stamp
        sets += "".join(f", {name} = %s" for name in fixed)
        # SQLite's RETURNING sees only the updated table, and refuses a qualified name.
        target, worker = (f"{table} t", "t.worker_id") if self.pg else (f"{table} AS t", "worker_id")
        cursor.execute(
            f"UPDATE {target} SET {sets} FROM {STAGE} s WHERE {key_join} AND ({distinct}) RETURNING {worker}",
            params,
        )
        updated = cursor.fetchall()
        names = [t for t, _s in key + columns] + (["updated_at"] if stamped else []) + list(fixed)
        values = [self.spec.final(src) for _t, src in key + columns] + (["%s"] if stamped else []) + ["%s"] * len(fixed)
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} FROM {STAGE} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {key_join}) RETURNING worker_id",
            params,
        )
        inserted = cursor.fetchall()
        self.result.created += len(inserted)
        # A record matched twice in the register counts once.
        self.result.updated += min(len(updated), staged - len(inserted))
        return {row[0] for row in updated} | {row[0] for row in inserted}

    def _samples(self, cursor, *, table: str, key_join: str, distinct: str, select: str) -> None:
        if self.sample and len(self.result.changed_keys) < SAMPLE_SIZE:
            cursor.execute(
                f"SELECT {select} FROM {STAGE} s JOIN {table} t ON {key_join} WHERE {distinct} "
                f"ORDER BY s.row_no LIMIT {SAMPLE_SIZE}"
            )
            self.result.changed_keys += [_key_text(r) for r in cursor.fetchall()]
        if self.sample and len(self.result.new_keys) < SAMPLE_SIZE:
            cursor.execute(
                f"SELECT {select} FROM {STAGE} s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {key_join}) "
                f"ORDER BY s.row_no LIMIT {SAMPLE_SIZE}"
            )
            self.result.new_keys += [_key_text(r) for r in cursor.fetchall()]

    def _load_educations(self, cursor, count: int) -> None:
        ed = "registry_education"
        self._resolve_worker(cursor, key=("diploma_series", "diploma_number"))
        columns = [
            ("worker_id", "worker_id"),
            ("diploma_series", "diploma_series"),
            ("diploma_number", "diploma_number"),
            ("level_id", "level"),
            ("institution", "institution"),
            ("issued_on", "issued_on"),
            ("specialty_id", "specialty"),
            ("specialty_text", "specialty_text"),
            ("qualification", "qualification"),
        ]
        key_join = (
            "t.worker_id = s.worker_id AND t.diploma_series = s.diploma_series AND t.diploma_number = s.diploma_number"
        )
        self._fill(cursor, table=ed, key_join=key_join, columns=columns)
        returned = self._upsert(
            cursor,
            table=ed,
            key=("worker_id", "diploma_series", "diploma_number"),
            columns=columns,
            inserts={},
            returning="worker_id",
            key_join=key_join,
            key_select="s.snils, s.diploma_series, s.diploma_number",
            rows=True,
        )
        # A diploma changes no derived column of the worker (nor anything the API shows of them).
        self.result.worker_ids |= {row[0] for row in returned}

    def _load_categories(self, cursor, count: int) -> None:
        c = "registry_categoryassignment"
        self._resolve_worker(cursor, key=("specialty", "awarded_on"))
        key_join = "t.worker_id = s.worker_id AND t.specialty_id = s.specialty AND t.awarded_on = s.awarded_on"
        columns = [("category_id", "category"), ("valid_until", "valid_until"), ("order_number", "order_number")]
        self._fill(cursor, table=c, key_join=key_join, columns=columns)
        key = [("worker_id", "worker_id"), ("specialty_id", "specialty"), ("awarded_on", "awarded_on")]
        touched = self._update_insert(
            cursor,
            table=c,
            key=key,
            columns=columns,
            key_join=key_join,
            sample_select="s.snils, s.specialty, s.awarded_on",
            stamped=False,
        )
        self._refresh(cursor, touched)

    def _load_cme(self, cursor, count: int) -> None:
        m = "registry_continuingeducation"
        self._resolve_worker(cursor, key=("completed_on", "topic"))
        key_join = "t.worker_id = s.worker_id AND t.completed_on = s.completed_on AND t.topic = s.topic"
        columns = [("kind", "kind"), ("provider", "provider"), ("hours", "hours"), ("specialty_id", "specialty")]
        self._fill(cursor, table=m, key_join=key_join, columns=columns)
        key = [("worker_id", "worker_id"), ("completed_on", "completed_on"), ("topic", "topic")]
        touched = self._update_insert(
            cursor,
            table=m,
            key=key,
            columns=columns,
            key_join=key_join,
            sample_select="s.snils, s.completed_on, s.topic",
            stamped=False,
        )
        self.result.worker_ids |= touched  # НМО changes no derived column of the worker


def _after_batch(kind: str, rows: list[tuple]) -> None:
    """A hook at the end of each batch transaction (tests use it to fail a batch on purpose)."""


def _sqlite_row(row: tuple) -> tuple:
    return tuple(value.isoformat() if isinstance(value, dt.date) else value for value in row)


def _refresh(result: ImportResult, worker_ids: set[int], today: dt.date) -> None:
    """Recompute the derived search columns of workers whose records changed, in this transaction."""

    if worker_ids:
        worker_refresh_derived(worker_ids=sorted(worker_ids), today=today)
        result.worker_ids |= worker_ids


# --- Force sync: what vanished from the source -----------------------------------------------------


def _reconcile_vanished(spec: KindSpec, keys: set, result: ImportResult, ctx: Context, *, apply: bool) -> None:
    """List the live records whose natural key the source no longer holds; with ``apply``,
    retire them (_retire_vanished). Educations, categories and НМО records have no state to retire
    them to: they are listed for staff, never deleted."""
    if spec.kind == "workers" or spec.kind in WORKER_RECORD_KINDS:
        # A row that carried a SNILS merged into another record stands for the survivor's records.
        survivors = aliases.snils_survivors()
        if survivors:
            keys = {(survivors.get(key[0], key[0]), *key[1:]) for key in keys}
    if spec.kind in RECORD_KEYS:
        vanished = _vanished_records(spec.kind, keys)
        result.vanished = len(vanished)
        result.vanished_keys = [_key_text(key) for _pk, key, _extra in vanished[:SAMPLE_SIZE]]
        return
    _retire_vanished(spec, keys, result, ctx, apply=apply)


def _retire_vanished(spec: KindSpec, keys: set, result: ImportResult, ctx: Context, *, apply: bool) -> None:
    """An organization is closed, a document annulled, an employment ended, a worker flagged for
    review (the register never deletes a person)."""
    today = ctx.today
    vanished = _vanished_rows(spec.kind, keys, today)
    result.vanished = len(vanished)
    result.vanished_keys = [_key_text(key) for _pk, key, _extra in vanished[:SAMPLE_SIZE]]
    if not apply or not vanished:
        return
    with transaction.atomic():
        _retire(spec.kind, [pk for pk, _key, _extra in vanished], today)
        if spec.kind in ("admission_documents", "employments"):
            _refresh(result, {extra for _pk, _key, extra in vanished}, today)
        if spec.kind == "workers":
            discrepancies.alerts_raise_many(
                [
                    {
                        "kind": DiscrepancyAlert.Kind.VANISHED,
                        "key": f"worker:{pk}",
                        "message": f"Работник (СНИЛС …{key[0][-4:]}) отсутствует в источнике синхронизации",
                        "object_type": "worker",
                        "object_id": str(pk),
                        "region_id": region,
                    }
                    for pk, key, region in vanished
                ]
            )


def _vanished_rows(kind: str, keys: set, today: dt.date) -> list[tuple]:
    """(id, natural key, worker or region) of the live rows of this kind the source no longer has."""
    if kind == "workers":
        live = MedicalWorker.objects.values_list("id", "snils", "region_id")
        return [(pk, (snils,), region) for pk, snils, region in live.iterator(chunk_size=5000) if (snils,) not in keys]
    if kind == "organizations":
        live = MedicalOrganization.objects.filter(status=MedicalOrganization.Status.ACTIVE).values_list(
            "id", "ogrn", "region_id"
        )
        return [(pk, (ogrn,), region) for pk, ogrn, region in live.iterator(chunk_size=5000) if (ogrn,) not in keys]
    if kind == "admission_documents":
        live = AdmissionDocument.objects.exclude(status=AdmissionDocument.Status.ANNULLED).values_list(
            "id", "kind", "number", "worker_id"
        )
        return [
            (pk, (kind_, number), worker)
            for pk, kind_, number, worker in live.iterator(chunk_size=5000)
            if (kind_, number) not in keys
        ]
    live = Employment.objects.filter(ended_on__isnull=True, started_on__lte=today).values_list(
        "id", "worker__snils", "organization__ogrn", "position_id", "started_on", "worker_id"
    )
    return [
        (pk, (snils, ogrn, position, started), worker)
        for pk, snils, ogrn, position, started, worker in live.iterator(chunk_size=5000)
        if (snils, ogrn, position, started) not in keys
    ]


def _retire(kind: str, ids: list[int], today: dt.date) -> None:
    now = timezone.now()
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        if kind == "organizations":
            MedicalOrganization.objects.filter(id__in=chunk).update(
                status=MedicalOrganization.Status.CLOSED, closed_on=today, updated_at=now
            )
        elif kind == "admission_documents":
            AdmissionDocument.objects.filter(id__in=chunk).update(
                status=AdmissionDocument.Status.ANNULLED, updated_at=now
            )
        elif kind == "employments":
            Employment.objects.filter(id__in=chunk).update(ended_on=today, updated_at=now)


# Educations, categories and НМО records: their natural key in the register (the SNILS first).
RECORD_KEYS = {
    "educations": ("registry.Education", ("worker__snils", "diploma_series", "diploma_number")),
    "categories": ("registry.CategoryAssignment", ("worker__snils", "specialty_id", "awarded_on")),
    "cme": ("registry.ContinuingEducation", ("worker__snils", "completed_on", "topic")),
}


def _vanished_records(kind: str, keys: set) -> list[tuple]:
    from django.apps import apps

    label, fields = RECORD_KEYS[kind]
    live = apps.get_model(label).objects.values_list("id", *fields, "worker_id")
    return [
        (row[0], tuple(row[1:-1]), row[-1]) for row in live.iterator(chunk_size=5000) if tuple(row[1:-1]) not in keys
    ]


def write_error_report(
    errors: list[RowError], target, *, labels: dict[str, str], notes: Iterable[RowError] = ()
) -> None:
    """The downloadable report: CSV (UTF-8 with BOM, ``;``) with row, field and reason, errors and
    then per-row notes (a row merged into another record, a probable duplicate)."""
    import csv

    writer = csv.writer(target, delimiter=";", lineterminator="\r\n")
    target.write("\ufeff")
    writer.writerow(["Строка", "Поле", "Название поля", "Причина", "Вид"])
    for kind, items in (("ошибка", errors), ("примечание", notes)):
        for item in items:
            reason = item.reason
            if reason.startswith(("=", "+", "-", "@")):
                reason = "'" + reason
            writer.writerow([item.row, item.field, labels.get(item.field, ""), reason, kind])
