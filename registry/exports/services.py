"""Export of the public register to CSV and XLSX: the current search result or the ticked rows.

Only the public columns below ever leave the server (docs/domain.md, «Public and protected data»): the
query itself selects nothing else (PUBLIC_FIELDS), so a protected field cannot slip into a file.

Format choices:
- CSV is UTF-8 with a BOM and ``;`` as the delimiter: Excel in the Russian locale opens such a
  file directly with Cyrillic intact and columns split (a comma is the decimal separator there).
  Dates are ДД.ММ.ГГГГ. The response is streamed, so memory stays flat at any size.
- XLSX is written by openpyxl in write-only mode (rows go to disk, not into a cell tree), to a
  temporary file that is then served and deleted. Dates are ДД.ММ.ГГГГ text there too (speed, see
  write_xlsx). openpyxl is about 15% faster with lxml installed.
- Cells that start with ``= + - @``, a tab or a carriage return get a leading apostrophe, so a
  spreadsheet shows them as text instead of running them as formulas (CSV/formula injection).

Ticked rows are passed as repeated ``ids=<10-digit registry number>`` parameters (at most
MAX_IDS), e.g. ``/registry/export.csv?ids=1234567890&ids=0987654321``; the search parameters are
then ignored. A result above ASYNC_THRESHOLD rows is built by a Celery job (ExportJob).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, connections
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from core import replicas, validators
from core.claims import claim_row

from ..models import ExportJob, MedicalWorker
from ..search import engine as search
from ..search.tables import WorkerTable

logger = logging.getLogger(__name__)

ASYNC_THRESHOLD = 10_000  # above this many rows the export runs as a Celery job
MAX_IDS = 1000
CHUNK_SIZE = 2000  # rows fetched per round trip; also how often a job reports progress
CSV_BATCH = 500  # rows per streamed chunk: fewer, larger writes to the socket
STALE_RUNNING = dt.timedelta(hours=1)  # a "running" job older than this was lost with its worker

HEADERS = [
    "ФИО",
    "Регистровый номер",
    "Специальность",
    "Регион",
    "Статус допуска",
    "Действует до",
    "Категория",
    "Дата включения",
]
# Everything the export reads from the database, in public_row's order; protected fields are never loaded.
PUBLIC_FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "registry_number",
    "admission_status",
    "admission_valid_until",
    "registered_on",
    "primary_specialty__name",
    "region__name",
    "category__name",
)
_STATUS_LABELS = dict(search.PUBLIC_STATUSES)
_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
IGNORED_PARAMS = {"page", "per_page"}  # the export takes the whole result, not one page


def neutralize(value):
    """Strings a spreadsheet would run as a formula get a leading apostrophe; the rest pass as they are."""
    if isinstance(value, str) and value.startswith(_DANGEROUS_START):
        return "'" + value
    return value


@functools.lru_cache(maxsize=1024)
def _category(name: str | None) -> str:
    return name.replace(" квалификационная категория", "") if name else ""


def public_row(values: tuple) -> list:
    """One worker (a PUBLIC_FIELDS tuple) as export cells: strings, dates or None, neutralised."""
    last, first, middle, number, status, valid_until, registered, specialty, region, category = values
    return [
        neutralize(" ".join(p for p in (last, first, middle) if p)),
        validators.format_registry_number(number),
        neutralize(specialty or ""),
        neutralize(region or ""),
        _STATUS_LABELS.get(status, status),
        valid_until,
        neutralize(_category(category)),
        registered,
    ]


def iter_rows(queryset: QuerySet[MedicalWorker]) -> Iterator[list]:
    """Public rows in constant memory: a server-side cursor on PostgreSQL, fetched in chunks.

    values_list joins the directories like select_related would, but skips building a model
    instance per row, which is most of the cost at a million rows.
    """
    for values in queryset.values_list(*PUBLIC_FIELDS).iterator(chunk_size=CHUNK_SIZE):
        yield public_row(values)


# --- Parameters -----------------------------------------------------------------------------------


class ExportParamsError(Exception):
    """Bad export parameters; the message names the field and is shown to the user."""


def parse_params(data: QueryDict) -> tuple[dict, list[str]]:
    """Validate the search parameters and the ticked ``ids``; raise ExportParamsError."""
    ids = [value.strip() for value in data.getlist("ids") if value.strip()]
    if len(ids) > MAX_IDS:
        raise ExportParamsError(f"Отмеченные строки: не больше {MAX_IDS} за одну выгрузку.")
    for value in ids:
        if not (len(value) == 10 and value.isascii() and value.isdigit()):
            raise ExportParamsError("Отмеченные строки: регистровый номер — 10 цифр.")
    form = search.SearchForm(data)
    if not form.is_valid():
        messages = [str(e) for errors in form.errors.values() for e in errors]
        raise ExportParamsError(" ".join(messages))
    return form.cleaned_data, list(dict.fromkeys(ids))


def export_queryset(cleaned: dict, ids: list[str]) -> QuerySet[MedicalWorker]:
    """The rows to export: the ticked ones, else the search result in the chosen order."""
    if ids:
        return MedicalWorker.objects.filter(registry_number__in=ids).order_by("search_name", "id")
    qs = search.worker_search(cleaned).queryset
    sort = cleaned.get("sort")
    if sort:
        column = WorkerTable.base_columns[sort.lstrip("-")]
        keys = column.order_by.opposite if sort.startswith("-") else column.order_by
        qs = qs.order_by(*[str(key) for key in keys])
    return qs


def params_for_storage(data: QueryDict) -> dict[str, list[str]]:
    """The request parameters as JSON (lists keep repeated ``ids``); pagination is dropped."""
    return {key: data.getlist(key) for key in data if key not in IGNORED_PARAMS}


def params_from_storage(params: dict[str, list[str]]) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, values in params.items():
        data.setlist(key, values)
    return data


# --- Writers --------------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write() returns the text, for csv.writer inside a generator."""

    def write(self, value: str) -> str:
        return value


