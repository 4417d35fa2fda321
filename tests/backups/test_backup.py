"""Backup, verify and the restore drill: fill rows and documents, back up, wipe, restore, compare.

Runs on whichever database the suite runs on (SQLite by default, PostgreSQL with DATABASE_URL):
`make test` covers both in CI.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from PIL import Image
from pypdf import PdfWriter

from accounts.models import User
from backups import services as backup
from core.audit import audit_record
from core.models import AuditEntry
from registry.models import MedicalWorker
from tests.factories import AdmissionDocumentFactory, EmploymentFactory, UserFactory, WorkerFactory
from verification.documents import document_read, document_store
from verification.models import StoredDocument

BACKUP_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


@pytest.fixture(autouse=True)
def _keys(settings):
    settings.BACKUP_ENCRYPTION_KEY = BACKUP_KEY
    settings.DOCUMENT_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (260 + seed, 260), (seed * 20 % 256, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _fill() -> dict:
    """Accounts, workers with employments and admissions, journal entries and documents."""
    plaintexts = {}
    for index in range(4):
        user = UserFactory()
        worker = WorkerFactory(user=user, snils=user.snils)
        EmploymentFactory(worker=worker)
        AdmissionDocumentFactory(worker=worker)
        audit_record(event=AuditEntry.Event.LOGIN, subject=user, actor=user, request=None)
        for data, name in ((_png(index), "скан паспорта.png"), (_pdf(), "диплом.pdf")):
            document = document_store(
                uploaded_file=SimpleUploadedFile(name, data),
                owner=user,
                kind=StoredDocument.Kind.DIPLOMA,
                field_label="Документ",
            )
            plaintexts[document.pk] = data
    WorkerFactory.create_batch(20)
    return plaintexts


def _blobs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _wipe(settings) -> None:
    call_command("flush", "--noinput", verbosity=0)
    shutil.rmtree(settings.DOCUMENT_STORAGE_DIR)


@pytest.mark.django_db(transaction=True)
def test_restore_drill_brings_back_every_row_and_document(settings, tmp_path):
    plaintexts = _fill()
    tables_before = backup.database_checksums()
    blobs_before = _blobs(Path(settings.DOCUMENT_STORAGE_DIR))
    assert len(blobs_before) == len(plaintexts) == 8
    assert tables_before[MedicalWorker._meta.db_table]["rows"] == 24

    destination = tmp_path / "backup"
    out = io.StringIO()
    call_command("backup", str(destination), stdout=out)
    assert "Резервная копия записана" in out.getvalue()
    call_command("verify_backup", str(destination), stdout=io.StringIO())

    manifest = json.loads((destination / "manifest.json").read_text())
    assert manifest["engine"] == connection.vendor
    assert manifest["tables"] == tables_before
    assert manifest["documents"] == 8
    # Every file has a checksum; documents are the stored (Fernet-encrypted) blobs, byte for byte.
    for relative, described in manifest["files"].items():
        assert backup.sha256_file(destination / relative) == described["sha256"]
    for name, data in blobs_before.items():
        assert (destination / "documents" / name).read_bytes() == data
    # The database file is encrypted: no SNILS, name or SQL text readable in it.
    sealed = (destination / manifest["database_file"]).read_bytes()
    worker = MedicalWorker.objects.first()
    for needle in (worker.snils.encode(), worker.last_name.encode(), b"CREATE TABLE", b"SQLite format"):
        assert needle not in sealed

    _wipe(settings)
    assert not User.objects.exists() and not StoredDocument.objects.exists()
    assert backup.database_checksums() != tables_before

    out = io.StringIO()
    call_command("restore", str(destination), stdout=out)
    assert "контрольные суммы совпадают" in out.getvalue()

    assert backup.database_checksums() == tables_before
    assert _blobs(Path(settings.DOCUMENT_STORAGE_DIR)) == blobs_before
    for pk, data in plaintexts.items():
        assert document_read(document=StoredDocument.objects.get(pk=pk)) == data
    # The restored installation keeps working: sequences continue after the restored rows.
    UserFactory()
    WorkerFactory()


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_an_installation_that_is_not_empty(tmp_path):
    _fill()
    call_command("backup", str(tmp_path / "b"), stdout=io.StringIO())
    with pytest.raises(CommandError, match="не пуста"):
        call_command("restore", str(tmp_path / "b"), stdout=io.StringIO())


@pytest.fixture
def small_backup(transactional_db, tmp_path, settings):
    UserFactory()
    document_store(
        uploaded_file=SimpleUploadedFile("a.png", _png(1)),
        owner=None,
        kind=StoredDocument.Kind.OTHER,
        field_label="Файл",
    )
    destination = tmp_path / "b"
    backup.backup_create(destination=destination)
    return destination


def test_verify_detects_a_changed_document(small_backup):
    blob = next((small_backup / "documents").rglob("*.bin"))
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="контрольная сумма не сходится"):
        call_command("verify_backup", str(small_backup), stdout=io.StringIO())


def test_verify_detects_a_missing_or_added_file(small_backup):
    (small_backup / "stray.txt").write_text("x")
    with pytest.raises(CommandError, match="лишние файлы"):
        call_command("verify_backup", str(small_backup), stdout=io.StringIO())
    (small_backup / "stray.txt").unlink()
    next((small_backup / "documents").rglob("*.bin")).unlink()
    with pytest.raises(CommandError, match="нет файлов"):
        call_command("verify_backup", str(small_backup), stdout=io.StringIO())


def test_verify_detects_a_rewritten_manifest(small_backup):
    path = small_backup / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["documents"] = 0
    path.write_text(json.dumps(manifest))
    with pytest.raises(CommandError, match="подпись"):
        call_command("verify_backup", str(small_backup), stdout=io.StringIO())


def test_verify_with_a_wrong_key_fails(small_backup, settings):
    settings.BACKUP_ENCRYPTION_KEY = base64.urlsafe_b64encode(b"w" * 32).decode()
    with pytest.raises(CommandError, match="подпись"):
        call_command("verify_backup", str(small_backup), stdout=io.StringIO())


def test_backup_without_a_key_says_which_variable(db, tmp_path, settings):
    settings.BACKUP_ENCRYPTION_KEY = ""
    with pytest.raises(CommandError, match="BACKUP_ENCRYPTION_KEY"):
        call_command("backup", str(tmp_path / "b"), stdout=io.StringIO())
    settings.BACKUP_ENCRYPTION_KEY = "short"
    with pytest.raises(CommandError, match="32 байт"):
        call_command("backup", str(tmp_path / "c"), stdout=io.StringIO())


def test_backup_refuses_a_directory_that_is_not_empty(db, tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "old").write_text("x")
    with pytest.raises(CommandError, match="не пуст"):
        call_command("backup", str(tmp_path / "b"), stdout=io.StringIO())


def test_backup_key_can_come_from_a_file(tmp_path):
    import subprocess
    import sys

    key_file = tmp_path / "backup.key"
    key_file.write_text(BACKUP_KEY + "\n")
    env = {**os.environ, "BACKUP_ENCRYPTION_KEY_FILE": str(key_file), "MEDREG_VAR_DIR": str(tmp_path)}
    env.pop("BACKUP_ENCRYPTION_KEY", None)
    script = "import django; django.setup(); from backups.services import backup_key; print(len(backup_key()))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "32", done.stderr


# --- The sealed stream ------------------------------------------------------------------------------


def _seal(data: bytes) -> bytes:
    target = io.BytesIO()
    backup.seal_stream([data], target, b"k" * 32)
    return target.getvalue()


def _open(sealed: bytes) -> bytes:
    return b"".join(backup.open_stream(io.BytesIO(sealed), b"k" * 32))


@pytest.mark.parametrize("size", [0, 1, backup.CHUNK - 1, backup.CHUNK, backup.CHUNK * 2 + 7])
def test_sealed_stream_round_trips_any_size(size):
    data = os.urandom(size)
    assert _open(_seal(data)) == data


def test_sealed_stream_detects_truncation_at_a_chunk_boundary():
    sealed = _seal(os.urandom(backup.CHUNK * 2 + 7))
    first_chunk_end = len(backup._MAGIC) + 16 + 4 + backup.CHUNK + 16
    with pytest.raises(backup.BackupError, match="обрезан"):
        _open(sealed[:first_chunk_end])


def test_sealed_stream_detects_a_flipped_bit_and_the_wrong_key():
    sealed = bytearray(_seal(b"x" * 1000))
    sealed[-5] ^= 1
    with pytest.raises(backup.BackupError, match="проверка подлинности"):
        _open(bytes(sealed))
    with pytest.raises(backup.BackupError, match="проверка подлинности"):
        b"".join(backup.open_stream(io.BytesIO(_seal(b"x")), b"j" * 32))
