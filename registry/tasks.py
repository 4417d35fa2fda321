from celery import shared_task

from . import services
from .exports import services as exports
from .imports import jobs
from .models import DuplicateScanRun
from .quality import audits, discrepancies, monitoring, scan
from .saved import services as saved_searches


@shared_task(name="registry.advance_admission_statuses", time_limit=600, acks_late=True)
def advance_admission_statuses() -> dict[str, int]:
    return services.admission_statuses_advance()


@shared_task(name="registry.rebuild_search_words", time_limit=1800, acks_late=True)
def rebuild_search_words() -> int:
    # Safe to run twice: the rebuild replaces the dictionary in one transaction.
    return services.search_words_rebuild()


@shared_task(
    bind=True, name="registry.run_export", time_limit=1800, soft_time_limit=1740, acks_late=True, max_retries=5
)
def run_export(self, job_id: str) -> str:
    from django.db import OperationalError

    # A redelivered task (its worker died mid-run) may retake the job its dead worker left running.
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        return exports.export_job_run(job_id=job_id, redelivered=redelivered)
    except OperationalError as exc:
        if self.request.retries >= self.max_retries:
            exports.export_job_fail(job_id=job_id, error="база данных недоступна")
            raise
        # The claim was given back (see export_job_run); try again later: 30 s, 1 min, 2 min...
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task(name="registry.saved_search_digest", time_limit=1800, soft_time_limit=1700, acks_late=True)
def saved_search_digest() -> int:
    # Safe to redeliver: the digest moves its "already reported" marks with the decision to send.

    return saved_searches.saved_search_digest_run()


@shared_task(
    bind=True, name="registry.run_import", time_limit=3600, soft_time_limit=3500, acks_late=True, max_retries=5
)
def run_import(self, job_id: str) -> str:
    from django.db import OperationalError

    try:
        return jobs.import_job_run(job_id=job_id)
    except OperationalError as exc:
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task(name="registry.dq_checks", time_limit=3600, soft_time_limit=3500, acks_late=True)
def dq_checks() -> dict:
    # Safe to run twice: alerts are keyed by a unique fingerprint, the digest claims what it sends.

    # The daily scan is a run like one started from the admin (progress, what it found and skipped).
    run = DuplicateScanRun.objects.create()
    scan.duplicate_scan_run(run_id=run.pk)
    found = discrepancies.discrepancy_checks_run()
    discrepancies.alerts_digest_send()
    return found


@shared_task(name="registry.dq_audit", time_limit=3600, soft_time_limit=3500, acks_late=True)
def dq_audit() -> int:

    return audits.dq_audit_run().pk


@shared_task(name="registry.workforce_snapshot", time_limit=3600, soft_time_limit=3500, acks_late=True)
def workforce_snapshot() -> int:

    return monitoring.workforce_snapshot_take().pk


@shared_task(name="registry.duplicate_scan", time_limit=3600, soft_time_limit=3500, acks_late=True)
def duplicate_scan(run_id: str) -> str:
    # Safe to redeliver: the run is claimed by a conditional UPDATE (scan.duplicate_scan_run).
    return scan.duplicate_scan_run(run_id=run_id)
