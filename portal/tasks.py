"""Portal-level tasks. `ping` exists so health checks and CI can see a real worker answer."""

from celery import shared_task


@shared_task(name="portal.ping", time_limit=30, soft_time_limit=20)
def ping(value: str = "pong") -> str:
    return value
