"""Consistent, encrypted backups of the database and the stored documents, and their restore.

A backup is a directory:

    manifest.json          what is inside: format, engine, time, SHA-256 and size of every file,
                           rows and a checksum of every table; signed (HMAC) with the backup key
    database.pgdump.enc    PostgreSQL: pg_dump --format=custom of one snapshot, encrypted
    database.sqlite3.enc   SQLite: a copy made with SQLite's online backup API, encrypted
    documents/<name>       each stored document blob, copied as it is: still Fernet-encrypted with
                           DOCUMENT_ENCRYPTION_KEYS (keep those keys with the backup key)

Consistency. PostgreSQL: one REPEATABLE READ transaction exports its snapshot; pg_dump runs on
that snapshot (--snapshot), and the table checksums and the list of documents are read in the same
transaction, so all three describe one moment while the site keeps writing. SQLite: the backup API
copies a consistent image; checksums and the document list are read from that copy.

Encryption. BACKUP_ENCRYPTION_KEY (or the file named by BACKUP_ENCRYPTION_KEY_FILE) is 32 random
bytes, url-safe base64 (``python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"``).
Each file gets its own key derived with HKDF from the backup key and a random salt, and is sealed
with AES-256-GCM in 1 MiB chunks (the chunk number is the nonce, the last chunk is marked), so a
dump of any size streams through in constant memory and truncation, reordering or any changed
byte is detected.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.files import File
from django.db import connection, connections

from accounts.models import User
from core.storage import document_storage
from registry.models import MedicalWorker
from verification.models import StoredDocument

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DOCUMENTS_DIR = "documents"
CHUNK = 1024 * 1024
_MAGIC = b"MEDREG-BACKUP-1\n"
_SALT_BYTES = 16
_LENGTH = struct.Struct(">I")


class BackupError(Exception):
    """A backup cannot be made, checked or restored; the message is for the operator."""


# --- Key and sealed files ---------------------------------------------------------------------------


def backup_key() -> bytes:
    """The 32-byte backup key: settings.BACKUP_ENCRYPTION_KEY, from the environment variable of that
    name or the file named by BACKUP_ENCRYPTION_KEY_FILE. Kept apart from the database it protects."""
    raw = (getattr(settings, "BACKUP_ENCRYPTION_KEY", "") or "").strip()
    if not raw:
        raise BackupError("BACKUP_ENCRYPTION_KEY (или BACKUP_ENCRYPTION_KEY_FILE) не задан.")
    try:
        key = base64.urlsafe_b64decode(raw.encode())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise BackupError("BACKUP_ENCRYPTION_KEY: нужен ключ из 32 байт в url-safe base64 (как ключ Fernet).")
    return key


def _derive(key: bytes, salt: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"medreg-backup-v1/" + purpose).derive(key)


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


def seal_stream(chunks: Iterable[bytes], target, key: bytes) -> None:
    """Write the encrypted form of the byte stream to the binary file ``target``."""
    salt = os.urandom(_SALT_BYTES)
    aead = AESGCM(_derive(key, salt, b"file"))
    target.write(_MAGIC + salt)
    index = 0
    pending = None
    for chunk in _rechunk(chunks):
        if pending is not None:
            _write_chunk(target, aead, index, pending, last=False)
            index += 1
        pending = chunk
    _write_chunk(target, aead, index, pending or b"", last=True)


def _rechunk(chunks: Iterable[bytes]) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= CHUNK:
            yield bytes(buffer[:CHUNK])
            del buffer[:CHUNK]
    if buffer:
        yield bytes(buffer)


def _write_chunk(target, aead: AESGCM, index: int, data: bytes, *, last: bool) -> None:
    sealed = aead.encrypt(_nonce(index), data, b"\x01" if last else b"\x00")
    target.write(_LENGTH.pack(len(sealed)) + sealed)


def open_stream(source, key: bytes) -> Iterator[bytes]:
    """The plaintext of a sealed file, chunk by chunk; raises BackupError on any tampering."""
    head = source.read(len(_MAGIC) + _SALT_BYTES)
    if len(head) != len(_MAGIC) + _SALT_BYTES or not head.startswith(_MAGIC):
        raise BackupError("файл не является зашифрованной копией Медрега")
    aead = AESGCM(_derive(key, head[len(_MAGIC) :], b"file"))
    index = 0
    while True:
        length_bytes = source.read(_LENGTH.size)
        if len(length_bytes) != _LENGTH.size:
            raise BackupError("зашифрованный файл обрезан")
        (length,) = _LENGTH.unpack(length_bytes)
        sealed = source.read(length)
        if len(sealed) != length:
            raise BackupError("зашифрованный файл обрезан")
        for last in (False, True):
            try:
                data = aead.decrypt(_nonce(index), sealed, b"\x01" if last else b"\x00")
                break
            except InvalidTag:
                continue
        else:
            raise BackupError("неверный ключ или файл изменён (проверка подлинности не пройдена)")
        yield data
        index += 1
        if last:
            if source.read(1):
                raise BackupError("лишние данные после конца зашифрованного файла")
            return


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in _file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def _sign(manifest: dict, key: bytes) -> str:
    body = json.dumps({k: v for k, v in manifest.items() if k != "signature"}, sort_keys=True).encode()
    return hmac.new(_derive(key, b"manifest", b"manifest"), body, hashlib.sha256).hexdigest()


# --- Table checksums ----------------------------------------------------------------------------------


def _hash_rows(rows: Iterable[tuple]) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    for row in rows:
        digest.update(repr(tuple(row)).encode())
        digest.update(b"\n")
        count += 1
    return count, digest.hexdigest()


def sqlite_table_checksums(path: Path) -> dict[str, dict]:
    """Rows and a checksum of every table of an SQLite file, read with the plain sqlite3 module."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        result = {}
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            rows, digest = _hash_rows(db.execute(f"SELECT * FROM {quoted} ORDER BY rowid"))  # noqa: S608
            result[table] = {"rows": rows, "sha256": digest}
        return result
    finally:
        db.close()


