"""Official extracts: download by the owner only, signature and currency checks, tampering,
key rotation and revocation."""

import base64
import io
import json
import re

import pytest
from pypdf import PdfReader

from api import services
from api.extracts import documents as extracts
from api.extracts import signing
from api.models import Extract
from core.models import AuditEntry
from registry.models import AdmissionDocument
from registry.services import worker_refresh_derived
from tests.factories import AdmissionDocumentFactory, EmploymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker(worker_user):
    w = worker_user.worker
    w.last_name, w.first_name, w.middle_name = "Иванова", "Мария", "Петровна"
    w.save()
    emp = EmploymentFactory(worker=w)
    AdmissionDocumentFactory(worker=w, specialty=emp.specialty)
    worker_refresh_derived(worker_ids=[w.pk])
    return w


def _issue(worker, kind=Extract.Kind.REGISTRY):
    return services.extract_issue(worker=worker, user=worker.user, kind=kind)


def test_owner_downloads_a_signed_pdf_with_cyrillic_and_the_download_is_journaled(client, worker):
    client.force_login(worker.user)
    response = client.get("/extracts/registry.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    extract = Extract.objects.get()
    assert extract.worker == worker and extract.user == worker.user
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Выписка из регистра медицинских" in text and "Иванова Мария Петровна" in text
    assert extract.code_display in text
    assert worker.snils not in re.sub(r"\D", "", text)  # masked: the verification page is public
    assert AuditEntry.objects.filter(event=AuditEntry.Event.EXPORT, subject=worker.user, object_id=extract.code)
    cert = client.get("/extracts/qualification.pdf")
    assert "Справка о квалификационном статусе" in PdfReader(io.BytesIO(cert.content)).pages[0].extract_text()
    page = client.get("/extracts/").content.decode()
    assert extract.code_display in page


def test_downloads_need_login_and_copies_are_the_owners_only(client, worker, second_worker_user):
    assert client.get("/extracts/registry.pdf").status_code == 302
    extract = _issue(worker)
    client.force_login(second_worker_user)
    assert client.get(f"/extracts/{extract.code}.pdf").status_code == 404
    client.force_login(worker.user)
    assert client.get(f"/extracts/{extract.code}.pdf").status_code == 200


def test_account_without_registry_record_gets_404(client, support_agent):
    client.force_login(support_agent)
    assert client.get("/extracts/registry.pdf").status_code == 404


def test_verification_page_confirms_and_shows_only_the_printed_facts(client, worker):
    extract = _issue(worker)
    page = client.get(f"/verify/{extract.code}/").content.decode()
    assert "Документ подлинный" in page and "Сведения актуальны" in page
    assert "Иванова Мария Петровна" in page and worker.admission_documents.get().number in page
    assert worker.snils_display not in page and worker.inn not in page and "17.05.1985" not in page


def test_changed_record_is_authentic_but_not_current(client, worker):
    extract = _issue(worker)
    AdmissionDocument.objects.filter(worker=worker).update(status=AdmissionDocument.Status.SUSPENDED)
    page = client.get(f"/verify/{extract.code}/").content.decode()
    assert "Документ подлинный" in page and "Сведения изменились" in page
    assert "Документы о допуске к профессиональной деятельности" in page


def test_altered_or_unknown_code_is_not_confirmed(client, worker):
    extract = _issue(worker)
    altered = extract.code[:-1] + ("2" if extract.code[-1] != "2" else "3")
    response = client.get(f"/verify/{altered}/")
    assert response.status_code == 404 and "Документ не подтверждён" in response.content.decode()
    assert client.get("/verify/<script>/").status_code == 404


def test_stored_payload_tampered_in_the_database_fails_the_signature(worker):
    extract = _issue(worker)
    payload = extract.payload
    payload["sections"][0]["rows"][0][1] = "Петрова Мария Петровна"
    Extract.objects.filter(pk=extract.pk).update(payload=payload)
    verdict = extracts.verify_code(extract.code)
    assert verdict.found and not verdict.authentic and "изменён" in verdict.reason


def test_key_rotation_keeps_old_extracts_valid_and_revocation_invalidates(settings, worker):
    old_key = settings.EXTRACT_SIGNING_KEYS[0]
    old = _issue(worker)
    new_key = signing.new_key_item("k2026")
    settings.EXTRACT_SIGNING_KEYS = [new_key, old_key]
    new = _issue(worker)
    assert new.key_id == "k2026" and old.key_id != "k2026"
    assert extracts.verify_code(old.code).authentic and extracts.verify_code(new.code).authentic
    settings.EXTRACT_REVOKED_KEY_IDS = [old.key_id]
    revoked = extracts.verify_code(old.code)
    assert not revoked.authentic and "отозван" in revoked.reason
    assert extracts.verify_code(new.code).authentic
    settings.EXTRACT_SIGNING_KEYS = [new_key]  # a key dropped entirely
    settings.EXTRACT_REVOKED_KEY_IDS = []
    assert not extracts.verify_code(old.code).authentic


def _upload(client, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post("/verify/", {"file": SimpleUploadedFile("v.pdf", data, content_type="application/pdf")})


def test_uploaded_original_pdf_is_confirmed(client, worker):
    extract = _issue(worker)
    page = _upload(client, extracts.render_pdf(extract)).content.decode()
    assert "Документ подлинный" in page and "текст файла совпадает" in page


def test_pdf_with_altered_visible_text_is_detected(client, worker):
    extract = _issue(worker)
    forged = json.loads(json.dumps(extract.payload))
    forged["sections"][2]["rows"][0][1] = forged["sections"][2]["rows"][0][1].replace("Действует", "Действует*")
    forged["sections"][0]["rows"][0][1] = "Смирнова Мария Петровна"
    # The real signed data embedded, different text printed: a forged document.
    response = _upload(client, extracts.render_pdf(extract, payload=forged))
    page = response.content.decode()
    assert "Документ недействителен" in page and "Текст документа изменён" in page
    assert "Иванова Мария Петровна" in page  # names the line that does not match


def test_pdf_with_a_row_added_is_detected(client, worker):
    extract = _issue(worker)
    forged = json.loads(json.dumps(extract.payload))
    forged["sections"][1]["rows"].append(["Клиника Ромашка", "главный врач"])
    page = _upload(client, extracts.render_pdf(extract, payload=forged)).content.decode()
    assert "Документ недействителен" in page and "добавлены или переставлены" in page


def test_pdf_with_altered_embedded_payload_fails_the_signature(client, worker):
    extract = _issue(worker)
    pdf = extracts.render_pdf(extract)
    blob = json.dumps(
        {"payload": extract.payload, "key_id": extract.key_id, "signature": extract.signature}, ensure_ascii=False
    )
    original = base64.b64encode(blob.encode())
    tampered_blob = blob.replace("Иванова", "Петрова")
    tampered = base64.b64encode(tampered_blob.encode())
    # Rewrite the metadata stream (stored uncompressed by fpdf2) with a same-length edit.
    assert original in pdf and len(original) == len(tampered)
    page = _upload(client, pdf.replace(original, tampered)).content.decode()
    assert "Документ недействителен" in page and "Подпись не совпадает" in page


def test_pdf_of_another_code_swapped_in_is_detected(client, worker):
    first, second = _issue(worker), _issue(worker)
    pdf_first = extracts.render_pdf(first)
    swapped = Extract(
        code=first.code,
        created_at=first.created_at,
        payload=first.payload,
        key_id=second.key_id,
        signature=second.signature,
        kind=first.kind,
    )
    page = _upload(client, extracts.render_pdf(swapped)).content.decode()
    assert "Документ недействителен" in page
    assert "Документ подлинный" in _upload(client, pdf_first).content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a pdf at all", "это не PDF"),
        (b"%PDF-1.4\n%garbage", "не удалось прочитать PDF"),
        (b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024), "не более 2 МБ"),
    ],
)
def test_bad_uploads_get_a_clear_error(client, db, data, message):
    response = _upload(client, data)
    assert response.status_code == 400 and message in response.content.decode()


def test_plain_pdf_without_signature_is_refused(client, db):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    response = _upload(client, bytes(pdf.output()))
    assert response.status_code == 400 and "не найдены" in response.content.decode()


def test_code_form_redirects_to_the_verification_page(client, worker):
    extract = _issue(worker)
    response = client.get("/verify/", {"code": extract.code_display.lower()})
    assert response.status_code == 302 and response["Location"] == f"/verify/{extract.code}/"
    bad = client.get("/verify/", {"code": "abc"})
    assert "Код проверки: 12 букв и цифр" in bad.content.decode()


def test_signing_rejects_a_malformed_key():
    with pytest.raises(signing.KeyConfigError):
        signing.parse_keys(["k1:notbase64!!"])
    with pytest.raises(signing.KeyConfigError):
        signing.parse_keys(["no-separator"])


def test_verification_is_rate_limited_per_address(client, worker, monkeypatch):
    from api.extracts import views as views_extracts

    monkeypatch.setattr(views_extracts, "VERIFY_PER_MINUTE", 2)
    extract = _issue(worker)
    codes = [client.get(f"/verify/{extract.code}/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
