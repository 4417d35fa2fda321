from celery import shared_task

from . import services


@shared_task(name="registry.advance_admission_statuses", time_limit=600, acks_late=True)
def advance_admission_statuses() -> dict[str, int]:
    return services.admission_statuses_advance()