def postgres_table_checksums(conn) -> dict[str, dict]:
    """Rows and a checksum of every table in the current schema, on a Django PostgreSQL connection
    (inside the caller's transaction, so inside its snapshot). Rows are read with server-side
    cursors in primary-key order: constant memory at millions of rows."""
    with conn.cursor() as cursor:
        tables = sorted(conn.introspection.table_names(cursor, include_views=False))
        order = {}
        for table in tables:
            keys = conn.introspection.get_primary_key_columns(cursor, table) or []
            order[table] = keys
    result = {}
    for table in tables:
        quoted = conn.ops.quote_name(table)
        keys = order[table]
        order_by = ", ".join(conn.ops.quote_name(k) for k in keys) if keys else "1"
        with conn.chunked_cursor() as cursor:
            cursor.execute(f"SELECT * FROM {quoted} ORDER BY {order_by}")  # noqa: S608
            rows, digest = _hash_rows(_fetch_all(cursor))
        result[table] = {"rows": rows, "sha256": digest}
    return result


def _fetch_all(cursor) -> Iterator[tuple]:
    while rows := cursor.fetchmany(5000):
        yield from rows


def database_checksums() -> dict[str, dict]:
    """The checksums of the live default database (what a restore is compared against)."""
    if connection.vendor == "postgresql":
        with transaction_repeatable_read():
            return postgres_table_checksums(connection)
    connection.close()
    return sqlite_table_checksums(Path(connection.settings_dict["NAME"]))


@contextmanager
def transaction_repeatable_read():
    from django.db import transaction

    if connection.in_atomic_block:
        # Already inside a transaction: its isolation level can no longer be chosen.
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


# --- Documents storage --------------------------------------------------------------------------------


def _storage_walk(storage, directory: str = "") -> Iterator[str]:
    try:
        directories, files = storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{directory}/{name}" if directory else name
    for sub in directories:
        yield from _storage_walk(storage, f"{directory}/{sub}" if directory else sub)


def _safe_relative(name: str) -> str:
    """A storage name as a relative path inside the backup; refuses anything that could escape it."""
    path = Path(name)
    if path.is_absolute() or ".." in path.parts or not name or "\\" in name:
        raise BackupError(f"недопустимое имя документа в хранилище: {name!r}")
    return path.as_posix()


# --- Backup -------------------------------------------------------------------------------------------


def _pg_env(settings_dict: dict) -> dict[str, str]:
    env = {**os.environ}
    mapping = {"HOST": "PGHOST", "PORT": "PGPORT", "USER": "PGUSER", "PASSWORD": "PGPASSWORD", "NAME": "PGDATABASE"}
    for key, variable in mapping.items():
        if settings_dict.get(key):
            env[variable] = str(settings_dict[key])
    return env


