"""Every page a signed-in user can open answers ``Cache-Control: no-store`` (core.private_pages).

The URLs come from the resolver (and the object-access table of tests/security for those that take
an id), so a private page added later is checked without anyone remembering to add it here.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.test_object_access import ACCESS, _is_admin, _patterns

# The pages the issue named: each must be among the pages the walk checks.
NAMED_IN_ISSUE = {
    "accounts:journal",
    "accounts:journal_entry",
    "support:my_tickets",
    "support:ticket_detail",
    "support:chat",
    "support:chat_messages",
    "registry:saved",
    "extracts:list",
    "registry:export_job",
    "registry:export_job_download",
    "verification:cabinet",
}


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def _get_urls(owner, settings) -> dict[str, str]:
    """A URL for every named non-admin pattern that answers GET: built with the owner's own objects."""
    urls = {}
    for route, name, params in _patterns():
        if not name or _is_admin(route, name):
            continue
        if not params:
            urls[name] = reverse(name)
        elif name in ACCESS and ACCESS[name].method == "GET":
            urls[name] = reverse(name, kwargs=ACCESS[name].make(owner, settings))
    return urls


@pytest.mark.django_db
def test_every_page_a_signed_in_worker_opens_is_not_stored(worker_user, settings, on_commit_immediate):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    client = Client()
    client.force_login(worker_user)
    urls = _get_urls(worker_user, settings)
    assert NAMED_IN_ISSUE <= set(urls), NAMED_IN_ISSUE - set(urls)
    stored = []
    for name, url in sorted(urls.items()):
        response = client.get(url)
        if response.status_code >= 500:
            pytest.fail(f"{name} {url}: {response.status_code}")
        if not _no_store(response):
            stored.append(f"{name} {url} → {response.status_code} {response.get('Cache-Control', '')!r}")
    assert stored == []


@pytest.mark.django_db
def test_named_private_pages_answer_their_owner_with_no_store(worker_user, settings, on_commit_immediate):
    client = Client()
    client.force_login(worker_user)
    urls = _get_urls(worker_user, settings)
    for name in sorted(NAMED_IN_ISSUE):
        response = client.get(urls[name])
        assert response.status_code == 200, (name, response.status_code)
        assert _no_store(response), name
        assert "private" in response["Cache-Control"], name


@pytest.mark.django_db
def test_an_anonymous_visitors_export_job_page_is_not_stored(client, monkeypatch):
    from registry.exports import services as exports
    from registry.models import ExportJob
    from tests.factories import WorkerFactory

    WorkerFactory.create_batch(3)
    monkeypatch.setattr(exports, "ASYNC_THRESHOLD", 1)
    response = client.get(reverse("registry:export_csv"))
    assert response.status_code == 302
    job = ExportJob.objects.get()
    page = client.get(reverse("registry:export_job", args=[job.pk]))
    assert page.status_code == 200 and _no_store(page)


@pytest.mark.django_db
def test_public_pages_for_an_anonymous_visitor_stay_cacheable(client):
    from tests.factories import WorkerFactory

    worker = WorkerFactory()
    for url in ("/", reverse("registry:search"), reverse("registry:profile", args=[worker.registry_number])):
        response = client.get(url)
        assert response.status_code == 200
        assert not _no_store(response), url


@pytest.mark.django_db
def test_an_api_answer_to_a_token_is_not_stored(client):
    response = client.get("/api/v1/workers/", HTTP_AUTHORIZATION="Bearer mr_not-a-real-token")
    assert _no_store(response)
    assert not _no_store(client.get("/api/v1/workers/"))
