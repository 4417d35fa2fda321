"""Notifications to a user: a row in the cabinet, an e-mail, and an SMS for the important ones.

Texts come from templates `templates/<app>/emails/<name>_subject.txt`, `<name>.txt` and, for
SMS, `<name>_sms.txt`. Delivery reuses the retried Celery tasks in accounts.tasks and leaves only
after commit, so a rolled-back change sends nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string

from .models import Notification, User


def notification_send(
    *, user: User, kind: str, template: str, context: dict, important: bool = False, link: str = ""
) -> Notification:
    """Store the notification for the cabinet and queue the e-mail (and SMS when important)."""
    context = {**context, "site_url": settings.SITE_URL, "link": link}
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    body = render_to_string(f"{template}.txt", context).strip()
    notification = Notification.objects.create(
        user=user, kind=kind, title=subject, body=body, link=link, important=important
    )
    sms_text = " ".join(render_to_string(f"{template}_sms.txt", context).split()) if important else ""
    email, phone = user.email, (user.phone if user.phone_confirmed else "")

    def deliver():
        from .tasks import deliver_email, deliver_sms

        if email:
            deliver_email.delay(email, f"{subject} — Медрег", f"{body}\n\n{settings.SITE_URL}{link}")
        if sms_text and phone:
            deliver_sms.delay(phone, sms_text)

    transaction.on_commit(deliver)
    return notification


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    from django.utils import timezone

    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
