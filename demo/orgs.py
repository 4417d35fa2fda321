"""Demo of the organization cabinet (issue 20): an HR officer (кадровик) of the first demo hospital.

Idempotent like the rest of seed_demo: the account is found by its SNILS and the membership by
(user, organization). The HR officer is not a medical worker, so the login lands on /org/.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core import validators
from orgs.models import OrgMembership
from registry.models import MedicalOrganization

DEMO_PASSWORD_HR = "Kadry-demo-2026"  # noqa: S105 - printed demo login, never used in production
HR_SNILS_BODY = "145236987"
# ГКБ № 1 им. Н. И. Пирогова (the first of seed_demo's ORGANIZATIONS): Иванова, Смирнов and Фёдоров work there.
HR_ORGANIZATION_OGRN_BODY = "102770013219"


def hr_snils() -> str:
    return HR_SNILS_BODY + validators.snils_checksum(HR_SNILS_BODY)


def seed_org_cabinet(*, stdout) -> OrgMembership:
    """The demo HR officer and their membership; prints the login."""
    organization = MedicalOrganization.objects.get(ogrn=validators.ogrn_from_body(HR_ORGANIZATION_OGRN_BODY))
    snils = hr_snils()
    with transaction.atomic():
        user, _ = User.objects.update_or_create(
            username=snils,
            defaults={
                "kind": User.Kind.WORKER,
                "snils": snils,
                "last_name": "Кадрова",
                "first_name": "Галина",
                "middle_name": "Сергеевна",
                "email": "hr@example.org",
                "phone": "+79160000077",
                "phone_confirmed_at": timezone.now(),
            },
        )
        user.set_password(DEMO_PASSWORD_HR)
        user.save(update_fields=["password"])
        membership, _ = OrgMembership.objects.update_or_create(
            user=user, organization=organization, defaults={"role": OrgMembership.Role.HR, "is_active": True}
        )
    stdout.write(
        f"  Кадровик организации  СНИЛС {validators.format_snils(snils)}  пароль {DEMO_PASSWORD_HR}"
        f"  ({organization.short_name}; then /org/)"
    )
    return membership
