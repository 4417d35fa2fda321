"""Imports as Celery jobs: an uploaded file is stored, a job row is queued, the task runs the
import and writes the error report; the admin page polls the job row for progress."""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from core import reconcile
from core.audit import audit_record
from core.claims import claim_row
from core.models import AuditEntry

from ..models import ImportJob
from .engine import SCOPED_KINDS, import_file, write_error_report
from .schema import KINDS, ImportFileError

logger = logging.getLogger(__name__)

STALE_RUNNING = dt.timedelta(hours=2)
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
ALLOWED_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".json"}
SNIFF_BYTES = 4096
# What an organization's own upload may do: import or check, never a sync (it would end rows it
# does not own).
SCOPED_MODES = (ImportJob.Mode.IMPORT, ImportJob.Mode.DRY_RUN)


def imports_dir() -> Path:
    return Path(settings.VAR_DIR) / "imports"


def source_path(job: ImportJob) -> Path | None:
    """The stored upload of a job; a URL source is fetched into the same folder first."""
    if job.source.startswith(("http://", "https://")):
        return None
    return imports_dir() / Path(job.source).name


def report_path(job: ImportJob) -> Path | None:
    return imports_dir() / Path(job.report_name).name if job.report_name else None


def upload_sniff(head: bytes, suffix: str) -> None:
    """The content must be what the name says, judged by its first bytes like every other upload:
    an XLSX is a ZIP container, a CSV or JSON is UTF-8 text (no NUL bytes, no binary magic)."""
    if not head:
        raise ImportFileError("Файл: файл пустой")
    if suffix == ".xlsx":
        if not head.startswith(b"PK\x03\x04"):
            raise ImportFileError("Файл: это не XLSX — содержимое не совпадает с расширением")
        return
    text = head.removeprefix(b"\xef\xbb\xbf")
    if b"\x00" in text or text.startswith((b"PK\x03\x04", b"%PDF", b"\xd0\xcf\x11\xe0", b"\x89PNG", b"\xff\xd8")):
        raise ImportFileError("Файл: это не текстовый CSV или JSON — содержимое не совпадает с расширением")
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may end inside a multi-byte character: only an error before its last bytes counts.
        if exc.start < len(text) - 3:
            raise ImportFileError("Файл: текст не в кодировке UTF-8 — сохраните файл как «CSV UTF-8»") from None


def upload_store(uploaded) -> str:
    """Save an uploaded file under a random name; returns the name (never a path from the client)."""
    suffix = Path(uploaded.name or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise ImportFileError("Файл: допустимы CSV, XLSX и JSON (.csv, .xlsx, .json)")
    if uploaded.size > MAX_UPLOAD_BYTES:
        raise ImportFileError(f"Файл: не больше {MAX_UPLOAD_BYTES // 2**20} МБ")
    uploaded.seek(0)
    upload_sniff(uploaded.read(SNIFF_BYTES), suffix)
    uploaded.seek(0)
    directory = imports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}{suffix}"
    with open(directory / name, "wb") as handle:
        for chunk in uploaded.chunks():
            handle.write(chunk)
    return name


def import_job_create(
    *,
    kind: str,
    source: str,
    original_name: str,
    mode: str,
    user=None,
    request=None,
    preview: ImportJob | None = None,
    organization=None,
) -> ImportJob:
    """Queue an import (or a sync preview/apply) and start its task after commit. With an
    `organization` the job is that organization's own upload: its rows only, no sync."""

    if kind not in KINDS:
        raise ImportFileError(f"Вид данных: неизвестный «{kind}»")
    if organization is not None and (kind not in SCOPED_KINDS or mode not in SCOPED_MODES):
        raise ImportFileError("Вид данных: организация загружает только места работы (импорт или проверку)")
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            source=source,
            original_name=original_name[:255],
            mode=mode,
            user=user,
            preview=preview,
            organization=organization,
        )
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            actor=user,
            request=request,
            object_type="import_job",
            object_id=str(job.pk),
            details={
                "kind": kind,
                "mode": mode,
                "file": original_name[:255],
                **({"organization": organization.pk} if organization is not None else {}),
            },
        )
        # Never raises into the request (a .delay() with Redis down did, after retrying): the job
        # stays queued and the reconciler enqueues it again (registered in registry.apps).
        reconcile.enqueue_on_commit("registry.run_import", str(job.pk))
    return job


