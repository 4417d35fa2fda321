import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from accounts import sms


def test_locmem_backend_keeps_the_message(settings):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    sms.outbox.clear()
    sms.send_sms(phone="+79160000000", text="Код: 123456")
    assert sms.outbox == [sms.SmsMessage("+79160000000", "Код: 123456")]


def test_console_backend_prints(settings, capsys):
    settings.SMS_BACKEND = "accounts.sms.ConsoleBackend"
    sms.send_sms(phone="+79160000000", text="Код: 654321")
    assert "Код: 654321" in capsys.readouterr().out


@pytest.fixture
def gateway():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Authorization"], json.loads(body)))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/send", received
    server.shutdown()


def test_http_gateway_posts_json_with_token(settings, gateway):
    url, received = gateway
    settings.SMS_BACKEND = "accounts.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL, settings.SMS_GATEWAY_TOKEN = url, "secret-token"
    sms.send_sms(phone="+79160000000", text="Код: 111111")
    assert received == [("Bearer secret-token", {"phone": "+79160000000", "text": "Код: 111111"})]


def test_http_gateway_down_raises_delivery_error(settings):
    settings.SMS_BACKEND = "accounts.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/send"  # discard port: nothing listens
    with pytest.raises(sms.SmsDeliveryError):
        sms.send_sms(phone="+79160000000", text="x")


def test_http_gateway_refuses_non_http_url(settings):
    settings.SMS_BACKEND = "accounts.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = "file:///etc/passwd"
    with pytest.raises(sms.SmsDeliveryError):
        sms.send_sms(phone="+79160000000", text="x")
