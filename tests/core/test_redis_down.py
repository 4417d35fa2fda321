"""Redis stopped under a running site: requests that queue work answer, the rows wait for the
reconciler, and rate limits go on counting (in each process) until Redis is back.

A real redis-server of the test's own is started, used by the cache, the sessions, the broker and a
result backend (as CELERY_RESULT_BACKEND once defaulted to REDIS_URL), then stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core import ratelimit, reconcile
from portal.celery import app
from registry.exports import services as exports
from tests.celery_harness import publishing_to
from tests.factories import WorkerFactory
from tests.portal.test_fault_tolerance import export_queued_while_redis_is_down
from tests.verification.conftest import identity_files


@contextlib.contextmanager
def result_backend(url: str):
    saved = app.conf.result_backend
    app.conf.result_backend = url
    app._local.__dict__.pop("backend", None)  # the backend object is cached per thread
    try:
        yield app.backend
    finally:
        app.conf.result_backend = saved
        app._local.__dict__.pop("backend", None)


@pytest.fixture
def site_on(settings):
    """Cache, sessions, broker and result backend all on one Redis (the production layout)."""
    ratelimit.local_counters.clear()

    @contextlib.contextmanager
    def use(url: str):
        settings.CACHES = {
            "default": {
                "BACKEND": "core.cache.ResilientRedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "medreg-test",
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
            }
        }
        settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
        with publishing_to(url), result_backend(url) as backend:
            yield backend

    yield use
    ratelimit.local_counters.clear()


def test_tasks_ignore_their_results_and_no_result_backend_is_configured_by_default():
    # The settings module as loaded (no CELERY_RESULT_BACKEND in the environment).
    assert django_settings.CELERY_RESULT_BACKEND is None
    assert app.conf.task_ignore_result is True
    app.loader.import_default_modules()
    reading = {name for name, task in app.tasks.items() if not name.startswith("celery.") and not task.ignore_result}
    assert reading == {"core.ping"}  # the CI worker test reads its answer


@pytest.mark.services
def test_enqueuing_never_subscribes_to_the_result_backend(redis_url, site_on):
    # The ~19 s hang with Redis down was this subscription retrying before the publish.
    with site_on(redis_url) as backend:
        assert reconcile.enqueue("core.ping", "x") is True
        assert backend.result_consumer.subscribed_to == set()
        assert backend.result_consumer._pubsub is None


@pytest.mark.services
@pytest.mark.django_db
def test_requests_that_queue_work_answer_while_redis_is_stopped(
    private_redis, site_on, worker_user, on_commit_immediate, monkeypatch, caplog
):
    from tests.verification.conftest import reference_for

    WorkerFactory.create_batch(3)
    reference_for(worker_user.worker)
    monkeypatch.setattr(exports, "ASYNC_THRESHOLD", 1)  # every export becomes a background job
    with site_on(private_redis.url):
        client = Client()
        client.force_login(worker_user)
        assert client.get(reverse("registry:search") + "?q=а").status_code == 200  # Redis in use

        private_redis.stop()

        export_queued_while_redis_is_down(client, caplog)

        worker = worker_user.worker
        response = client.post(
            reverse("verification:identity"),
            {
                "snils": worker.snils,
                "inn": worker.inn,
                "last_name": worker.last_name,
                "first_name": worker.first_name,
                "middle_name": worker.middle_name,
                "birth_date": worker.birth_date.isoformat(),
                **identity_files(),
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        application = worker.identity_applications.get()
        assert application.status == application.Status.SUBMITTED
        assert "could not enqueue verification.check_identity_application" in caplog.text

    # The reconciler finds both rows still queued once they are old enough (inline mode stands in for
    # the broker that is back).
    counts = reconcile.reconcile_queued(now=timezone.now() + dt.timedelta(minutes=10))
    assert counts["registry.ExportJob"] == 1
    assert counts["verification.IdentityApplication"] == 1


@pytest.mark.services
@pytest.mark.django_db
def test_rate_limits_go_on_counting_in_the_process_while_redis_is_stopped(private_redis, site_on):
    with site_on(private_redis.url):
        # Redis up: the shared counter.
        for _ in range(3):
            assert ratelimit.hit(scope="t", ident="198.51.100.7", limit=3, period=60) is None
        assert ratelimit.hit(scope="t", ident="198.51.100.7", limit=3, period=60) is not None

        private_redis.stop()
        # Redis down: a fresh count in this process, and the limit still holds.
        for _ in range(3):
            assert ratelimit.hit(scope="u", ident="198.51.100.7", limit=3, period=60) is None
        assert ratelimit.hit(scope="u", ident="198.51.100.7", limit=3, period=60) is not None
        assert ratelimit.hit(scope="u", ident="198.51.100.8", limit=3, period=60) is None  # another address


@pytest.mark.services
@pytest.mark.django_db
def test_registration_from_one_address_is_limited_while_redis_is_stopped(private_redis, site_on):
    from accounts.views.registration import REGISTER_LIMIT

    with site_on(private_redis.url):
        private_redis.stop()
        client = Client()
        answers = [
            client.post(reverse("accounts:register"), {"snils": "1"}).content.decode()
            for _ in range(REGISTER_LIMIT["limit"] + 1)
        ]
    refused = "Слишком много регистраций с вашего адреса"
    assert [refused in answer for answer in answers] == [False] * REGISTER_LIMIT["limit"] + [True]