def _run(command: list[str], *, env: dict, what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as exc:
        raise BackupError(f"{what}: программа {command[0]} не найдена (пакет postgresql-client)") from exc
    if done.returncode != 0:
        raise BackupError(f"{what} завершился с ошибкой: {done.stderr.strip()[-2000:]}")


def backup_create(*, destination: Path, log: Callable[[str], None] = lambda _: None) -> dict:
    """Write a backup into ``destination`` (a new or empty directory); return the manifest."""
    key = backup_key()
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise BackupError(f"каталог {destination} не пуст: резервная копия пишется в новый каталог")
    destination.mkdir(parents=True, exist_ok=True)
    os.chmod(destination, 0o700)
    files: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="medreg-backup-") as scratch_name:
        scratch = Path(scratch_name)
        if connection.vendor == "postgresql":
            database_file = "database.pgdump.enc"
            tables, storage_names = _postgres_snapshot(scratch / "database.pgdump", log=log)
            plain = scratch / "database.pgdump"
        elif connection.vendor == "sqlite":
            database_file = "database.sqlite3.enc"
            plain = scratch / "database.sqlite3"
            _sqlite_snapshot(plain)
            log("База SQLite скопирована (online backup API).")
            tables = sqlite_table_checksums(plain)
            storage_names = _sqlite_storage_names(plain)
        else:
            raise BackupError(f"резервное копирование не поддерживает СУБД {connection.vendor}")
        with open(destination / database_file, "wb") as target:
            seal_stream(_file_chunks(plain), target, key)
        plain.unlink()
    files[database_file] = _describe(destination / database_file)
    log(f"База данных зашифрована: {database_file}, {files[database_file]['size']} байт.")

    storage = document_storage()
    for name in storage_names:
        relative = f"{DOCUMENTS_DIR}/{_safe_relative(name)}"
        blob_path = destination / relative
        blob_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with storage.open(name, "rb") as blob, open(blob_path, "wb") as handle:
                shutil.copyfileobj(blob, handle, CHUNK)
        except FileNotFoundError:
            raise BackupError(
                f"документ {name} удалён во время копирования (например, смена ключей); повторите резервное копирование"
            ) from None
        files[relative] = _describe(blob_path)
    log(f"Документов скопировано (зашифрованными): {len(storage_names)}.")

    manifest = {
        "format": FORMAT_VERSION,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "engine": connection.vendor,
        "database_file": database_file,
        "documents": len(storage_names),
        "tables": tables,
        "files": files,
    }
    manifest["signature"] = _sign(manifest, key)
    (destination / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False))
    return manifest


def _describe(path: Path) -> dict:
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


def _postgres_snapshot(target: Path, *, log) -> tuple[dict, list[str]]:
    """pg_dump, table checksums and the document list, all from one exported snapshot."""
    from django.db import transaction

    env = _pg_env(connection.settings_dict)
    if connection.in_atomic_block:
        raise BackupError("резервное копирование нельзя запускать внутри открытой транзакции")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                "--file",
                str(target),
            ],
            env=env,
            what="pg_dump",
        )
        log("pg_dump: снимок базы записан.")
        tables = postgres_table_checksums(connection)
        with connection.cursor() as cursor:
            cursor.execute("SELECT storage_name FROM verification_storeddocument ORDER BY storage_name")
            names = [name for (name,) in cursor.fetchall()]
    return tables, names


def _sqlite_snapshot(target: Path) -> None:
    source = sqlite3.connect(str(connection.settings_dict["NAME"]))
    copy = sqlite3.connect(str(target))
    try:
        with copy:
            source.backup(copy)
    finally:
        copy.close()
        source.close()


