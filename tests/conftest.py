"""Shared fixtures and the rule that CI never skips for lack of a service.

CI sets MEDREG_REQUIRE_SERVICES=1. Then a test that cannot find Redis, PostgreSQL or chromium
fails instead of skipping, so a green CI run means everything really ran.
"""

import os
import shutil

import pytest

REQUIRE_SERVICES = os.environ.get("MEDREG_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally; fail in CI, where every service and the browser must be present."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required in CI (MEDREG_REQUIRE_SERVICES=1): {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_documents(settings, tmp_path):
    # Uploaded documents of one test never land in var/ or another test's folder.
    settings.DOCUMENT_STORAGE_DIR = tmp_path / "documents"
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fhir_answers_are_valid(monkeypatch):
    """Every answer under /fhir/ that a test receives is validated with fhir.resources (tests/fhir_validation.py)."""
    from django.test import Client

    from tests.fhir_validation import validate_fhir_answer

    original = Client.request

    def request(self, **environ):
        response = original(self, **environ)
        validate_fhir_answer(environ.get("PATH_INFO", ""), response)
        return response

    monkeypatch.setattr(Client, "request", request)


def pytest_terminal_summary(terminalreporter):
    from tests.fhir_validation import VALIDATED

    if VALIDATED["answers"]:
        terminalreporter.write_line(
            f"fhir.resources (R4B): {VALIDATED['answers']} FHIR answers, {VALIDATED['resources']} resources "
            f"validated, {VALIDATED['errors']} errors"
        )


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters and cached stats live in the cache; one test must not inherit another's.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def on_commit_immediate(monkeypatch):
    """Run on_commit callbacks at once. Tests run inside a transaction that never commits, so
    messages a service sends after commit (SMS, e-mail, tasks) would otherwise never leave."""
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at Django's production cost makes every login in a test take ~0.3 s; tests that are
    # about hashing itself patch or restore it explicitly.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    PBKDF2PasswordHasher.iterations = 1000


# --- Services (Redis, a Redis of one test's own) --------------------------------------------------


@pytest.fixture
def redis_url():
    """The shared test Redis (MEDREG_TEST_REDIS_URL), a database of its own."""
    import redis

    url = os.environ.get("MEDREG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis not reachable at {url}: {exc}")
    return url


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test alone, with an append-only file, that the test may restart."""
    from tests.celery_harness import PrivateRedis

    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("redis-server is not installed")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = PrivateRedis(binary, directory)
    server.start()
    try:
        yield server
    finally:
        server.kill()


# --- Personas -----------------------------------------------------------------------------------


@pytest.fixture
def worker_user(db):
    """A medical worker with an account and a registry record."""
    from tests.factories import UserFactory, WorkerFactory

    user = UserFactory()
    WorkerFactory(user=user, snils=user.snils, last_name=user.last_name, first_name=user.first_name)
    return user


@pytest.fixture
def second_worker_user(db):
    from tests.factories import UserFactory, WorkerFactory

    user = UserFactory()
    WorkerFactory(user=user, snils=user.snils)
    return user


@pytest.fixture
def support_agent(db):
    from tests.factories import StaffFactory

    return StaffFactory()


@pytest.fixture
def anonymous_client(client):
    return client
