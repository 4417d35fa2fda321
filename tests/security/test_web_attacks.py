"""CSRF, clickjacking, open redirects on ``next=`` and hostile uploads, swept over the URL resolver
where possible so URLs added later are covered too."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from PIL import Image

from support.models import Ticket
from tests.security.test_object_access import ACCESS, _patterns
from verification.models import StoredDocument

EVIL_TARGETS = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "https:evil.example",
    "http://testserver@evil.example/",
    " //evil.example",
]


def _plain_urls() -> list[str]:
    return ["/" + route for route, name, params in _patterns() if not params and not route.startswith("admin/")]


def _object_urls(owner, settings) -> list[str]:
    urls = []
    for name, rule in ACCESS.items():
        try:
            urls.append(reverse(name, kwargs=rule.make(owner, settings)))
        except NoReverseMatch:
            pass
    return urls


# --- CSRF ------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_every_post_without_a_csrf_token_is_refused(signed_in, worker_user, settings, on_commit_immediate):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(worker_user)
    for url in _plain_urls() + _object_urls(worker_user, settings):
        response = client.post(url, {"q": "x", "username": "x", "password": "x"})
        # The API's writes take a partner token only, never the session cookie a forged form would
        # carry: without the token they are refused (401) before anything is read or written.
        refused = (401, 403, 405) if url.startswith("/api/") else (403, 405)
        assert response.status_code in refused, f"{url}: {response.status_code}"


@pytest.mark.django_db
def test_a_post_with_the_token_from_the_form_is_accepted():
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("accounts:login"))
    token = page.cookies["csrftoken"].value
    response = client.post(reverse("accounts:login"), {"username": "x", "password": "y", "csrfmiddlewaretoken": token})
    assert response.status_code == 200  # the form answers (wrong credentials), not the CSRF guard


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_every_post_form_carries_a_csrf_token(signed_in, worker_user):
    client = Client()
    if signed_in:
        client.force_login(worker_user)
    checked = 0
    for url in _plain_urls():
        response = client.get(url)
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        html = response.content.decode()
        forms = html.lower().split("<form")[1:]
        for form in forms:
            if 'method="post"' in form.split(">")[0]:
                checked += 1
                assert "csrfmiddlewaretoken" in form.split("</form>")[0], f"{url}: a POST form without a token"
    assert checked >= 3


# --- Clickjacking ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_no_page_may_be_framed(signed_in, worker_user, settings, on_commit_immediate):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    client = Client()
    if signed_in:
        client.force_login(worker_user)
    checked = 0
    for url in _plain_urls() + _object_urls(worker_user, settings) + ["/no-such-page/"]:
        response = client.get(url)
        if response.status_code == 405:
            continue
        checked += 1
        assert response["X-Frame-Options"] == "DENY", url
        assert (
            "frame-ancestors 'none'" in response["Content-Security-Policy"]
            or "sandbox" in response["Content-Security-Policy"]
        ), url
    assert checked >= 10


# --- Open redirects --------------------------------------------------------------------------------


def _assert_not_offsite(response, where: str) -> None:
    location = response.get("Location")
    if not location:
        return
    stripped = location.strip()
    parts = urlsplit(stripped.replace("\\", "/"))
    assert parts.netloc in ("", "testserver"), f"{where} → {location}"
    assert not stripped.startswith(("//", "/\\", "\\")), f"{where} → {location}"


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_next_parameter_never_redirects_off_site(signed_in, worker_user, settings, on_commit_immediate):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    urls = [*_plain_urls(), "/admin/login/", "/admin/", reverse("accounts:logout")]
    for target in EVIL_TARGETS:
        client = Client()
        if signed_in:
            client.force_login(worker_user)
        for url in urls:
            _assert_not_offsite(client.get(url, {"next": target}), f"GET {url}?next={target}")
        for url in urls:
            _assert_not_offsite(client.post(url, {"next": target}), f"POST {url} next={target}")


@pytest.mark.django_db
@pytest.mark.parametrize("target", EVIL_TARGETS)
def test_login_does_not_remember_an_offsite_next(target, worker_user, client, settings, on_commit_immediate):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    client.post(
        reverse("accounts:login"),
        {"kind": "worker", "username": worker_user.snils, "password": "correct-horse-battery-staple", "next": target},
    )
    assert "accounts.next" not in client.session


@pytest.mark.django_db
def test_login_remembers_a_local_next(worker_user, client, settings, on_commit_immediate):
    # The check above would pass vacuously if the login never got as far as remembering anything.
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    client.post(
        reverse("accounts:login"),
        {
            "kind": "worker",
            "username": worker_user.snils,
            "password": "correct-horse-battery-staple",
            "next": "/registry/",
        },
    )
    assert client.session.get("accounts.next") == "/registry/"


def test_set_language_is_not_mounted_or_is_safe(client):
    try:
        url = reverse("set_language")
    except NoReverseMatch:
        return  # one language; nothing to switch
    _assert_not_offsite(client.post(url, {"language": "ru", "next": EVIL_TARGETS[0]}), "set_language")


# --- Hostile uploads through the real form ----------------------------------------------------------


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((320, 240), 50).convert("RGB").save(buffer, format="JPEG")
    return buffer.getvalue()


def _png_with_text_chunk(text: bytes) -> bytes:
    data = _png()
    body = b"Comment\x00" + text
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return data[:33] + chunk + data[33:]  # after the IHDR chunk


def _jpeg_with_comment(text: bytes) -> bytes:
    data = _jpeg()
    segment = b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text
    return data[:2] + segment + data[2:]


def _zip(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


TICKET_FORM = {
    "full_name": "Петрова Анна Сергеевна",
    "inn_or_snils": "112-233-445 95",
    "account_number": "",
    "topic": "other",
    "description": "Не открывается страница.",
    "contact_email": "anna@example.org",
    "contact_phone": "",
    "follows_number": "",
}
POLYGLOTS = {
    "png + appended html": (_png() + b"<html><script>alert(1)</script></html>", "shot.png"),
    "png with markup in a text chunk": (_png_with_text_chunk(b"<script>alert(document.cookie)</script>"), "shot.png"),
    "jpeg with svg in a comment": (_jpeg_with_comment(b"<svg onload=alert(1)>"), "shot.jpg"),
    "jpeg + appended zip (GIFAR-style)": (_jpeg() + _zip("index.html", b"<html><script>x</script>"), "shot.jpg"),
    "html named .png": (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "shot.png"),
    "svg named .png": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "shot.png"),
    "pdf named .png": (b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF", "shot.png"),
    "empty file": (b"", "shot.png"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("label", list(POLYGLOTS))
def test_hostile_screenshot_is_refused_with_a_field_error(label, client, settings, on_commit_immediate):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    data, name = POLYGLOTS[label]
    form = {**TICKET_FORM, "screenshot": SimpleUploadedFile(name, data, content_type="image/png")}
    response = client.post(reverse("support:ticket_new"), form)
    assert response.status_code == 200, label
    assert list(response.context["form"].errors) == ["screenshot"], label
    assert not StoredDocument.objects.exists() and not Ticket.objects.exists(), label


@pytest.mark.django_db
def test_a_clean_screenshot_is_accepted(client, settings, on_commit_immediate):
    # The refusals above are about the content: the same form with a real picture goes through.
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    form = {**TICKET_FORM, "screenshot": SimpleUploadedFile("shot.png", _png(), content_type="image/png")}
    response = client.post(reverse("support:ticket_new"), form)
    assert response.status_code == 302
    assert StoredDocument.objects.count() == 1
