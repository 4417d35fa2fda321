"""Celery tasks of the organization cabinet (thin: the work is in the modules they call)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from . import digest


@shared_task(bind=True, name="orgs.expiry_digest", time_limit=1800, soft_time_limit=1700, acks_late=True, max_retries=5)
def expiry_digest(self) -> int:
    # Safe to run twice or to redeliver: each organization's week is claimed with its e-mails (orgs.digest).
    try:
        return digest.expiry_digest_run()
    except OperationalError as exc:  # the database went away: the organizations not yet claimed are retried
        raise self.retry(exc=exc, countdown=60 * 2**self.request.retries) from exc
