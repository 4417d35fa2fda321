"""The first runs of the data-quality jobs, so the dashboards and the desk are not empty.

Each job is started the way the admin's buttons and the daily beat start it (the scan through
duplicate_scan_start, the others through their Celery tasks, run here in this process), and only
when it has never run: a second seed_demo adds no second snapshot, audit or scan.
"""

from __future__ import annotations

from registry import tasks
from registry.models import DiscrepancyAlert, DQAuditRun, DuplicateScanRun, WorkforceSnapshot
from registry.quality import discrepancies, scan


def duplicate_scan_first() -> str:
    """The full duplicate scan, once; its candidate pairs appear under «Возможные дубликаты»."""
    if DuplicateScanRun.objects.exists():
        return "skipped"
    run = scan.duplicate_scan_start()
    # With inline tasks the scan has already run on commit and this returns "skipped"; with a
    # broker it runs here, and the worker's delivery later finds the run claimed.
    scan.duplicate_scan_run(run_id=run.pk)
    run.refresh_from_db()
    return run.status


def discrepancy_checks_first() -> dict[str, int]:
    """The discrepancy checks of the daily job, once (alerts are keyed, so a rerun adds nothing)."""
    if DiscrepancyAlert.objects.exists():
        return {}
    return discrepancies.discrepancy_checks_run()


def workforce_snapshot_first() -> int | None:
    if WorkforceSnapshot.objects.exists():
        return None
    return tasks.workforce_snapshot()


def dq_audit_first() -> int | None:
    if DQAuditRun.objects.exists():
        return None
    return tasks.dq_audit()
