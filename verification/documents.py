"""The encrypted document store: upload checks, storage, read-back, download and key rotation.

Every uploaded file (passport scans, diplomas, support-ticket screenshots) goes through
`document_store`:

1. only PDF, JPEG and PNG are accepted, decided by the bytes (magic numbers), never by the name
   or the type the browser claimed; HTML/SVG/script fragments inside an image, active content in a
   PDF (JavaScript, launch actions, embedded files) and encrypted PDFs are refused, and the file
   must actually decode (Pillow / pypdf), which also catches truncated files and pixel bombs;
   images are then stored re-encoded from their pixels (reencode_image): comments, EXIF (GPS),
   metadata chunks and appended data of the upload never reach the store;
2. size (10 MB a file) and a per-account quota (settings.DOCUMENT_QUOTA_BYTES) are enforced;
3. the bytes are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the first key of
   settings.DOCUMENT_ENCRYPTION_KEYS and written under a random name through the Django storage
   alias "documents". Which storage that is — a folder outside the web root by default, or an
   S3-compatible bucket through django-storages — is configuration only (portal/settings.py,
   DOCUMENT_STORAGE_BACKEND); this module never touches paths itself.

Key rotation without downtime: put the new key first in DOCUMENT_ENCRYPTION_KEYS and keep the old
ones after it (readers accept every listed key), run `manage.py rotate_document_keys`, then drop
the old keys once it reports nothing left.

Downloads (`document_response`) are always attachments with `nosniff` and a sandboxing CSP, so
even a file that slipped past the checks is never rendered by the browser as a page of ours.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import math
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Sum
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from PIL import Image, ImageOps
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from core.audit import audit_record
from core.models import AuditEntry
from core.storage import document_storage

from .models import StoredDocument

logger = logging.getLogger(__name__)

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
DEFAULT_ALLOWED = frozenset({PDF, JPEG, PNG})
MAX_BYTES = 10 * 1024 * 1024
MIB = 1024 * 1024

# Larger than any scan or phone photo (a 48 MP camera is below it), far smaller than what would
# exhaust memory on decode. Checked from the header before a single pixel is decoded.
MAX_IMAGE_PIXELS = 50_000_000
# Markers of HTML/SVG/XML. In an image they mean a polyglot: a file that is a valid picture and,
# opened by a browser as a page, runs script. Random compressed data contains such a run of bytes
# with negligible probability in 64 KB (it would in megabytes, hence the window).
POLYGLOT_WINDOW = 64 * 1024
_MARKUP = re.compile(rb"<(?:svg|html|script|!doctype|\?xml|body|iframe|object|embed)\b", re.IGNORECASE)
# PDFs carry XML metadata legitimately, so only HTML is looked for in their head.
_PDF_HEAD_MARKUP = re.compile(rb"<(?:svg|html|script|!doctype|body|iframe)\b", re.IGNORECASE)

_MAGIC = (
    (b"%PDF-", PDF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)
_TYPE_NAMES = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG"}
# Pillow decoders allowed per sniffed type; MPO is the multi-picture JPEG some cameras write.
_PILLOW_FORMATS = {JPEG: ("JPEG", "MPO"), PNG: ("PNG",)}
_EXTENSIONS = {PDF: (".pdf",), JPEG: (".jpg", ".jpeg"), PNG: (".png",)}

# PDF active content. Dictionary keys and name values are checked on the parsed object graph, so
# hex-escaped names (/J#61vaScript) and objects inside compressed object streams are seen too.
_PDF_FORBIDDEN_KEYS = frozenset(
    {"/JS", "/JavaScript", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/EF", "/RichMedia"}
)
_PDF_FORBIDDEN_NAMES = frozenset({"/JavaScript", "/Launch", "/EmbeddedFile", "/RichMedia", "/GoToE", "/ImportData"})
# The same names in the raw bytes: a cheap first pass that also covers objects no reference reaches.
_PDF_RAW_ACTIVE = re.compile(rb"/(?:JavaScript|JS|Launch|EmbeddedFiles?|RichMedia)(?![A-Za-z0-9#_.+-])")
_PDF_MAX_OBJECTS = 500_000

NAME_MAX_LENGTH = 200
_UNSAFE_NAME_CHARS = set('<>:"|?*')


# --- Errors ------------------------------------------------------------------------------------


class UploadRejected(Exception):
    """An upload that fails a check; `message` names the field and is shown to the user as is."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = f"{field}: {message}"
        super().__init__(self.message)


class DocumentUnavailable(Exception):
    """A stored document cannot be read back: blob missing, no key fits, or content changed."""


