"""Fixtures for the cabinet and verification tests: real small files, a worker known to the
stand-in state registries, and helpers to submit applications through the services."""

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfWriter

from core import validators
from tests.factories import (
    AdmissionDocumentFactory,
    EmploymentFactory,
    OrganizationFactory,
    SpecialtyFactory,
)
from verification import services
from verification.models import StateRegistryReference

BIRTH = dt.date(1985, 5, 17)


def png_bytes(size=(400, 300), color=(40, 90, 160)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def upload(name="scan.png", data=None, content_type="image/png"):
    return SimpleUploadedFile(name, png_bytes() if data is None else data, content_type=content_type)


def pdf_upload(name="doc.pdf"):
    return SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf")


def reference_for(worker, *, inn=None):
    """Stand-in ФНС and СФР records that agree with the worker's registry data."""
    inn = inn or worker.inn
    common = {
        "last_name": worker.last_name,
        "first_name": worker.first_name,
        "middle_name": worker.middle_name,
        "birth_date": worker.birth_date,
    }
    StateRegistryReference.objects.create(source="social_fund", key=worker.snils, linked_key=inn, **common)
    StateRegistryReference.objects.create(source="tax", key=inn, linked_key=worker.snils, **common)


def identity_input(worker, **overrides) -> services.IdentityInput:
    values = {
        "snils": worker.snils,
        "inn": worker.inn,
        "last_name": worker.last_name,
        "first_name": worker.first_name,
        "middle_name": worker.middle_name,
        "birth_date": worker.birth_date,
    }
    values.update(overrides)
    return services.IdentityInput(**values)


def identity_files():
    return {"passport_document": upload("passport.png"), "qualification_document": pdf_upload("cert.pdf")}


@pytest.fixture
def worker(worker_user):
    """The worker persona's registry record, with a main job, an admission document, a diploma,
    and matching stand-in state registry records."""
    from registry.models import Education, EducationLevel

    record = worker_user.worker
    specialty = SpecialtyFactory(name="Терапия")
    EmploymentFactory(worker=record, organization=OrganizationFactory(), specialty=specialty)
    AdmissionDocumentFactory(worker=record, specialty=specialty, number="0177000000001")
    level, _ = EducationLevel.objects.get_or_create(code="1", defaults={"name": "Высшее"})
    Education.objects.create(
        worker=record, level=level, institution="МГМУ", diploma_number="1234567", issued_on=dt.date(2008, 6, 30)
    )
    reference_for(record)
    return record


@pytest.fixture
def confirmed_worker(worker):
    worker.identity_status = worker.IdentityStatus.CONFIRMED
    worker.save(update_fields=["identity_status"])
    return worker


def other_inn() -> str:
    return validators.inn_person_from_body("5001007322")
