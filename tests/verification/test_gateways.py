"""State registry gateways: the reference-table stand-in and the HTTP client, the latter against
a real local http.server (no mocks): answers, 404, 5xx with retries, timeouts, malformed data."""

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command

from verification.gateways import (
    GatewayUnavailable,
    HttpStateRegistryGateway,
    PersonRecord,
    ReferenceTableGateway,
    get_gateway,
)
from verification.models import StateRegistryReference

SNILS = "11223344595"
INN = "500100732259"


class Registry(BaseHTTPRequestHandler):
    """A fake adapter in front of ФНС/СФР. Behaviour per path; `hits` counts requests."""

    hits: dict = {}
    failures_before_success = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).hits[self.path] = type(self).hits.get(self.path, 0) + 1
        count = type(self).hits[self.path]
        if self.headers.get("Authorization") != "Bearer secret":
            return self._send(401, {"error": "unauthorized"})
        if self.path == f"/social-fund/{SNILS}":
            if count <= type(self).failures_before_success:
                return self._send(503, {"error": "busy"})
            return self._send(
                200,
                {
                    "last_name": "Иванова",
                    "first_name": "Мария",
                    "middle_name": "Петровна",
                    "birth_date": "1985-04-12",
                    "linked_key": INN,
                },
            )
        if self.path == f"/tax/{INN}":
            return self._send(200, {"last_name": "Иванова", "first_name": "Мария", "birth_date": "1985-04-12"})
        if self.path.startswith("/slow/"):
            time.sleep(1.0)
            return self._send(200, {})
        if self.path.startswith("/tax/bad"):
            return self._send(200, {"last_name": "X"})
        if self.path.startswith("/down/"):
            return self._send(500, {"error": "down"})
        return self._send(404, {"error": "not found"})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    Registry.hits = {}
    Registry.failures_before_success = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _client(url, **kwargs):
    options = {"token": "secret", "timeout": 0.3, "retries": 2, "backoff": 0.01}
    options.update(kwargs)
    return HttpStateRegistryGateway(base_url=url, **options)


def test_http_gateway_reads_a_person(server):
    record = _client(server).social_fund_lookup(snils=SNILS)
    assert record == PersonRecord("Иванова", "Мария", "Петровна", dt.date(1985, 4, 12), INN)
    assert _client(server).tax_lookup(inn=INN).middle_name == ""


def test_http_gateway_404_means_unknown_person(server):
    assert _client(server).tax_lookup(inn="770708389300") is None


def test_http_gateway_retries_5xx_then_succeeds(server):
    Registry.failures_before_success = 2
    assert _client(server).social_fund_lookup(snils=SNILS).last_name == "Иванова"
    assert Registry.hits[f"/social-fund/{SNILS}"] == 3


def test_http_gateway_gives_up_after_retries(server):
    with pytest.raises(GatewayUnavailable):
        _client(server + "/down", retries=2).tax_lookup(inn=INN)
    assert Registry.hits[f"/down/tax/{INN}"] == 3


def test_http_gateway_times_out(server):
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable):
        _client(server + "/slow", retries=1, timeout=0.2).tax_lookup(inn=INN)
    assert time.monotonic() - started < 0.9


def test_http_gateway_refuses_malformed_answer_and_4xx(server):
    with pytest.raises(GatewayUnavailable, match="malformed"):
        _client(server).tax_lookup(inn="bad")
    with pytest.raises(GatewayUnavailable, match="401"):
        _client(server, token="wrong").tax_lookup(inn=INN)


def test_http_gateway_unreachable_is_unavailable():
    with pytest.raises(GatewayUnavailable):
        _client("http://127.0.0.1:9", retries=1).tax_lookup(inn=INN)
    with pytest.raises(GatewayUnavailable):
        HttpStateRegistryGateway(base_url="file:///etc", token="")


@pytest.mark.django_db
def test_default_gateway_is_the_reference_table_stand_in(settings):
    assert isinstance(get_gateway(), ReferenceTableGateway)
    StateRegistryReference.objects.create(
        source="tax", key=INN, last_name="Иванова", first_name="Мария", birth_date=dt.date(1985, 4, 12)
    )
    assert get_gateway().tax_lookup(inn=INN).first_name == "Мария"
    assert get_gateway().social_fund_lookup(snils=SNILS) is None


@pytest.mark.django_db
def test_import_command_upserts_reference_rows(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text(
        "source,key,last_name,first_name,middle_name,birth_date,linked_key\n"
        f"social_fund,112-233-445 95,Иванова,Мария,Петровна,12.04.1985,{INN}\n"
        f"tax,{INN},Иванова,Мария,Петровна,1985-04-12,112-233-445 95\n",
        encoding="utf-8",
    )
    call_command("import_state_registry", str(path), verbosity=0)
    call_command("import_state_registry", str(path), verbosity=0)
    assert StateRegistryReference.objects.count() == 2
    assert StateRegistryReference.objects.get(source="tax").linked_key == SNILS


@pytest.mark.django_db
def test_import_command_reports_the_bad_line(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("source,key,last_name,first_name,birth_date\ntax,123456789037,А,Б,1985-04-12\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 2"):
        call_command("import_state_registry", str(path), verbosity=0)
    assert not StateRegistryReference.objects.exists()