# --- Checks -----------------------------------------------------------------------------------


def sniff_content_type(head: bytes) -> str | None:
    """The content type told by the first bytes of a file, or None for anything we do not accept."""
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    return None


def _megabytes(size: int, *, round_up: bool = False) -> str:
    value = (math.ceil(size * 10 / MIB) if round_up else round(size * 10 / MIB)) / 10
    return f"{value:.1f}".removesuffix(".0").replace(".", ",")


def _too_large(field_label: str, *, size: int, max_bytes: int) -> UploadRejected:
    shown = _megabytes(size)
    if round(size * 10 / MIB) <= math.ceil(max_bytes * 10 / MIB):
        # Just over the limit: "больше 10 МБ (10 МБ)" would read as a mistake, so round up.
        shown = _megabytes(size, round_up=True)
    return UploadRejected(field_label, f"файл больше {_megabytes(max_bytes)} МБ ({shown} МБ)")


def _type_list(allowed: set[str] | frozenset[str]) -> str:
    names = [name for content_type, name in _TYPE_NAMES.items() if content_type in allowed]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " и " + names[-1]


def validate_upload(
    data: bytes,
    *,
    field_label: str,
    allowed: set[str] | frozenset[str] = DEFAULT_ALLOWED,
    max_bytes: int = MAX_BYTES,
    min_pixels: int = 200,
) -> str:
    """Check an upload by its content and return the sniffed content type; raise UploadRejected."""
    if not data:
        raise UploadRejected(field_label, "файл пустой")
    if len(data) > max_bytes:
        raise _too_large(field_label, size=len(data), max_bytes=max_bytes)
    content_type = sniff_content_type(data[:16])
    if content_type is None or content_type not in allowed:
        # Also the answer for a file with anything before its magic number (junk, then %PDF):
        # readers that search for the header would accept it, which is what polyglots rely on.
        raise UploadRejected(field_label, f"допустимы только {_type_list(allowed)} — загружен файл другого типа")
    if content_type == PDF:
        _check_pdf(data, field_label=field_label)
    else:
        _check_image(data, field_label=field_label, content_type=content_type, min_pixels=min_pixels)
    return content_type


def _polyglot(field_label: str) -> UploadRejected:
    return UploadRejected(
        field_label,
        "файл содержит посторонние данные (фрагменты веб-страницы или сценария) и не может быть принят",
    )


def _unreadable(field_label: str) -> UploadRejected:
    return UploadRejected(field_label, "файл повреждён или не читается")


def _check_image(data: bytes, *, field_label: str, content_type: str, min_pixels: int) -> None:
    # The whole file (at most 10 MB): markup hidden in a text chunk mid-file counts as much as
    # markup appended at the end.
    if _MARKUP.search(data):
        raise _polyglot(field_label)
    formats = _PILLOW_FORMATS[content_type]
    bomb = UploadRejected(
        field_label, "изображение слишком большое по числу пикселей — уменьшите разрешение и загрузите снова"
    )
    # Image.MAX_IMAGE_PIXELS is left alone: it is process-wide, and changing it for one check would
    # race with other threads. Our stricter limit is checked from the header before decoding;
    # Pillow's own bomb error still fires in open() far beyond it.
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise bomb from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError... on broken input.
        raise _unreadable(field_label) from exc
    if width * height > MAX_IMAGE_PIXELS:
        raise bomb
    if min(width, height) < min_pixels:
        raise UploadRejected(
            field_label,
            f"изображение слишком маленькое ({width}×{height} пикселей), нужно не меньше "
            f"{min_pixels}×{min_pixels} — загрузите скан или фото лучшего качества",
        )
    try:
        with Image.open(io.BytesIO(data), formats=formats) as image:
            image.verify()
        # verify() leaves the image unusable and does not decode pixels; a truncated JPEG passes
        # it, so the pixels are decoded once more from a fresh handle.
        with Image.open(io.BytesIO(data), formats=formats) as image:
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise bomb from exc
    except Exception as exc:
        raise _unreadable(field_label) from exc


# Pixels only: re-encoded JPEGs get this quality (visually lossless for scans and photos of documents).
REENCODE_JPEG_QUALITY = 90


