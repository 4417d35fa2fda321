"""Registration of a medical worker account."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from core import validators
from core.audit import audit_record
from core.http import client_ip
from core.models import AuditEntry

from .consent import CURRENT_CONSENT_VERSION
from .models import Consent, User

MSG_SNILS_TAKEN = "Учётная запись с этим СНИЛС уже существует. Войдите или восстановите пароль."


class RegistrationError(Exception):
    """A refusal tied to one form field (`field`), with a message to show as is."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def snils_has_account(snils: str) -> bool:
    # A worker's username is their SNILS, so a staff login made of the same digits blocks it too.
    return User.objects.filter(Q(snils=snils) | Q(username=snils)).exists()


def _checked_identity(*, snils: str, phone: str, consent_text_version: str) -> tuple[str, str]:
    """SNILS and phone normalized, the consent current, the SNILS free; RegistrationError otherwise."""
    try:
        snils = validators.normalize_snils(snils)
    except ValidationError as exc:
        raise RegistrationError(exc.messages[0], field="snils", code="snils_invalid") from None
    try:
        phone = validators.normalize_mobile_phone(phone)
    except ValidationError as exc:
        raise RegistrationError(exc.messages[0], field="phone", code="phone_invalid") from None
    if consent_text_version != CURRENT_CONSENT_VERSION:
        raise RegistrationError(
            "Текст согласия обновился. Прочитайте его и подтвердите согласие ещё раз.",
            field="consent",
            code="consent_outdated",
        )
    # Checked first for the usual case; the unique constraints settle a race between two
    # registrations of the same SNILS, where both pass this check.
    if snils_has_account(snils):
        raise RegistrationError(MSG_SNILS_TAKEN, field="snils", code="snils_taken")
    return snils, phone


def account_register(
    *,
    snils: str,
    last_name: str,
    first_name: str,
    middle_name: str,
    birth_date: dt.date,
    phone: str,
    email: str,
    password: str,
    consent_text_version: str,
    request,
) -> User:
    """Create a worker account with its consent record and audit entry, all or nothing.

    The phone is stored unconfirmed: it is confirmed with an SMS code at the first login. The
    password is expected to have passed `validate_password` already (the form does that).
    """
    snils, phone = _checked_identity(snils=snils, phone=phone, consent_text_version=consent_text_version)
    try:
        with transaction.atomic():
            user = User(
                kind=User.Kind.WORKER,
                username=snils,
                snils=snils,
                last_name=last_name,
                first_name=first_name,
                middle_name=middle_name or "",
                birth_date=birth_date,
                phone=phone,
                phone_confirmed_at=None,
                email=User.objects.normalize_email(email),
            )
            user.set_password(password)
            user.save()
            consent = Consent.objects.create(
                user=user, kind="personal_data", text_version=consent_text_version, ip=client_ip(request)
            )
            audit_record(
                event=AuditEntry.Event.REGISTERED,
                subject=user,
                actor=user,
                request=request,
                object_type="consent",
                object_id=str(consent.pk),
                details={"consent_version": consent_text_version},
            )
    except IntegrityError:
        if snils_has_account(snils):
            raise RegistrationError(MSG_SNILS_TAKEN, field="snils", code="snils_taken") from None
        raise
    return user
