"""E-mails rendered from templates: `templates/<app>/emails/<name>_subject.txt`, `<name>.txt` (the
plain-text part) and `<name>.html` (the HTML part, the same text with markup, extending
accounts/emails/base.html). Both parts go through the outbox (accounts.outbox)."""

from __future__ import annotations

from dataclasses import dataclass

from django.template import Context
from django.template.loader import get_template, render_to_string

from . import outbox
from .models import OutboundMessage


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_text(template_name: str, context: dict) -> str:
    """A plain-text template without HTML escaping: a name like «О'Нил» must reach a text e-mail or an
    SMS as written, not as «О&#x27;Нил»."""
    return get_template(template_name).template.render(Context(context, autoescape=False))


def email_render(template: str, context: dict) -> RenderedEmail:
    """Subject, text and HTML of `template` (a path without suffix); the HTML escapes user data."""
    return RenderedEmail(
        subject=" ".join(render_text(f"{template}_subject.txt", context).split()),
        text=render_text(f"{template}.txt", context).strip(),
        html=render_to_string(f"{template}.html", context).strip(),
    )


def email_send(*, to: str, template: str, context: dict, subject_suffix: str = " — Медрег") -> OutboundMessage | None:
    """Render and queue an e-mail with both parts; sent after the current transaction commits."""
    email = email_render(template, context)
    return outbox.send_email(to=to, subject=f"{email.subject}{subject_suffix}", body=email.text, html=email.html)
