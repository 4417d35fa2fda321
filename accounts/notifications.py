"""Notifications to a user: a row in the cabinet, an e-mail, and an SMS for the important ones.

Texts come from templates `templates/<app>/emails/<name>_subject.txt`, `<name>.txt`, `<name>.html`
(the e-mail's HTML part, accounts.emails) and, for SMS, `<name>_sms.txt`. The e-mail and SMS go
through the outbox (accounts.outbox): written with the change they report, sent after commit, never
lost with a broker message.
"""

from __future__ import annotations

from django.conf import settings

from . import outbox
from .emails import email_render, render_text
from .models import Notification, User


def notification_send(
    *, user: User, kind: str, template: str, context: dict, important: bool = False, link: str = ""
) -> Notification:
    """Store the notification for the cabinet and queue the e-mail (and SMS when important)."""
    email_link = f"{settings.SITE_URL}{link}"
    context = {**context, "site_url": settings.SITE_URL, "link": link, "email_link": email_link}
    email = email_render(template, context)
    notification = Notification.objects.create(
        user=user, kind=kind, title=email.subject, body=email.text, link=link, important=important
    )
    outbox.send_email(
        to=user.email, subject=f"{email.subject} — Медрег", body=f"{email.text}\n\n{email_link}", html=email.html
    )
    if important and user.phone_confirmed:
        outbox.send_sms(to=user.phone, text=" ".join(render_text(f"{template}_sms.txt", context).split()))
    return notification


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    from django.utils import timezone

    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
