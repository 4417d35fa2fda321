"""A register worth searching: synthetic workers, a few injected duplicates and discrepancies.

The synthetic rows come from the benchmark generator (`generate_registry`, perf.synthetic) with a
fixed seed, so every fresh clone gets the same register. They are added once: when workers other
than the named demo workers are already stored, the step is skipped (a second run changes nothing).
"""

from __future__ import annotations

import datetime as dt

from django.core.management import call_command
from django.db import transaction

from core import validators
from registry import models, services

SYNTHETIC_WORKERS = 3000
SYNTHETIC_ORGANIZATIONS = 60
SYNTHETIC_SEED = 2026

# Hand-entered copies of synthetic workers, as staff sometimes add a person twice: the duplicate
# scan (registry/quality/scan.py) must offer each pair. (source offset, how the copy differs)
DUPLICATES = (
    (11, "typo"),  # two letters of the surname swapped, same birth date and phone
    (23, "typo"),
    (37, "email"),  # another spelling of the middle name, same e-mail
    (51, "typo"),
    (64, "maiden"),  # another surname (marriage), same birth date, phone and e-mail
)
# SNILS bodies of the copies: below the generator's space (perf.synthetic.SNILS_BASE), so never
# one of its numbers.
DUPLICATE_SNILS_BASE = 90_000_100
SHARED_DOCUMENT_OFFSET = 77  # two synthetic workers given one admission document number


def synthetic_register_seed(*, demo_snils: set[str], today: dt.date, stdout) -> int:
    """Generate the synthetic workers unless they are there; return how many were added."""
    if models.MedicalWorker.objects.exclude(snils__in=demo_snils).exists():
        return 0
    call_command(
        "generate_registry",
        workers=SYNTHETIC_WORKERS,
        organizations=SYNTHETIC_ORGANIZATIONS,
        seed=SYNTHETIC_SEED,
        today=today.isoformat(),
        append=True,
        no_progress=True,
        verbosity=0,
        stdout=stdout,
    )
    return SYNTHETIC_WORKERS


def _sources(demo_snils: set[str]) -> list[models.MedicalWorker]:
    return list(
        models.MedicalWorker.objects.exclude(snils__in=demo_snils)
        .exclude(snils__startswith=str(DUPLICATE_SNILS_BASE)[:4])
        .exclude(phone="")
        .order_by("id")[: SHARED_DOCUMENT_OFFSET + 2]
    )


def _copy_names(source: models.MedicalWorker, how: str) -> dict:
    last, first, middle = source.last_name, source.first_name, source.middle_name
    if how == "typo":
        last = last[:2] + last[3] + last[2] + last[4:]  # two letters swapped on the keyboard
    elif how == "email":
        middle = middle.replace("ович", "овичь").replace("овна", "овнна") if middle else "Иванович"
    elif how == "maiden":
        last = "Сергеева" if source.sex == "F" else "Сергеев"
    return {"last_name": last, "first_name": first, "middle_name": middle}


def duplicates_inject(*, demo_snils: set[str]) -> int:
    """Add the hand-entered copies (through the register's own worker_create); return how many."""
    sources = _sources(demo_snils)
    added = 0
    for n, (offset, how) in enumerate(DUPLICATES):
        body = f"{DUPLICATE_SNILS_BASE + n:09d}"
        snils = body + validators.snils_checksum(body)
        if offset >= len(sources) or models.MedicalWorker.objects.filter(snils=snils).exists():
            continue
        source = sources[offset]
        copy = models.MedicalWorker(
            snils=snils,
            sex=source.sex,
            birth_date=source.birth_date,
            phone=source.phone if how != "email" else "",
            email=source.email if how in ("email", "maiden") else "",
            identity_status=models.MedicalWorker.IdentityStatus.NOT_CONFIRMED,
            registered_on=source.registered_on,
            **_copy_names(source, how),
        )
        services.worker_create(worker=copy, actor=None)
        added += 1
    return added


def discrepancies_inject(*, demo_snils: set[str], closed_organization) -> None:
    """Two workers with one admission document number, one still working at a closed organization."""
    sources = _sources(demo_snils)
    if len(sources) < SHARED_DOCUMENT_OFFSET + 2:
        return
    first, second = sources[SHARED_DOCUMENT_OFFSET], sources[SHARED_DOCUMENT_OFFSET + 1]
    document = models.AdmissionDocument.objects.filter(worker=first).order_by("id").first()
    with transaction.atomic():
        if document is not None:
            # The number is what the shared-document check compares; a number is unique per kind.
            kind = next(k for k in models.AdmissionDocument.Kind.values if k != document.kind)
            accreditation = models.AccreditationKind.objects.order_by("id").first()
            models.AdmissionDocument.objects.get_or_create(
                kind=kind,
                number=document.number,
                defaults={
                    "worker": second,
                    "specialty_id": document.specialty_id,
                    "issued_on": document.issued_on,
                    "valid_until": document.valid_until,
                    "status": document.status,
                    "accreditation_kind": accreditation if kind == "accreditation" else None,
                },
            )
        job = models.Employment.objects.filter(worker=second).order_by("id").first()
        if job is not None:
            models.Employment.objects.get_or_create(
                worker=second,
                organization=closed_organization,
                started_on=dt.date(2018, 2, 1),
                defaults={
                    "position_id": job.position_id,
                    "specialty_id": job.specialty_id,
                    "rate": "0.50",
                    "kind": models.Employment.Kind.EXTERNAL,
                    "department": "Выездная бригада",
                },
            )
    services.worker_refresh_derived(worker_ids=[first.id, second.id])
