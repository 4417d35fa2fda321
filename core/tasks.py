"""Tasks of the core. `ping` exists so health checks and CI can see a real worker answer."""

from celery import shared_task

from . import reconcile


# Its answer is read back (tests/portal/test_celery_worker.py, with a result backend of its own).
@shared_task(name="core.ping", time_limit=30, soft_time_limit=20, ignore_result=False)
def ping(value: str = "pong") -> str:
    return value


@shared_task(name="core.reconcile_queued", time_limit=120, soft_time_limit=100)
def reconcile_queued() -> dict[str, int]:
    # Safe to run twice at once: a row enqueued twice is claimed by one run and skipped by the other.

    return reconcile.reconcile_queued()
