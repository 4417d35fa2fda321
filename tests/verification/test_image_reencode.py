"""Images are stored re-encoded: only the pixels of an upload survive (verification.documents).

The hostile files are built byte by byte here: a JPEG whose comment segment holds a whole PDF with a
/JavaScript action, a phone photo with EXIF GPS coordinates and an orientation, a PNG with text and
EXIF chunks and data after its end.
"""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from verification import documents
from verification.documents import document_read, document_store

from .conftest import pdf_bytes

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def _photo(size=(400, 300)) -> Image.Image:
    image = Image.new("RGB", size, (30, 120, 200))
    image.paste((220, 40, 40), (0, 0, size[0] // 4, size[1] // 4))  # a red corner shows the orientation
    return image


def _jpeg(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **params)
    return buffer.getvalue()


def _pdf_with_javascript() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"3 0 obj << /S /JavaScript /JS (app.alert('owned')) >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def _with_comment_segment(jpeg: bytes, payload: bytes) -> bytes:
    """A COM segment (FF FE) right after SOI; a segment holds at most 65,533 bytes of payload."""
    assert len(payload) < 65_533
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _gps_exif(orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    if orientation:
        exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (55.0, 45.0, 21.0), 3: "E", 4: (37.0, 37.0, 4.0)})
    return exif.tobytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_with_metadata() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 240), (10, 200, 90, 128)).save(buffer, format="PNG")
    png = buffer.getvalue()
    end = png.rindex(b"IEND") - 4
    extra = (
        _png_chunk(b"tEXt", b"Comment\x00call me at +7 916 000-00-00")
        + _png_chunk(b"eXIf", _gps_exif().removeprefix(b"Exif\x00\x00"))
        + _png_chunk(b"prVt", b"private chunk")
    )
    return png[:end] + extra + png[end:] + b"<trailing data after IEND>"


def _store(user, name: str, data: bytes, content_type: str):
    document = document_store(
        uploaded_file=SimpleUploadedFile(name, data, content_type=content_type),
        owner=user,
        kind="passport",
        field_label="Паспорт",
    )
    return document, document_read(document=document)


@pytest.mark.django_db
def test_a_jpeg_carrying_a_pdf_with_javascript_in_its_comment_is_stored_as_pixels_only(worker_user):
    payload = _pdf_with_javascript()
    hostile = _with_comment_segment(_jpeg(_photo()), payload)
    with Image.open(io.BytesIO(hostile)) as image:  # a valid JPEG that carries the PDF
        assert image.info["comment"] == payload
    document, stored = _store(worker_user, "passport.jpg", hostile, "image/jpeg")
    for marker in (b"%PDF", b"/JavaScript", b"app.alert", b"\xff\xfe"):
        assert marker not in stored, marker
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, image.size) == ("JPEG", (400, 300))
        assert "comment" not in image.info
    assert document.size == len(stored) and document.content_type == "image/jpeg"


@pytest.mark.django_db
def test_exif_with_gps_and_camera_is_dropped_and_the_photo_turned_upright(worker_user):
    # Orientation 6: the camera held sideways; a viewer rotates it 90° clockwise to show it.
    upload = _jpeg(_photo((400, 300)), exif=_gps_exif(orientation=6))
    with Image.open(io.BytesIO(upload)) as image:
        assert image.getexif().get_ifd(GPS_IFD)  # the upload does carry a position
    _, stored = _store(worker_user, "photo.jpg", upload, "image/jpeg")
    assert b"Exif" not in stored and b"PhoneMaker" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()
        assert image.size == (300, 400)  # upright, as the viewer showed it
        # The red corner, top-left before the turn, is now top-right.
        red, green, blue = image.convert("RGB").getpixel((280, 10))
        assert red > 180 and green < 90 and blue < 90


@pytest.mark.django_db
def test_a_png_keeps_its_pixels_and_transparency_and_loses_its_chunks(worker_user):
    upload = _png_with_metadata()
    _, stored = _store(worker_user, "screen.png", upload, "image/png")
    for marker in (b"tEXt", b"eXIf", b"prVt", b"+7 916", b"trailing data"):
        assert marker not in stored, marker
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (300, 240))
        assert image.getpixel((5, 5)) == (10, 200, 90, 128)


@pytest.mark.django_db
def test_a_pdf_is_stored_as_uploaded(worker_user):
    data = pdf_bytes()
    _, stored = _store(worker_user, "doc.pdf", data, "application/pdf")
    assert stored == data


def test_reencoding_gives_the_same_pixels_for_a_lossless_png():
    buffer = io.BytesIO()
    source = Image.effect_mandelbrot((320, 240), (-2, -1.5, 1, 1.5), 50).convert("RGB")
    source.save(buffer, format="PNG")
    again = documents.reencode_image(buffer.getvalue(), documents.PNG)
    with Image.open(io.BytesIO(again)) as image:
        assert image.tobytes() == source.tobytes()