def reencode_image(data: bytes, content_type: str) -> bytes:
    """The image written anew from its decoded pixels: nothing else of the upload survives.

    A JPEG may carry anything in its comment and application segments (a whole PDF with a
    /JavaScript action was accepted as a passport scan), EXIF with the GPS position and camera of a
    phone photo, XMP, ICC profiles; a PNG may carry text, EXIF and private chunks; either may have
    data appended after its end. Only the pixels are kept (turned upright first, since the EXIF
    orientation that said how to show them is dropped); PNG transparency is pixel data and stays.
    Called after validate_upload, which has checked the file decodes and is not a pixel bomb.
    """
    with Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS[content_type]) as opened:
        clean = ImageOps.exif_transpose(opened)  # a new image, loaded from the first frame (of an MPO too)
        if clean is opened:
            clean = opened.copy()
    transparency = clean.info.get("transparency") if content_type == PNG else None
    clean.info = {} if transparency is None else {"transparency": transparency}
    output = io.BytesIO()
    if content_type == JPEG:
        if clean.mode not in ("L", "RGB", "CMYK"):
            clean = clean.convert("RGB")
        clean.save(output, format="JPEG", quality=REENCODE_JPEG_QUALITY, optimize=True)
    else:
        clean.save(output, format="PNG", optimize=False)
    return output.getvalue()


def _check_pdf(data: bytes, *, field_label: str) -> None:
    if _PDF_HEAD_MARKUP.search(data[:1024]):
        raise _polyglot(field_label)
    active = UploadRejected(
        field_label,
        "PDF содержит сценарии, вложенные файлы или автоматические действия — такие файлы не принимаются. "
        "Сохраните документ заново (например, через «Печать в PDF») и загрузите ещё раз",
    )
    if _PDF_RAW_ACTIVE.search(data):
        raise active
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise UploadRejected(
                field_label, "PDF защищён паролем или шифрованием — снимите защиту и загрузите файл снова"
            )
        if len(reader.pages) < 1:
            raise UploadRejected(field_label, "в PDF нет ни одной страницы")
        found = _pdf_active_content(reader)
    except UploadRejected:
        raise
    except Exception as exc:  # pypdf raises PdfReadError, but also KeyError, ValueError... on broken input.
        raise _unreadable(field_label) from exc
    if found:
        logger.info("PDF upload refused: %s", found)
        raise active


def _pdf_active_content(reader: PdfReader) -> str | None:
    """The first forbidden key or action name reachable from the trailer, or None."""
    stack: list = [reader.trailer]
    seen: set[tuple[int, int]] = set()
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            if len(seen) > _PDF_MAX_OBJECTS:
                raise ValueError("too many PDF objects")
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):  # stream objects are dictionaries too
            for key, value in obj.items():
                if key in _PDF_FORBIDDEN_KEYS:
                    return str(key)
                stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
        elif isinstance(obj, NameObject) and obj in _PDF_FORBIDDEN_NAMES:
            return str(obj)
    return None