@functools.lru_cache(maxsize=4096)
def _csv_date(value: dt.date) -> str:
    return value.strftime("%d.%m.%Y")


def _csv_cell(value):
    if isinstance(value, dt.date):
        return _csv_date(value)
    return "" if value is None else value


def csv_chunks(rows: Iterable[list], headers: list[str] = HEADERS) -> Iterator[str]:
    """The CSV text in chunks of CSV_BATCH rows, beginning with the BOM and the header. Other exports
    (an organization's staff) pass their own headers; cells are neutralized by the caller's rows."""
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(headers)
    batch = []
    for row in rows:
        batch.append(writer.writerow([_csv_cell(v) for v in row]))
        if len(batch) >= CSV_BATCH:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def csv_document(queryset: QuerySet[MedicalWorker], *, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The whole CSV file in chunks; ``progress`` is told the number of rows written so far.

    PostgreSQL formats the rows itself and streams them with COPY ... TO STDOUT (several times
    faster than formatting a million rows in Python); other databases go through csv_chunks. Both
    give the same file (a test compares them).
    """
    if connection.vendor == "postgresql":
        yield from _csv_copy(queryset, progress)
        return
    rows: Iterable[list] = iter_rows(queryset)
    if progress is not None:
        rows = _Counted(rows, progress)
    yield from csv_chunks(rows)


class _Counted:
    def __init__(self, rows: Iterable[list], progress: Callable[[int], None]):
        self.rows, self.progress = rows, progress

    def __iter__(self) -> Iterator[list]:
        done = 0
        for row in self.rows:
            yield row
            done += 1
            if done % CHUNK_SIZE == 0:
                self.progress(done)
        self.progress(done)


# public_row in SQL: each cell is the text csv_chunks would write; neutralize() as a regexp.
_NEUTRALIZE = r"regexp_replace({}, E'^([=+@\\t\\r-])', E'\'\\1')"
_COPY_SQL = """
COPY (
    -- nullif(..., ''): PostgreSQL quotes an empty string ("") to tell it from NULL; csv_chunks writes nothing.
    SELECT nullif({full_name}, ''), nullif({number}, ''), nullif({specialty}, ''), nullif({region}, ''), {status},
           to_char(t.until, 'DD.MM.YYYY'), nullif({category}, ''), to_char(t.registered, 'DD.MM.YYYY')
    FROM ({inner}) AS t(last, first, middle, number, status, until, registered, specialty, region, category)
) TO STDOUT WITH (FORMAT csv, DELIMITER ';')
"""
_COPY_BUFFER = 256 * 1024  # bytes per yielded chunk; libpq hands COPY data over one row at a time


def _copy_statement(queryset: QuerySet[MedicalWorker]) -> tuple[str, tuple]:
    inner, params = queryset.values_list(*PUBLIC_FIELDS).query.sql_with_params()
    statuses = " ".join(f"WHEN '{value}' THEN '{label}'" for value, label in search.PUBLIC_STATUSES)
    statement = _COPY_SQL.format(
        full_name=_NEUTRALIZE.format("concat_ws(' ', nullif(t.last, ''), nullif(t.first, ''), nullif(t.middle, ''))"),
        number=(
            "CASE WHEN t.number ~ '^[0-9]{10}$' THEN %s || ' ' || left(t.number, 9) || '-' || right(t.number, 1) "
            "ELSE coalesce(t.number, '') END"
        ),
        specialty=_NEUTRALIZE.format("coalesce(t.specialty, '')"),
        region=_NEUTRALIZE.format("coalesce(t.region, '')"),
        status=f"CASE t.status {statuses} ELSE t.status END",
        category=_NEUTRALIZE.format("coalesce(replace(t.category, ' квалификационная категория', ''), '')"),
        inner=inner,
    )
    return statement, (validators.REGISTRY_PREFIX, *params)


def _csv_copy(queryset: QuerySet[MedicalWorker], progress: Callable[[int], None] | None) -> Iterator[str]:
    statement, params = _copy_statement(queryset)
    yield "\ufeff" + csv.writer(_Echo(), delimiter=";", lineterminator="\r\n").writerow(HEADERS)
    done = 0

    def flush(buffer: list[bytes]) -> str:
        nonlocal done
        chunk = b"".join(buffer)
        done += chunk.count(b"\n")
        if progress is not None:
            progress(done)
        # Names and directory entries hold no line breaks, so every \n ends a row: CRLF as csv_chunks.
        return chunk.decode("utf-8").replace("\n", "\r\n")

    # The queryset's database: a replica during a public request or a background export (core.replicas).
    with connections[queryset.db].cursor() as cursor, cursor.cursor.copy(statement, params) as copy:
        buffer: list[bytes] = []
        size = 0
        for data in copy:
            buffer.append(bytes(data))
            size += len(data)
            if size >= _COPY_BUFFER:
                yield flush(buffer)
                buffer, size = [], 0
        if buffer:
            yield flush(buffer)
    if progress is not None:
        progress(done)


_XLSX_WIDTHS = (40, 18, 30, 30, 16, 14, 14, 14)


def write_xlsx(
    rows: Iterable[list],
    target,
    *,
    headers: list[str] = HEADERS,
    widths: tuple[int, ...] = _XLSX_WIDTHS,
    sheet: str = "Регистр",
) -> int:
    """Write the rows to ``target`` (a path or a binary file) as XLSX; return how many were written."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    for index, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + index)].width = width
    bold = Font(bold=True)
    header = []
    for title in headers:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    count = 0
    for row in rows:
        # Dates as ДД.ММ.ГГГГ text, as in the CSV and on the page: a styled date cell costs openpyxl
        # about 40% more time per row, and 100,000 rows must stay within 12 s (issue 5).
        ws.append([_csv_date(v) if isinstance(v, dt.date) else v for v in row])
        count += 1
    wb.save(target)
    return count


def xlsx_tempfile(queryset: QuerySet[MedicalWorker]):
    """An anonymous temporary file holding the XLSX, positioned at the start; gone once closed."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    write_xlsx(iter_rows(queryset), handle)
    handle.seek(0)
    return handle


def download_name(fmt: str) -> str:
    return f"medreg-{timezone.localtime():%Y%m%d-%H%M}.{fmt}"


# --- Background jobs ------------------------------------------------------------------------------


def exports_dir() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def job_file_path(job: ExportJob) -> Path | None:
    if not job.file_name:
        return None
    return exports_dir() / Path(job.file_name).name


def export_job_claim(*, job_id, redelivered: bool = False) -> bool:
    """Take the job for this run: queued → running in one conditional UPDATE (a second run, or a
    duplicate delivery, changes no row and stops). A job left running by a lost worker is retaken:
    by the broker's redelivery of its task (the worker process died: Celery rejects the task back to
    the queue, or the visibility timeout ran out, which is longer than the task's time limit), or by
    any run once it is older than STALE_RUNNING (the reconciler enqueues those)."""
    return claim_row(
        ExportJob,
        pk=job_id,
        queued=ExportJob.Status.QUEUED,
        running=ExportJob.Status.RUNNING,
        lease=STALE_RUNNING,
        now=timezone.now(),
        retake_running=redelivered,
        progress=0,
        error="",
    )


class _Progress:
    """Turns "rows written" into a percentage for the job's progress bar, reported when it changes."""

    def __init__(self, *, total: int, report: Callable[[int], object]):
        self.total, self.report, self.done, self.percent = total, report, 0, -1

    def __call__(self, done: int) -> None:
        self.done = done
        percent = min(99, done * 100 // max(self.total, 1))
        if percent != self.percent:
            self.percent = percent
            self.report(percent)


def export_job_run(*, job_id, redelivered: bool = False) -> str:
    """Build the file of one ExportJob; idempotent (see export_job_claim). Returns the final status."""
    if not export_job_claim(job_id=job_id, redelivered=redelivered):
        logger.info("export job %s: not claimable (already taken or finished); skipped", job_id)
        return "skipped"
    job = ExportJob.objects.get(pk=job_id)
    jobs = ExportJob.objects.filter(pk=job_id)
    directory = exports_dir()
    final = directory / f"{job.pk}.{job.format}"
    # Written under another name and renamed: a download never sees a half-written file.
    partial = directory / f"{job.pk}.{job.format}.part"
    try:
        # The register is read from a replica when one is usable; the job row stays on the primary.
        with replicas.replica_reads():
            cleaned, ids = parse_params(params_from_storage(job.params))
            qs = export_queryset(cleaned, ids)
            total = qs.count()  # exact: in the background a full count is affordable, and drives the bar
            directory.mkdir(parents=True, exist_ok=True)
            if job.format == ExportJob.Format.CSV:
                # The COPY holds the database connection while it streams, so the percentage goes to the
                # cache (read by job_progress); the row gets the final figures afterwards.
                progress = _Progress(
                    total=total, report=lambda percent: cache.set(_progress_key(job.pk), percent, 3600)
                )
                with open(partial, "w", encoding="utf-8", newline="") as handle:
                    handle.writelines(csv_document(qs, progress=progress))
            else:
                progress = _Progress(total=total, report=lambda percent: jobs.update(progress=percent))
                write_xlsx(_Counted(iter_rows(qs), progress), partial)
        os.replace(partial, final)
    except OperationalError:
        partial.unlink(missing_ok=True)
        # The database went away: give the claim back so the retry (with backoff) can take it.
        try:
            jobs.update(status=ExportJob.Status.QUEUED, started_at=None)
        except OperationalError:
            logger.warning("export job %s: could not release the claim; it is retaken when stale", job_id)
        raise
    except Exception as exc:  # includes Celery's SoftTimeLimitExceeded
        partial.unlink(missing_ok=True)
        if isinstance(exc, ExportParamsError):
            message = str(exc)
        else:
            # Not re-raised: the requester sees "failed" on the job page; the log has the traceback.
            logger.exception("export job %s failed", job_id)
            message = "внутренняя ошибка"
        export_job_fail(job_id=job_id, error=message)
        return ExportJob.Status.FAILED
    jobs.update(
        status=ExportJob.Status.DONE, progress=100, rows=progress.done, file_name=final.name, finished_at=timezone.now()
    )
    logger.info("export job %s done: %s rows", job_id, progress.done)
    return ExportJob.Status.DONE


def _progress_key(job_id) -> str:
    return f"registry:export-progress:{job_id}"


def job_progress(job: ExportJob) -> int:
    """The percentage to show: the row's, or the running CSV job's figure from the cache."""
    if job.status != ExportJob.Status.RUNNING:
        return job.progress
    return max(job.progress, cache.get(_progress_key(job.pk)) or 0)


def export_job_fail(*, job_id, error: str) -> None:
    """Mark a job that did not finish as failed (not one already done)."""
    ExportJob.objects.filter(pk=job_id).exclude(status=ExportJob.Status.DONE).update(
        status=ExportJob.Status.FAILED, error=error, finished_at=timezone.now()
    )


def job_ids_in_session(session) -> list[str]:
    return list(session.get("export_jobs", []))


def remember_job(session, job: ExportJob) -> None:
    # Newest first, a short list: enough to follow a few exports, no growth without bound.
    session["export_jobs"] = [str(job.pk), *job_ids_in_session(session)][:20]
