"""The audit-journal writer: every app appends through audit_record, nothing updates or deletes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .http import client_ip
from .models import AuditEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def audit_record(
    *,
    event: str,
    subject: AbstractBaseUser | None = None,
    actor: AbstractBaseUser | None = None,
    request=None,
    object_type: str = "",
    object_id: str = "",
    details: dict | None = None,
) -> AuditEntry:
    """Append one entry to the audit journal."""
    if actor is None and request is not None and getattr(request, "user", None) and request.user.is_authenticated:
        actor = request.user
    return AuditEntry.objects.create(
        event=event,
        subject=subject,
        actor=actor,
        ip=client_ip(request),
        user_agent=(request.headers.get("user-agent", "")[:300] if request is not None else ""),
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
    )