def _sqlite_storage_names(path: Path) -> list[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [name for (name,) in db.execute("SELECT storage_name FROM verification_storeddocument ORDER BY 1")]
    finally:
        db.close()


# --- Verify -------------------------------------------------------------------------------------------


def backup_verify(*, source: Path, log: Callable[[str], None] = lambda _: None) -> dict:
    """Check a backup without restoring it: the manifest's signature, every file's checksum and size,
    no file missing or added, the database decrypts completely and is readable by its tools."""
    key = backup_key()
    source = Path(source)
    manifest_path = source / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"в каталоге {source} нет {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BackupError(f"{MANIFEST} повреждён: {exc}") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError(f"неизвестный формат копии: {manifest.get('format')!r}")
    if not hmac.compare_digest(str(manifest.get("signature", "")), _sign(manifest, key)):
        raise BackupError(f"подпись {MANIFEST} не сходится: неверный ключ или манифест изменён")
    expected = manifest["files"]
    present = {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()} - {MANIFEST}
    missing = sorted(set(expected) - present)
    extra = sorted(present - set(expected))
    if missing:
        raise BackupError(f"нет файлов: {', '.join(missing[:10])}")
    if extra:
        raise BackupError(f"лишние файлы, которых нет в манифесте: {', '.join(extra[:10])}")
    for relative, described in sorted(expected.items()):
        path = source / relative
        if path.stat().st_size != described["size"] or sha256_file(path) != described["sha256"]:
            raise BackupError(f"контрольная сумма не сходится: {relative}")
    log(f"Контрольные суммы сходятся: файлов {len(expected)}.")
    with tempfile.TemporaryDirectory(prefix="medreg-verify-") as scratch:
        plain = _decrypt_database(source, manifest, key, Path(scratch))
        if manifest["engine"] == "sqlite":
            tables = sqlite_table_checksums(plain)
            if tables != manifest["tables"]:
                raise BackupError("таблицы в копии базы не совпадают с манифестом")
            db = sqlite3.connect(f"file:{plain}?mode=ro", uri=True)
            try:
                (status,) = db.execute("PRAGMA integrity_check").fetchone()
            finally:
                db.close()
            if status != "ok":
                raise BackupError(f"копия базы SQLite повреждена: {status}")
        else:
            _run(["pg_restore", "--list", str(plain)], env=dict(os.environ), what="pg_restore --list")
    log("База данных расшифрована и читается.")
    return manifest


def _decrypt_database(source: Path, manifest: dict, key: bytes, scratch: Path) -> Path:
    plain = scratch / manifest["database_file"].removesuffix(".enc")
    with open(source / manifest["database_file"], "rb") as sealed, open(plain, "wb") as handle:
        for chunk in open_stream(sealed, key):
            handle.write(chunk)
    return plain


# --- Restore ------------------------------------------------------------------------------------------


def installation_is_empty() -> bool:
    """No accounts, workers or documents (a fresh ``migrate``, possibly with directories loaded)."""

    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
    for model in (User, MedicalWorker, StoredDocument):
        if model._meta.db_table in tables and model.objects.exists():
            return False
    return not any(True for _ in _storage_walk(document_storage()))


def backup_restore(*, source: Path, log: Callable[[str], None] = lambda _: None) -> dict:
    """Restore a verified backup into an empty installation and prove every table matches."""
    manifest = backup_verify(source=source, log=log)
    if manifest["engine"] != connection.vendor:
        raise BackupError(f"копия сделана на {manifest['engine']}, а установка работает на {connection.vendor}")
    if not installation_is_empty():
        raise BackupError(
            "установка не пуста (есть учётные записи, работники или документы): восстановление выполняется "
            "только в пустую установку"
        )
    key = backup_key()
    with tempfile.TemporaryDirectory(prefix="medreg-restore-") as scratch:
        plain = _decrypt_database(source, manifest, key, Path(scratch))
        connections.close_all()
        if manifest["engine"] == "postgresql":
            _run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--single-transaction",
                    "--no-owner",
                    "--no-privileges",
                    "--dbname",
                    connection.settings_dict["NAME"],
                    str(plain),
                ],
                env=_pg_env(connection.settings_dict),
                what="pg_restore",
            )
        else:
            backup_db = sqlite3.connect(f"file:{plain}?mode=ro", uri=True)
            target = sqlite3.connect(str(connection.settings_dict["NAME"]))
            try:
                with target:
                    backup_db.backup(target)
            finally:
                target.close()
                backup_db.close()
    log("База данных восстановлена.")

    storage = document_storage()
    prefix = f"{DOCUMENTS_DIR}/"
    count = 0
    for relative in sorted(manifest["files"]):
        if not relative.startswith(prefix):
            continue
        name = _safe_relative(relative[len(prefix) :])
        with open(source / relative, "rb") as handle:
            saved = storage.save(name, File(handle, name=name))
        if saved != name:
            raise BackupError(f"документ {name} уже есть в хранилище")
        count += 1
    log(f"Документов восстановлено: {count}.")

    actual = database_checksums()
    if actual != manifest["tables"]:
        expected = manifest["tables"]
        differing = sorted(t for t in set(actual) | set(expected) if actual.get(t) != expected.get(t))
        raise BackupError(f"после восстановления не совпадают таблицы: {', '.join(differing[:10])}")
    log(f"Все таблицы совпадают с копией: {len(actual)}.")
    return manifest
