"""Shared fixtures and the rule that CI never skips for lack of a service.

CI sets MEDREG_REQUIRE_SERVICES=1. Then a test that cannot find Redis, PostgreSQL or chromium
fails instead of skipping, so a green CI run means everything really ran.
"""

import os

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
