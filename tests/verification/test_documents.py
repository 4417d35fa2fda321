"""The encrypted document store: content checks, encryption at rest, downloads, key rotation."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path
from unittest import mock

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError
from django.http import Http404
from PIL import Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript

from core.models import AuditEntry
from verification import documents
from verification.documents import (
    UploadRejected,
    document_can_access,
    document_read,
    document_response,
    document_store,
    documents_reencrypt,
    documents_stale_count,
    key_fingerprint,
    sanitize_filename,
    sniff_content_type,
    validate_upload,
)
from verification.models import StoredDocument

MIB = 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- Real tiny files --------------------------------------------------------------------------


def png_bytes(size=(300, 300)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(size=(300, 300)) -> bytes:
    # Noise, so the compressed data is long enough that cutting it loses real pixels.
    image = Image.effect_noise(size, 60).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def pdf_bytes(*, javascript: str | None = None, password: str | None = None, attachment: bool = False) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    if javascript:
        writer.add_open_action(JavaScript(javascript))
    if attachment:
        writer.add_attachment("payload.exe", b"MZ...")
    if password:
        writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims the given size, with one tiny IDAT: a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def upload(data: bytes, name: str = "scan.pdf", content_type: str = "application/pdf") -> SimpleUploadedFile:
    # The claimed content type is deliberately often wrong in these tests: it must never matter.
    return SimpleUploadedFile(name, data, content_type=content_type)


def store(data: bytes, *, owner=None, name: str = "scan.pdf", kind=StoredDocument.Kind.DIPLOMA, **kwargs):
    return document_store(uploaded_file=upload(data, name), owner=owner, kind=kind, field_label="Диплом", **kwargs)


def blobs(settings) -> list[Path]:
    root = Path(settings.DOCUMENT_STORAGE_DIR)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


@pytest.fixture(autouse=True)
def _keys(settings):
    settings.DOCUMENT_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


# --- Sniffing and validation: good input --------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [(pdf_bytes, "application/pdf"), (jpeg_bytes, "image/jpeg"), (png_bytes, "image/png")],
)
def test_real_pdf_jpeg_png_are_accepted_with_type_sniffed_from_content(make, expected):
    data = make()
    assert sniff_content_type(data[:16]) == expected
    assert (
        validate_upload(data, field_label="Диплом", allowed=documents.DEFAULT_ALLOWED, max_bytes=10 * MIB) == expected
    )


def test_pdf_opening_at_a_page_is_not_mistaken_for_active_content():
    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    writer.open_destination = page  # /OpenAction with a destination, no script
    buffer = io.BytesIO()
    writer.write(buffer)
    assert validate_upload(buffer.getvalue(), field_label="Диплом") == "application/pdf"


def test_screenshot_may_be_smaller_than_a_document_scan():
    data = png_bytes((150, 120))
    with pytest.raises(UploadRejected):
        validate_upload(data, field_label="Диплом")
    assert validate_upload(data, field_label="Скриншот", min_pixels=100) == "image/png"


# --- Validation: hostile and broken input ------------------------------------------------------


def reject(data: bytes, **kwargs) -> str:
    kwargs.setdefault("field_label", "Скриншот")
    with pytest.raises(UploadRejected) as caught:
        validate_upload(data, **kwargs)
    assert caught.value.message.startswith(kwargs["field_label"] + ": ")
    assert caught.value.field == kwargs["field_label"]
    return caught.value.message


TYPE_REFUSED = "Скриншот: допустимы только PDF, JPEG и PNG — загружен файл другого типа"


def test_svg_is_refused_even_though_browsers_call_it_an_image():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300"><script>alert(1)</script></svg>'
    assert reject(svg) == TYPE_REFUSED


def test_html_is_refused():
    assert reject(b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>") == TYPE_REFUSED


def test_png_with_appended_script_is_refused_as_polyglot():
    message = reject(png_bytes() + b"<script>alert(1)</script>")
    assert "посторонние данные" in message


def test_markup_marker_is_found_regardless_of_case():
    assert "посторонние данные" in reject(jpeg_bytes() + b"<SvG onload=alert(1)>")


def test_junk_before_pdf_magic_is_refused():
    assert reject(b"<html>junk</html>\n" + pdf_bytes()) == TYPE_REFUSED
    assert reject(b"GIF89a;" + pdf_bytes()) == TYPE_REFUSED


def test_pdf_with_html_in_its_head_is_refused_as_polyglot():
    data = pdf_bytes()
    assert "посторонние данные" in reject(data[:9] + b"<html><script>alert(1)</script></html>\n" + data[9:])


def test_pdf_with_javascript_is_refused():
    assert "сценарии" in reject(pdf_bytes(javascript="app.alert(1);"))


def test_pdf_with_hex_escaped_javascript_name_is_refused_by_the_object_walk():
    data = pdf_bytes(javascript="app.alert(1);")
    disguised = data.replace(b"/JavaScript", b"/J#61vaScript").replace(b"/JS ", b"/J#53 ")
    assert b"/JavaScript" not in disguised and b"/JS " not in disguised
    assert documents._PDF_RAW_ACTIVE.search(disguised) is None
    assert "сценарии" in reject(disguised)


def test_pdf_with_embedded_file_is_refused():
    assert "вложенные файлы" in reject(pdf_bytes(attachment=True))


def test_encrypted_pdf_is_refused_with_a_clear_message():
    assert reject(pdf_bytes(password="secret")) == (
        "Скриншот: PDF защищён паролем или шифрованием — снимите защиту и загрузите файл снова"
    )


def test_pdf_that_does_not_parse_is_refused():
    assert reject(b"%PDF-1.7\n" + b"\x00garbage" * 200) == "Скриншот: файл повреждён или не читается"


def test_truncated_jpeg_is_refused():
    data = jpeg_bytes()
    assert reject(data[: len(data) // 2]) == "Скриншот: файл повреждён или не читается"


def test_truncated_png_is_refused():
    data = png_bytes()
    assert reject(data[: len(data) - 30]) == "Скриншот: файл повреждён или не читается"


def test_tiny_image_is_refused_with_its_size():
    message = reject(png_bytes((10, 10)))
    assert "слишком маленькое (10×10 пикселей)" in message
    assert "200×200" in message


def test_decompression_bomb_is_refused():
    # Pillow's own bomb error fires when the header claims 10 gigapixels.
    assert "слишком большое по числу пикселей" in reject(png_header_only(100_000, 100_000))


def test_image_over_our_pixel_limit_is_refused_before_decoding():
    # 64 MP: below Pillow's global limit, above ours; the body is a stub and is never decoded.
    assert "слишком большое по числу пикселей" in reject(png_header_only(8000, 8000))


def test_empty_file_is_refused():
    assert reject(b"") == "Скриншот: файл пустой"


def test_oversized_file_is_refused_with_both_sizes():
    data = PNG_SIGNATURE + b"\x00" * (11 * MIB)
    assert reject(data, max_bytes=10 * MIB) == "Скриншот: файл больше 10 МБ (11 МБ)"
    assert reject(PNG_SIGNATURE + b"\x00" * (10 * MIB), max_bytes=10 * MIB) == "Скриншот: файл больше 10 МБ (10,1 МБ)"
    assert reject(PNG_SIGNATURE + b"\x00" * int(12.3 * MIB), max_bytes=10 * MIB) == (
        "Скриншот: файл больше 10 МБ (12,3 МБ)"
    )


def test_type_not_allowed_for_this_field_is_refused():
    assert reject(pdf_bytes(), allowed={"image/jpeg", "image/png"}) == (
        "Скриншот: допустимы только JPEG и PNG — загружен файл другого типа"
    )


# --- Storing ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stored_pdf_reads_back_and_is_encrypted_on_disk_under_a_random_name(settings, worker_user):
    data = pdf_bytes()
    document = store(data, owner=worker_user, name="Диплом Иванова.pdf")

    assert document.content_type == "application/pdf"
    assert document.size == len(data)
    assert document.original_name == "Диплом Иванова.pdf"
    assert document.key_fingerprint == key_fingerprint(settings.DOCUMENT_ENCRYPTION_KEYS[0])
    assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}\.bin", document.storage_name)
    [blob] = blobs(settings)
    assert blob.relative_to(settings.DOCUMENT_STORAGE_DIR).as_posix() == document.storage_name
    on_disk = blob.read_bytes()
    assert b"%PDF" not in on_disk
    assert data not in on_disk
    assert document_read(document=StoredDocument.objects.get(pk=document.pk)) == data


@pytest.mark.django_db
def test_stored_png_has_no_png_signature_on_disk(settings, worker_user):
    data = png_bytes()
    document = store(data, owner=worker_user, name="photo.png")
    [blob] = blobs(settings)
    assert PNG_SIGNATURE not in blob.read_bytes()
    assert "photo" not in blob.name
    assert document_read(document=document) == data


@pytest.mark.django_db
def test_claimed_type_and_extension_are_ignored(worker_user):
    # A PNG sent as "page.html" with text/html is stored as the PNG it is, named .png.
    document = document_store(
        uploaded_file=upload(png_bytes(), "../../page.html", "text/html"),
        owner=worker_user,
        kind=StoredDocument.Kind.PASSPORT,
        field_label="Паспорт",
    )
    assert document.content_type == "image/png"
    assert document.original_name == "page.png"


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("C:\\Users\\me\\Скан паспорта.JPEG", "image/jpeg", "Скан паспорта.jpeg"),
        ("scan\u202egpj.exe", "image/png", "scangpj.png"),
        ("Иванов И.И. диплом", "application/pdf", "Иванов И.И. диплом.pdf"),
        ('<img src=x onerror="alert(1)">.pdf', "application/pdf", "img src=x onerror=alert(1).pdf"),
        ("...", "image/png", "документ.png"),
        ("а" * 500 + ".pdf", "application/pdf", "а" * 196 + ".pdf"),
    ],
)
def test_original_name_is_sanitized(name, content_type, expected):
    assert sanitize_filename(name, content_type=content_type) == expected


@pytest.mark.django_db
def test_anonymous_ticket_screenshot_is_stored_without_owner():
    document = document_store(
        uploaded_file=upload(png_bytes((120, 120)), "screen.png"),
        owner=None,
        kind=StoredDocument.Kind.TICKET_SCREENSHOT,
        field_label="Скриншот",
        allowed={"image/jpeg", "image/png"},
        min_pixels=100,
    )
    assert document.owner is None


@pytest.mark.django_db
def test_eleven_megabyte_upload_is_refused_and_nothing_is_stored(settings, worker_user):
    with pytest.raises(UploadRejected) as caught:
        store(PNG_SIGNATURE + b"\x00" * (11 * MIB), owner=worker_user)
    assert caught.value.message == "Диплом: файл больше 10 МБ (11 МБ)"
    assert not StoredDocument.objects.exists()
    assert blobs(settings) == []


class _EndlessUpload:
    """A file object of unknown size that records how much was asked of it."""

    name = "huge.pdf"

    def __init__(self):
        self.requested = 0

    def read(self, size=-1):
        assert size >= 0, "the whole upload must never be read"
        self.requested += size
        return b"%PDF-" + b"\x00" * (size - 5)


@pytest.mark.django_db
def test_store_reads_at_most_one_byte_past_the_limit(worker_user):
    upload_ = _EndlessUpload()
    with pytest.raises(UploadRejected, match="файл больше 1 МБ"):
        document_store(uploaded_file=upload_, owner=worker_user, kind="diploma", field_label="Диплом", max_bytes=MIB)
    assert upload_.requested == MIB + 1


@pytest.mark.django_db
def test_quota_exceeded_is_refused(settings, worker_user, second_worker_user):
    data = pdf_bytes()
    settings.DOCUMENT_QUOTA_BYTES = len(data) * 2
    store(data, owner=worker_user)
    store(data, owner=worker_user)
    with pytest.raises(UploadRejected) as caught:
        store(data, owner=worker_user)
    assert caught.value.message == (
        f"Диплом: превышен лимит хранилища ({documents._megabytes(len(data) * 2)} МБ) для вашей учётной записи"
    )
    assert StoredDocument.objects.filter(owner=worker_user).count() == 2
    assert len(blobs(settings)) == 2
    # The quota is per account: another worker still has room.
    store(data, owner=second_worker_user)


@pytest.mark.django_db
def test_quota_message_shows_megabytes(settings, worker_user):
    settings.DOCUMENT_QUOTA_BYTES = 200 * MIB
    StoredDocument.objects.create(
        owner=worker_user,
        kind="other",
        original_name="x.pdf",
        content_type="application/pdf",
        size=200 * MIB - 10,
        sha256="0" * 64,
        storage_name="00/00/old.bin",
        key_fingerprint="00000000",
    )
    with pytest.raises(UploadRejected) as caught:
        store(pdf_bytes(), owner=worker_user)
    assert caught.value.message == "Диплом: превышен лимит хранилища (200 МБ) для вашей учётной записи"


@pytest.mark.django_db
def test_nothing_is_left_on_disk_when_the_row_cannot_be_written(settings, worker_user):
    with (
        mock.patch.object(StoredDocument.objects, "create", side_effect=IntegrityError("boom")),
        pytest.raises(IntegrityError),
    ):
        store(pdf_bytes(), owner=worker_user)
    assert blobs(settings) == []
    assert not StoredDocument.objects.exists()


@pytest.mark.django_db
def test_rejected_upload_writes_nothing(settings, worker_user):
    with pytest.raises(UploadRejected):
        store(pdf_bytes(javascript="app.alert(1);"), owner=worker_user)
    assert blobs(settings) == []
    assert not StoredDocument.objects.exists()


@pytest.mark.django_db
def test_document_whose_blob_was_swapped_is_not_served(settings, worker_user):
    first = store(pdf_bytes(), owner=worker_user)
    second = store(png_bytes(), owner=worker_user, name="p.png")
    root = Path(settings.DOCUMENT_STORAGE_DIR)
    (root / first.storage_name).write_bytes((root / second.storage_name).read_bytes())
    with pytest.raises(documents.DocumentUnavailable):
        document_read(document=first)


# --- Key rotation -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_rotation_reencrypts_so_only_the_new_key_is_needed(settings, worker_user, on_commit_immediate):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DOCUMENT_ENCRYPTION_KEYS = [key_a]
    data = pdf_bytes()
    document = store(data, owner=worker_user)
    old_blob = Path(settings.DOCUMENT_STORAGE_DIR) / document.storage_name

    settings.DOCUMENT_ENCRYPTION_KEYS = [key_b, key_a]
    # During the rotation both keys read the old blob.
    assert document_read(document=document) == data
    assert documents_stale_count() == 1
    assert documents_reencrypt() == 1
    assert documents_stale_count() == 0
    assert documents_reencrypt() == 0

    settings.DOCUMENT_ENCRYPTION_KEYS = [key_b]
    document.refresh_from_db()
    assert document.key_fingerprint == key_fingerprint(key_b)
    assert document_read(document=document) == data
    assert not old_blob.exists()
    assert len(blobs(settings)) == 1


@pytest.mark.django_db
def test_reader_holding_a_row_from_before_rotation_still_gets_the_document(settings, worker_user, on_commit_immediate):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DOCUMENT_ENCRYPTION_KEYS = [key_a]
    data = png_bytes()
    document = store(data, owner=worker_user, name="p.png")
    stale_row = StoredDocument.objects.get(pk=document.pk)
    settings.DOCUMENT_ENCRYPTION_KEYS = [key_b, key_a]
    documents_reencrypt()
    assert document_read(document=stale_row) == data


@pytest.mark.django_db
def test_rotate_command_reports_progress_and_what_it_could_not_do(settings, worker_user, on_commit_immediate):
    key_a, key_b, key_lost = (Fernet.generate_key().decode() for _ in range(3))
    settings.DOCUMENT_ENCRYPTION_KEYS = [key_lost]
    store(pdf_bytes(), owner=worker_user)
    settings.DOCUMENT_ENCRYPTION_KEYS = [key_a]
    for _ in range(3):
        store(pdf_bytes(), owner=worker_user)
    settings.DOCUMENT_ENCRYPTION_KEYS = [key_b, key_a]

    out = io.StringIO()
    with pytest.raises(Exception, match="Не удалось перешифровать документов: 1"):
        call_command("rotate_document_keys", "--batch", "2", stdout=out)
    output = out.getvalue()
    assert "Документов под прежними ключами: 4" in output
    # Two batches of two; the undecryptable one is skipped wherever it falls.
    assert len(re.findall(r"перешифровано \d из 4", output)) == 2
    assert "Перешифровано документов: 3." in output
    assert StoredDocument.objects.filter(key_fingerprint=key_fingerprint(key_b)).count() == 3


@pytest.mark.django_db
def test_rotate_command_with_nothing_to_do(worker_user):
    store(pdf_bytes(), owner=worker_user)
    out = io.StringIO()
    call_command("rotate_document_keys", stdout=out)
    assert "Документов под прежними ключами: 0." in out.getvalue()


# --- Access and download ----------------------------------------------------------------------


@pytest.mark.django_db
def test_owner_download_is_a_sandboxed_attachment_and_not_journaled(rf, worker_user):
    data = png_bytes()
    document = store(data, owner=worker_user, name="Паспорт.png", kind=StoredDocument.Kind.PASSPORT)
    response = document_response(document=document, request=rf.get("/"), actor=worker_user)

    assert response.content == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%D0%9F%D0%B0%D1%81%D0%BF%D0%BE%D1%80%D1%82.png" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, no-store"
    assert not AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED).exists()


@pytest.mark.django_db
def test_staff_reading_a_workers_document_is_journaled(rf, worker_user, support_agent):
    document = store(pdf_bytes(), owner=worker_user)
    response = document_response(document=document, request=rf.get("/"), actor=support_agent)
    assert response["Content-Type"] == "application/pdf"
    entry = AuditEntry.objects.get(event=AuditEntry.Event.DATA_VIEWED)
    assert entry.actor == support_agent
    assert entry.subject == worker_user
    assert entry.object_type == "document"
    assert entry.object_id == str(document.pk)


@pytest.mark.django_db
def test_another_worker_and_anonymous_visitors_cannot_access(rf, worker_user, second_worker_user, support_agent):
    from django.contrib.auth.models import AnonymousUser

    document = store(pdf_bytes(), owner=worker_user)
    assert document_can_access(document=document, user=worker_user)
    assert document_can_access(document=document, user=support_agent)
    assert not document_can_access(document=document, user=second_worker_user)
    assert not document_can_access(document=document, user=AnonymousUser())
    with pytest.raises(Http404):
        document_response(document=document, request=rf.get("/"), actor=second_worker_user)


@pytest.mark.django_db
def test_anonymous_screenshot_is_visible_to_staff_only(worker_user, support_agent):
    document = store(png_bytes(), owner=None, kind=StoredDocument.Kind.TICKET_SCREENSHOT, name="s.png")
    assert document_can_access(document=document, user=support_agent)
    assert not document_can_access(document=document, user=worker_user)


@pytest.mark.django_db(transaction=True)
def test_blob_of_an_upload_rolled_back_is_swept_later_and_kept_ones_stay(settings, worker_user):
    """document_store writes the blob before its row commits; a rollback leaves an orphan the daily
    sweep deletes once it is old enough (a young blob may belong to a row still being committed)."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from verification.tasks import sweep_orphan_documents

    kept = store(png_bytes(), owner=worker_user, name="kept.png")
    with pytest.raises(RuntimeError), transaction.atomic():
        store(png_bytes(), owner=worker_user, name="lost.png")
        raise RuntimeError("the application failed after the upload")
    assert len(blobs(settings)) == 2 and StoredDocument.objects.count() == 1
    assert documents.documents_sweep_orphans() == 0  # too young to tell from a commit in flight
    later = timezone.now() + dt.timedelta(days=2)
    assert documents.documents_sweep_orphans(now=later) == 1
    assert [p.name for p in blobs(settings)] == [kept.storage_name.rsplit("/", 1)[-1]]
    assert document_read(document=kept) == png_bytes()
    assert documents.documents_sweep_orphans(now=later) == 0 and sweep_orphan_documents() == 0  # safe to repeat
