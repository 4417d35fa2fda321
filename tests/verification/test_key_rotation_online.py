"""Key rotation while the site runs: a document another transaction holds is skipped, not waited on."""

from __future__ import annotations

import io
import threading

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from PIL import Image

from tests.conftest import skip_or_fail
from verification.documents import document_read, document_store, documents_reencrypt, documents_stale_count
from verification.models import StoredDocument


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.django_db(transaction=True)
def test_rotation_skips_a_locked_document_and_finishes_it_on_the_next_run(settings):
    if connection.vendor != "postgresql":
        skip_or_fail("row locks (SELECT ... FOR UPDATE SKIP LOCKED) are PostgreSQL's; SQLite locks the whole file")
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DOCUMENT_ENCRYPTION_KEYS = [old]
    data = _png()
    docs = [
        document_store(
            uploaded_file=SimpleUploadedFile(f"{n}.png", data),
            owner=None,
            kind=StoredDocument.Kind.OTHER,
            field_label="Файл",
        )
        for n in range(3)
    ]
    settings.DOCUMENT_ENCRYPTION_KEYS = [new, old]
    held, release = threading.Event(), threading.Event()

    def hold_one_row():
        try:
            with transaction.atomic():
                StoredDocument.objects.select_for_update().get(pk=docs[0].pk)
                held.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_one_row)
    holder.start()
    try:
        assert held.wait(10)
        # Returns at once with the two free documents instead of blocking on the held one.
        assert documents_reencrypt(batch=2) == 2
        assert documents_stale_count() == 1
    finally:
        release.set()
        holder.join()
    assert documents_reencrypt(batch=2) == 1
    assert documents_stale_count() == 0
    settings.DOCUMENT_ENCRYPTION_KEYS = [new]
    for document in StoredDocument.objects.all():
        assert document_read(document=document) == data
