"""Background checks and deadline sweeps. Tasks take ids; the services claim rows, so a task
delivered twice (acks_late after a crash) does its work once."""

import logging

from celery import shared_task

from . import deadlines, services
from .documents import documents_sweep_orphans
from .gateways import GatewayUnavailable

logger = logging.getLogger(__name__)

CHECK_RETRIES = 5


def _backoff(retries: int) -> int:
    return min(3600, 60 * 2**retries)


CHECK = {"bind": True, "acks_late": True, "time_limit": 300, "soft_time_limit": 240}


def _redelivered(request) -> bool:
    # The broker delivers this message again because the worker that had it died before the ack
    # (a retry is a new message and is not "redelivered"): the claim that worker left is dead.
    return bool((request.delivery_info or {}).get("redelivered"))


@shared_task(name="verification.check_identity_application", max_retries=CHECK_RETRIES, **CHECK)
def check_identity_application(self, application_id: int) -> str:
    try:
        return services.identity_application_check(
            application_id=application_id, redelivered=_redelivered(self.request)
        )
    except GatewayUnavailable as exc:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            # No worker to retry later, or retries used up: a person decides. Never a silent pass.
            logger.warning("identity application %s: state registry unavailable, to manual review", application_id)
            services.identity_application_to_manual_review(
                application_id=application_id, reason=f"Госреестры недоступны: {exc}"
            )
            return "manual_review"
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except Exception as exc:
        # A crash inside the check released the claim; try again later. Inline (no worker) the
        # page that submitted must not fail: the application waits, and the 24-hour sweep hands
        # it to staff.
        if self.request.is_eager:
            logger.exception("identity application %s: check failed (inline mode)", application_id)
            return "error"
        if self.request.retries >= self.max_retries:
            raise
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(name="verification.check_qualification_application", max_retries=CHECK_RETRIES, **CHECK)
def check_qualification_application(self, application_id: int) -> str:
    try:
        return services.qualification_application_check(
            application_id=application_id, redelivered=_redelivered(self.request)
        )
    except Exception as exc:
        # Left in SUBMITTED after the last try (or inline, where the page must not fail): the
        # 24-hour sweep escalates it to staff.
        if self.request.is_eager:
            logger.exception("qualification application %s: check failed (inline mode)", application_id)
            return "error"
        if self.request.retries >= self.max_retries:
            raise
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(name="verification.run_deadlines", time_limit=600, soft_time_limit=540)
def run_deadlines() -> dict:
    return deadlines.run_all()


@shared_task(name="verification.sweep_orphan_documents", time_limit=1800, soft_time_limit=1700)
def sweep_orphan_documents() -> int:
    """Daily: encrypted blobs no document row names (a rolled-back upload) are deleted."""

    return documents_sweep_orphans()
