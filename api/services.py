"""Writes of the api app: partner tokens and issued extracts."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audit_record
from core.models import AuditEntry

from .extracts import signing
from .extracts.documents import extract_facts
from .models import Extract, PartnerToken

TOKEN_PREFIX = "mr"  # noqa: S105 - the public part of every token, not a secret
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: the code is typed from paper
CODE_LENGTH = 12


class TokenError(Exception):
    pass


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def partner_token_check(*, scopes: list[str], organization) -> None:
    """A token's scopes are known ones, and the write scope comes with the organization it writes for."""
    unknown = set(scopes) - set(PartnerToken.Scope.values)
    if unknown:
        raise TokenError(f"Области доступа: неизвестные значения {', '.join(sorted(unknown))}.")
    if PartnerToken.Scope.EMPLOYMENT_WRITE in scopes and organization is None:
        raise TokenError("Организация: для области «Запись мест работы» укажите организацию токена.")


def partner_token_create(
    *,
    name: str,
    scopes: list[str],
    rate_per_minute: int = 120,
    contact: str = "",
    created_by=None,
    organization=None,
) -> tuple[PartnerToken, str]:
    """Create a token; returns it with the raw secret, which is never stored and shown only once."""
    partner_token_check(scopes=scopes, organization=organization)
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = PartnerToken.objects.create(
            name=name,
            contact=contact,
            prefix=prefix,
            key_hash=_hash(raw),
            scopes=sorted(set(scopes)),
            rate_per_minute=rate_per_minute,
            created_by=created_by,
            organization=organization,
        )
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            actor=created_by,
            object_type="partner_token",
            object_id=str(token.pk),
            details={
                "action": "created",
                "name": name,
                "scopes": token.scopes,
                "organization": token.organization_id,
            },
        )
    return token, raw


def partner_token_changed(*, token: PartnerToken, actor=None, fields: list[str]) -> None:
    """Journal an edit of a token's name, scopes or limit made in the admin."""
    if fields:
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            actor=actor,
            object_type="partner_token",
            object_id=str(token.pk),
            details={
                "action": "changed",
                "fields": fields,
                "scopes": token.scopes,
                "rate_per_minute": token.rate_per_minute,
                "organization": token.organization_id,
            },
        )


def partner_token_revoke(*, token: PartnerToken, actor=None) -> PartnerToken:
    """Revoke at once: the next request with it is refused."""
    with transaction.atomic():
        token = PartnerToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            event=AuditEntry.Event.DATA_CHANGED,
            actor=actor,
            object_type="partner_token",
            object_id=str(token.pk),
            details={"action": "revoked", "name": token.name},
        )
    return token


def partner_token_lookup(raw: str) -> PartnerToken | None:
    """The active token for a raw secret, or None (unknown, malformed or revoked)."""
    parts = raw.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = PartnerToken.objects.filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.key_hash, _hash(raw)) or token.revoked_at is not None:
        return None
    return token


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def extract_issue(*, worker, user, kind: str, request=None) -> Extract:
    """Collect the facts, sign them with the newest key, store the extract and journal the download."""

    for _attempt in range(5):
        code = _new_code()
        payload = extract_facts(worker=worker, kind=kind)
        payload.update(code=code, issued_at=timezone.localtime().strftime("%d.%m.%Y %H:%M"))
        key_id, signature = signing.sign(payload, keys=settings.EXTRACT_SIGNING_KEYS)
        try:
            with transaction.atomic():
                extract = Extract.objects.create(
                    code=code,
                    kind=kind,
                    worker=worker,
                    user=user,
                    payload=payload,
                    key_id=key_id,
                    signature=signature,
                )
                audit_record(
                    event=AuditEntry.Event.EXPORT,
                    subject=user,
                    actor=user,
                    request=request,
                    object_type="extract",
                    object_id=code,
                    details={"kind": kind, "key_id": key_id},
                )
            return extract
        except IntegrityError:  # a code collision (2^60 space): draw another
            continue
    raise RuntimeError("could not draw a unique extract code")
