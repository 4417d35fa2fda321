"""The e-mailed password-reset link is built from SITE_URL, whatever Host the request named."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory(phone="+79161234567", phone_confirmed_at=timezone.now(), email="owner@example.org")


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "testserver"])
def test_reset_link_points_at_site_url_not_at_the_requests_host(user, settings, host, on_commit_immediate):
    settings.SITE_URL = "https://registry.example.org/"
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
    response = Client().post(
        reverse("accounts:recover"), {"username": user.username, "channel": "email"}, HTTP_HOST=host
    )
    assert response.status_code == 302
    link = re.search(r"https?://\S+", mail.outbox[-1].body).group(0)
    assert link.startswith("https://registry.example.org/accounts/recover/"), link
    assert host.split(":")[0] not in link
    # The link works on the site it names.
    path = link.removeprefix("https://registry.example.org")
    assert Client().get(path, follow=True).status_code == 200