def sanitize_filename(name: str, *, content_type: str) -> str:
    """A display name safe for a download header and a file system, with the extension of its
    real type: "scan.html" holding a PNG is served as "scan.png"."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    # Category C covers control and format characters, e.g. U+202E that turns "gpj.exe" around.
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in _UNSAFE_NAME_CHARS)
    name = " ".join(name.split()).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not (dot and re.fullmatch(r"[A-Za-z0-9]{1,5}", ext)):
        stem, ext = name, ""
    extensions = _EXTENSIONS[content_type]
    suffix = f".{ext.lower()}" if f".{ext.lower()}" in extensions else extensions[0]
    stem = stem.strip(" .")[: NAME_MAX_LENGTH - len(suffix)].strip(" .") or "документ"
    return stem + suffix


# --- Encryption and storage --------------------------------------------------------------------


def _keys() -> list[bytes]:
    keys = [key.encode() if isinstance(key, str) else bytes(key) for key in settings.DOCUMENT_ENCRYPTION_KEYS]
    keys = [key.strip() for key in keys if key.strip()]
    if not keys:
        raise ImproperlyConfigured("DOCUMENT_ENCRYPTION_KEYS is empty.")
    return keys


def key_fingerprint(key: bytes | str) -> str:
    """Names a key in the database without revealing it: 8 hex digits of SHA-256 of the key."""
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(raw.strip()).hexdigest()[:8]


def current_key_fingerprint() -> str:
    return key_fingerprint(_keys()[0])


def _fernet() -> MultiFernet:
    # The first key encrypts; every key decrypts, so documents stay readable during a rotation.
    return MultiFernet([Fernet(key) for key in _keys()])


def _random_storage_name() -> str:
    # Two levels of fan-out keep directories small; the name tells nothing about owner or content.
    token = uuid.uuid4().hex
    return f"{token[:2]}/{token[2:4]}/{token}.bin"


def _read_blob(storage: Storage, name: str) -> bytes:
    with storage.open(name, "rb") as blob:
        return blob.read()


def _delete_blob(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        # An encrypted orphan is harmless; losing the original error would not be.
        logger.exception("Could not delete document blob %s", name)


# --- Services ---------------------------------------------------------------------------------


def _quota_check(*, owner, size: int, field_label: str) -> None:
    used = StoredDocument.objects.filter(owner=owner).aggregate(total=Sum("size"))["total"] or 0
    quota = settings.DOCUMENT_QUOTA_BYTES
    if used + size > quota:
        raise UploadRejected(field_label, f"превышен лимит хранилища ({_megabytes(quota)} МБ) для вашей учётной записи")


def document_store(
    *,
    uploaded_file,
    owner,
    kind: str,
    field_label: str,
    allowed: set[str] | frozenset[str] = DEFAULT_ALLOWED,
    max_bytes: int = MAX_BYTES,
    min_pixels: int = 200,
) -> StoredDocument:
    """Check, encrypt and store one upload; raise UploadRejected with a message for the user.

    The blob is written first and the row second, inside a transaction; if the row fails the blob
    is deleted, so a document never exists half-written. (A rollback of an *outer* transaction
    after this returns leaves an encrypted orphan blob, which is unreadable without its row.)
    """
    if kind not in StoredDocument.Kind.values:
        raise ValueError(f"unknown document kind {kind!r}")
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > max_bytes:
        raise _too_large(field_label, size=declared, max_bytes=max_bytes)
    if hasattr(uploaded_file, "seek"):
        uploaded_file.seek(0)
    # Never more than one byte past the limit, whatever the client sent.
    data = uploaded_file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(field_label, size=max(declared or 0, len(data)), max_bytes=max_bytes)
    content_type = validate_upload(
        data, field_label=field_label, allowed=allowed, max_bytes=max_bytes, min_pixels=min_pixels
    )
    if content_type in (JPEG, PNG):
        data = reencode_image(data, content_type)
    if owner is not None:
        # Early answer before encrypting and writing; repeated under the lock below.
        _quota_check(owner=owner, size=len(data), field_label=field_label)

    keys = _keys()
    token = _fernet().encrypt(data)
    storage = document_storage()
    storage_name = storage.save(_random_storage_name(), ContentFile(token))
    try:
        with transaction.atomic():
            if owner is not None:
                # Two uploads at once must not both fit under the quota by not seeing each other.
                get_user_model().objects.select_for_update().only("pk").get(pk=owner.pk)
                _quota_check(owner=owner, size=len(data), field_label=field_label)
            document = StoredDocument.objects.create(
                owner=owner,
                kind=kind,
                original_name=sanitize_filename(getattr(uploaded_file, "name", "") or "", content_type=content_type),
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                storage_name=storage_name,
                key_fingerprint=key_fingerprint(keys[0]),
            )
    except BaseException:
        _delete_blob(storage, storage_name)
        raise
    return document


def document_discard(*, document: StoredDocument) -> None:
    """Remove a just-stored document whose owning change failed (its blob and, if committed, its row)."""
    _delete_blob(document_storage(), document.storage_name)
    StoredDocument.objects.filter(pk=document.pk).delete()


def document_read(*, document: StoredDocument) -> bytes:
    """The plaintext of a stored document, decrypted with whichever configured key fits."""
    storage = document_storage()
    try:
        token = _read_blob(storage, document.storage_name)
    except FileNotFoundError:
        # Key rotation may have replaced the blob after this row was loaded; the fresh row
        # points at the new one.
        old_name = document.storage_name
        document.refresh_from_db(fields=["storage_name", "key_fingerprint"])
        if document.storage_name == old_name:
            raise DocumentUnavailable(f"blob of document {document.pk} is missing") from None
        token = _read_blob(storage, document.storage_name)
    try:
        data = _fernet().decrypt(token)
    except InvalidToken as exc:
        raise DocumentUnavailable(f"no configured key decrypts document {document.pk}") from exc
    # Fernet proves the blob is ours; the hash proves it is this document's and not another's.
    if hashlib.sha256(data).hexdigest() != document.sha256:
        raise DocumentUnavailable(f"content of document {document.pk} does not match its hash")
    return data


def document_can_access(*, document: StoredDocument, user) -> bool:
    """The owner and staff may see a document; nobody else, and never anonymously."""
    if user is None or not user.is_authenticated:
        return False
    return bool(user.is_staff) or (document.owner_id is not None and document.owner_id == user.pk)


def document_response(*, document: StoredDocument, request, actor, granted_by: str | None = None) -> HttpResponse:
    """Serve a document as a download. Staff reading someone else's document is journaled.

    `granted_by` names the check a caller has already made when the document reaches someone
    other than its owner by design (a support ticket's reader may be its anonymous author, and a
    worker reads files staff attached to their ticket); without it only the owner or staff pass.
    """
    if granted_by is None and not document_can_access(document=document, user=actor):
        # Views fetch through an ownership check already; this is the second lock on the door.
        raise Http404
    data = document_read(document=document)
    if actor.is_authenticated and actor.is_staff and document.owner_id != actor.pk:
        audit_record(
            event=AuditEntry.Event.DATA_VIEWED,
            subject=document.owner,
            actor=actor,
            request=request,
            object_type="document",
            object_id=str(document.pk),
            details={"kind": document.kind},
        )
    response = HttpResponse(data, content_type=document.content_type)
    response["Content-Length"] = str(len(data))
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=document.original_name)
    # Never rendered as a page of ours: no type guessing, no scripts, no embedding, no caching.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


ORPHAN_AGE = dt.timedelta(days=1)


def documents_sweep_orphans(*, older_than: dt.timedelta = ORPHAN_AGE, now: dt.datetime | None = None) -> int:
    """Delete stored blobs that no document row names: left by a transaction rolled back after
    document_store wrote its blob, or by a process killed between the two. Only blobs older than
    `older_than`, so a blob whose row is about to commit is never touched. Returns how many went."""
    storage = document_storage()
    cutoff = (now or timezone.now()) - older_than
    removed = 0
    for name in _blob_names(storage):
        if storage.get_modified_time(name) >= cutoff:
            continue
        if StoredDocument.objects.filter(storage_name=name).exists():
            continue
        _delete_blob(storage, name)
        removed += 1
    if removed:
        logger.warning("Deleted %d orphan document blobs", removed)
    return removed


def _blob_names(storage: Storage, prefix: str = "") -> Iterator[str]:
    directories, files = storage.listdir(prefix)
    for name in files:
        if name.endswith(".bin"):
            yield f"{prefix}{name}"
    for directory in directories:
        yield from _blob_names(storage, f"{prefix}{directory}/")


def documents_stale_count() -> int:
    """How many documents are still encrypted with a key other than the current first one."""
    return StoredDocument.objects.exclude(key_fingerprint=current_key_fingerprint()).count()


def documents_reencrypt(*, batch: int = 100, progress: Callable[[int], None] | None = None) -> int:
    """Re-encrypt every document whose key is not the current first key; return how many.

    Safe to run while the site serves downloads and to run twice at once (no downtime): documents are
    taken in batches of ``batch`` ids, each one claimed with a row lock that a parallel run skips
    rather than waits for (SKIP LOCKED), re-checked, written to a *new* blob, and the old blob is
    deleted only after the row commits, so a reader always finds a complete blob under a key it
    still has. A document no configured key decrypts is logged and skipped;
    `documents_stale_count()` tells what is left.
    """
    current = current_key_fingerprint()
    fernet = _fernet()
    storage = document_storage()
    done = 0
    last_pk = None
    while True:
        page = StoredDocument.objects.exclude(key_fingerprint=current).order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        pks = list(page.values_list("pk", flat=True)[:batch])
        if not pks:
            return done
        last_pk = pks[-1]
        for pk in pks:
            if _document_reencrypt_one(pk=pk, current=current, fernet=fernet, storage=storage):
                done += 1
        if progress is not None:
            progress(done)


def _document_reencrypt_one(*, pk, current: str, fernet: MultiFernet, storage: Storage) -> bool:
    new_name = None
    try:
        with transaction.atomic():
            # skip_locked: a document another run (or a download's refresh) holds is left to that
            # run instead of queueing behind it; documents_stale_count() shows anything left over.
            document = StoredDocument.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if document is None or document.key_fingerprint == current:
                return False
            # rotate() decrypts with any key and encrypts with the first, keeping the timestamp.
            token = fernet.rotate(_read_blob(storage, document.storage_name))
            new_name = storage.save(_random_storage_name(), ContentFile(token))
            old_name = document.storage_name
            document.storage_name = new_name
            document.key_fingerprint = current
            document.save(update_fields=["storage_name", "key_fingerprint"])
            transaction.on_commit(lambda: _delete_blob(storage, old_name))
    except (InvalidToken, FileNotFoundError):
        logger.exception("Document %s cannot be re-encrypted", pk)
        if new_name is not None:
            _delete_blob(storage, new_name)
        return False
    except BaseException:
        if new_name is not None:
            _delete_blob(storage, new_name)
        raise
    return True
