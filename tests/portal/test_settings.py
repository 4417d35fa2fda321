"""Production refuses to start without its secrets; the embedded default needs none."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VALID_KEY = "bWVkcmVnLWRldi1vbmx5LWtleS1ub3Qtc2VjcmV0ISE="
VALID_EXTRACT_KEY = "k1:bWVkcmVnLWV4dHJhY3Qta2V5LWZvci10ZXN0cy0xMjM"  # Ed25519: any 32 bytes
SCRIPT = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default']['ENGINE'])"
)


def _run(**env):
    base = {k: v for k, v in os.environ.items()
            if k not in {"SECRET_KEY", "DOCUMENT_ENCRYPTION_KEYS", "DATABASE_URL", "EXTRACT_SIGNING_KEYS"}}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_production_refuses_to_start_without_secret_key():
    done = _run(DJANGO_ENV="production", DOCUMENT_ENCRYPTION_KEYS="x")
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


def test_production_refuses_to_start_without_document_keys():
    done = _run(DJANGO_ENV="production", SECRET_KEY="k" * 60)
    assert done.returncode != 0
    assert "DOCUMENT_ENCRYPTION_KEYS" in done.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s" * 64)
    done = _run(DJANGO_ENV="production", SECRET_KEY_FILE=str(secret), DOCUMENT_ENCRYPTION_KEYS=VALID_KEY,
                ALLOWED_HOSTS="example.org", EXTRACT_SIGNING_KEYS=VALID_EXTRACT_KEY)
    assert done.returncode == 0, done.stderr


def test_embedded_default_is_sqlite():
    done = _run()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "django.db.backends.sqlite3"


def test_malformed_document_key_stops_start_up():
    done = _run(DOCUMENT_ENCRYPTION_KEYS="not-a-fernet-key")
    assert done.returncode != 0
    assert "DOCUMENT_ENCRYPTION_KEYS" in done.stderr


def test_production_refuses_to_start_without_extract_signing_keys(tmp_path):
    done = _run(DJANGO_ENV="production", SECRET_KEY="k" * 60, DOCUMENT_ENCRYPTION_KEYS=VALID_KEY)
    assert done.returncode != 0
    assert "EXTRACT_SIGNING_KEYS" in done.stderr


def test_malformed_extract_key_stops_start_up():
    done = _run(EXTRACT_SIGNING_KEYS="k1:too-short")
    assert done.returncode != 0
    assert "EXTRACT_SIGNING_KEYS" in done.stderr
