"""Security headers, the Content-Security-Policy, request ids on error pages and scrubbed logs."""

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import path

from core.logging import RequestIdFilter, ScrubFilter, scrub

ROOT = Path(__file__).resolve().parents[2]


def _boom(request):
    raise RuntimeError("boom for snils 112-233-445 95")


urlpatterns = [path("boom/", _boom)]
handler500 = "portal.views.server_error"


@pytest.mark.django_db
def test_pages_send_security_headers_and_a_policy_without_inline_code(client):
    response = client.get("/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
TEMPLATE_COMMENT = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}|<!--.*?-->", re.S)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=|\shx-on", re.I)


def test_templates_and_scripts_contain_no_inline_code():
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = TEMPLATE_COMMENT.sub("", template.read_text(encoding="utf-8"))
        # An e-mail's HTML part is read in a mail client, never under the site's policy, and mail
        # clients drop <style> blocks and stylesheets: inline styles are its only styling. No script.
        is_email = "emails" in template.parts
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER) if is_email else (INLINE_SCRIPT, INLINE_HANDLER, INLINE_STYLE):
            if pattern.search(text):
                offenders.append(f"{template.relative_to(ROOT)}: {pattern.pattern}")
    for script in (ROOT / "static" / "js").rglob("*.js"):
        text = script.read_text(encoding="utf-8")
        # Scripts must not write inline styles or code the policy would then block.
        if re.search(r"\.innerHTML\s*=.*<script|\beval\(|new Function\(|setAttribute\(\s*['\"]style", text):
            offenders.append(str(script.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.django_db
def test_request_id_is_generated_returned_and_shown_on_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert request_id in response.content.decode()


@pytest.mark.django_db
def test_request_id_from_the_proxy_is_kept_and_a_hostile_one_replaced(client):
    response = client.get("/", HTTP_X_REQUEST_ID="nginx-4f2a9c01d3")
    assert response["X-Request-ID"] == "nginx-4f2a9c01d3"
    response = client.get("/", HTTP_X_REQUEST_ID="abc\r\nSet-Cookie: x=1<script>")
    assert "<" not in response["X-Request-ID"] and "Set-Cookie" not in response["X-Request-ID"]


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_server_error_page_is_generic_and_carries_the_request_id():
    client = Client(raise_request_exception=False)
    records = []
    handler = logging.Handler()
    handler.addFilter(RequestIdFilter())
    handler.emit = records.append
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = client.get("/boom/", HTTP_X_REQUEST_ID="req-1234567890abcdef")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 500
    body = response.content.decode()
    assert "req-1234567890abcdef" in body
    assert "Что-то пошло не так" in body
    assert "boom" not in body and "Traceback" not in body and "112-233-445" not in body
    assert response["X-Request-ID"] == "req-1234567890abcdef"
    # The log line of the error carries the same id, so support can find it from the page.
    assert [r.request_id for r in records] == ["req-1234567890abcdef"]


# --- Scrubbing -------------------------------------------------------------------------------------

SECRETS = {
    "password=Tr0ub4dor&3-horse": "Tr0ub4dor",
    "{'password': 'correct horse battery'}": "correct horse",
    "one-time code: 482913": "482913",
    "sms_code=771204 accepted": "771204",
    "SNILS 112-233-445 95 logged in": "112-233-445",
    "snils=11223344595": "11223344595",
    "INN 500100732259 of a person": "500100732259",
    "organisation INN 7707083893": "7707083893",
    "phone +7 (912) 345-67-89": "345-67-89",
    "phone 8-912-345-67-89": "345-67-89",
    "phone +79123456789": "79123456789",
    "mail ivan.petrov@example.ru bounced": "ivan.petrov@example.ru",
    "пароль: секрет123": "секрет123",
    "Код подтверждения: 123456": "123456",
}


@pytest.mark.parametrize(("text", "secret"), list(SECRETS.items()))
def test_scrub_masks_secrets_and_personal_data(text, secret):
    assert secret not in scrub(text)
    assert "[скрыто]" in scrub(text)


def test_scrub_keeps_ordinary_text():
    text = "export job 3f2a failed after 12 s on page 4 of 2026-11-26, status_code 500"
    assert scrub(text) == text


def test_scrub_keeps_object_ids_whose_digits_look_like_personal_data():
    text = "export job 81234567-8912-4345-8678-912345678901 done for 112-233-445 95"
    assert scrub(text) == "export job 81234567-8912-4345-8678-912345678901 done for [скрыто]"


def _record(msg, *args, exc_info=None):
    return logging.LogRecord("t", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_filter_scrubs_arguments_bytes_and_tracebacks():
    record = _record("login %s with %s, upload %r", "112-233-445 95", "password=hunter22", b"%PDF-1.7 secret page")
    ScrubFilter().filter(record)
    message = record.getMessage()
    assert "112-233-445" not in message and "hunter22" not in message and "secret page" not in message
    assert "<20 байт>" in message
    try:
        raise ValueError("bad e-mail anna@example.org for INN 500100732259")
    except ValueError:
        record = _record("failed", exc_info=sys.exc_info())
    ScrubFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "ValueError" in text
    assert "anna@example.org" not in text and "500100732259" not in text


def test_configured_logging_scrubs_every_logger_in_a_real_process(tmp_path):
    # The real LOGGING setting in a fresh process: app loggers, Django's own and a traceback.
    script = (
        "import django, logging; django.setup()\n"
        "logging.getLogger('accounts.services').warning('code %s sent to %s', '482913', '+7 912 345-67-89')\n"
        "logging.getLogger('django.request').error('Bad request: /registry/?snils=11223344595')\n"
        "try:\n    raise RuntimeError('password=Secr3tPassw0rd for anna@example.org')\n"
        "except RuntimeError:\n    logging.getLogger('celery.app.trace').exception('task failed')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "MEDREG_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    output = done.stderr
    assert "task failed" in output and "RuntimeError" in output and "Bad request" in output
    for secret in ("482913", "345-67-89", "11223344595", "Secr3tPassw0rd", "anna@example.org"):
        assert secret not in output
    assert "[-]" in output  # the request id field, "-" outside a request


# --- Client address behind the proxy ------------------------------------------------------------


def _remote_addr(settings, **meta):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from core.middleware import TrustedProxyMiddleware

    seen = {}

    def view(request):
        seen["addr"] = request.META["REMOTE_ADDR"]
        return HttpResponse()

    TrustedProxyMiddleware(view)(RequestFactory().get("/", **meta))
    return seen["addr"]


def test_client_address_comes_from_a_trusted_proxy_only(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "172.16.0.0/12"]
    # Through the proxy: the client's address, not the proxy's.
    assert _remote_addr(settings, REMOTE_ADDR="172.18.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7") == "203.0.113.7"
    # A client prepending a fake address gets its own real one (the right-most untrusted).
    assert (
        _remote_addr(settings, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.4") == "198.51.100.4"
    )
    # Straight from the internet the header is ignored.
    assert _remote_addr(settings, REMOTE_ADDR="198.51.100.4", HTTP_X_FORWARDED_FOR="1.2.3.4") == "198.51.100.4"
    assert _remote_addr(settings, REMOTE_ADDR="172.18.0.1", HTTP_X_FORWARDED_FOR="not-an-ip") == "172.18.0.1"
    settings.TRUSTED_PROXIES = []
    assert _remote_addr(settings, REMOTE_ADDR="172.18.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7") == "172.18.0.1"
