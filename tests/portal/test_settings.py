"""Production refuses to start without its secrets; the embedded default needs none."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VALID_KEY = "bWVkcmVnLWRldi1vbmx5LWtleS1ub3Qtc2VjcmV0ISE="
VALID_EXTRACT_KEY = "k1:bWVkcmVnLWV4dHJhY3Qta2V5LWZvci10ZXN0cy0xMjM"  # Ed25519: any 32 bytes
SCRIPT = (
    "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
)


def _run(**env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DOCUMENT_ENCRYPTION_KEYS", "DATABASE_URL", "EXTRACT_SIGNING_KEYS"}
    }
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
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
    done = _run(
        DJANGO_ENV="production",
        SECRET_KEY_FILE=str(secret),
        DOCUMENT_ENCRYPTION_KEYS=VALID_KEY,
        ALLOWED_HOSTS="example.org",
        EXTRACT_SIGNING_KEYS=VALID_EXTRACT_KEY,
    )
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


# --- check --deploy -------------------------------------------------------------------------------

# What docker-compose.yml gives the web container (secrets as .env would hold them).
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "u7Vf0kQm3xR9pL2sW8cZ5nH1jT6yB4eA0gD7qK3vN9wX2rM5tP8",
    "DOCUMENT_ENCRYPTION_KEYS": VALID_KEY,
    "ALLOWED_HOSTS": "medreg.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://medreg.example.org",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "EXTRACT_SIGNING_KEYS": VALID_EXTRACT_KEY,
}


def _check_deploy(tmp_path, **env):
    # DJANGO_ALLOW_ASYNC_UNSAFE is set process-wide by the browser tests' fixtures; production never has it.
    dropped = {
        "SECRET_KEY",
        "DOCUMENT_ENCRYPTION_KEYS",
        "DATABASE_URL",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "EXTRACT_SIGNING_KEYS",
    }
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", "MEDREG_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_environment(tmp_path):
    done = _check_deploy(tmp_path, **PRODUCTION_ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_is_clean_with_secret_key_from_a_file(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text(PRODUCTION_ENV["SECRET_KEY"] + "\n")
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    done = _check_deploy(tmp_path, SECRET_KEY_FILE=str(secret), **env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_deploy_fails_when_production_turns_https_off(tmp_path):
    # The test above can fail: switching off the redirect and secure cookies is reported.
    done = _check_deploy(tmp_path, SECURE_SSL_REDIRECT="false", SECURE_COOKIES="false", **PRODUCTION_ENV)
    assert done.returncode != 0
    assert "security.W008" in done.stderr
    assert "security.W012" in done.stderr