def import_job_claim(*, job_id) -> bool:
    """Take the job for this run (core.claims.claim_row); a job left running by a lost worker is
    retaken once it is older than STALE_RUNNING."""
    return claim_row(
        ImportJob,
        pk=job_id,
        queued=ImportJob.Status.QUEUED,
        running=ImportJob.Status.RUNNING,
        lease=STALE_RUNNING,
        now=timezone.now(),
        progress=0,
        error="",
    )


def _count_rows(path: Path) -> int:
    """A cheap estimate of data rows for the progress bar (lines for text, max_row for XLSX)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head.startswith(b"PK"):
            from openpyxl import load_workbook

            try:
                workbook = load_workbook(path, read_only=True)
                return max(0, (workbook.worksheets[0].max_row or 1) - 1)
            except Exception:  # a damaged file is reported by the import itself
                return 0
        handle.seek(0)
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return max(lines - 1, 1)


def fetch_url(url: str) -> Path:
    """The extension point for a sync from a URL: download into the imports folder (size-capped)."""
    from urllib.request import urlopen

    if not url.startswith(("http://", "https://")):
        raise ImportFileError("Источник: адрес должен начинаться с http:// или https://")
    directory = imports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    suffix = Path(url.split("?", 1)[0]).suffix.lower()
    target = directory / f"{uuid.uuid4().hex}{suffix if suffix in ALLOWED_SUFFIXES else ''}"
    try:
        with urlopen(url, timeout=60) as response, open(target, "wb") as handle:  # noqa: S310 - scheme checked above
            total = 0
            while chunk := response.read(1 << 20):
                total += len(chunk)
                if total > MAX_UPLOAD_BYTES:
                    raise ImportFileError("Источник: файл больше допустимого размера")
                handle.write(chunk)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise ImportFileError(f"Источник: не удалось загрузить {url}: {exc}") from None
    return target


def import_job_run(*, job_id) -> str:
    """Run one ImportJob; idempotent (claimed by a conditional UPDATE). Returns the final status."""
    if not import_job_claim(job_id=job_id):
        return "skipped"
    job = ImportJob.objects.select_related("organization").get(pk=job_id)
    jobs = ImportJob.objects.filter(pk=job_id)
    try:
        path = source_path(job) or fetch_url(job.source)
        total = _count_rows(path)
        jobs.update(total_rows=total)
        dry_run = job.mode in (ImportJob.Mode.DRY_RUN, ImportJob.Mode.SYNC_PREVIEW)
        sync = job.mode in (ImportJob.Mode.SYNC_PREVIEW, ImportJob.Mode.SYNC_APPLY)
        result = import_file(
            path,
            kind=job.kind,
            dry_run=dry_run,
            sync=sync,
            progress=lambda done: jobs.update(progress=min(99, done * 100 // max(total, 1))),
            scope_ogrn=job.organization.ogrn if job.organization is not None else None,
        )
    except OperationalError:
        jobs.update(status=ImportJob.Status.QUEUED, started_at=None)
        raise
    except ImportFileError as exc:
        jobs.update(status=ImportJob.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now())
        return ImportJob.Status.FAILED
    except Exception:  # includes SoftTimeLimitExceeded; the log has the traceback
        logger.exception("import job %s failed", job_id)
        jobs.update(status=ImportJob.Status.FAILED, error="внутренняя ошибка", finished_at=timezone.now())
        return ImportJob.Status.FAILED
    report_name = ""
    if result.errors or result.notes:
        report_name = f"{job.pk}-errors.csv"
        partial = imports_dir() / f"{report_name}.part"
        with open(partial, "w", encoding="utf-8", newline="") as handle:
            write_error_report(result.errors, handle, labels=KINDS[job.kind].labels, notes=result.notes)
        os.replace(partial, imports_dir() / report_name)
    jobs.update(
        status=ImportJob.Status.DONE,
        progress=100,
        total_rows=result.total,
        created_count=result.created,
        updated_count=result.updated,
        unchanged_count=result.unchanged,
        invalid_count=result.invalid,
        vanished_count=result.vanished,
        merged_count=result.merged,
        duplicates_count=len(result.duplicates),
        summary={
            "new": result.new_keys,
            "changed": result.changed_keys,
            "vanished": result.vanished_keys,
            "errors": [str(e) for e in result.errors[:20]],
            "notes": [str(n) for n in result.notes[:20]],
        },
        report_name=report_name,
        finished_at=timezone.now(),
    )
    # The created and changed workers were checked for duplicates by the import itself (by row).
    return ImportJob.Status.DONE
