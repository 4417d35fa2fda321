"""Production smoke run: the stack of docker-compose.yml, started without Docker, walked like a user.

    python deploy/smoke.py --pair-dir DIR --redis-url redis://127.0.0.1:6379/15

DIR holds a PostgreSQL primary and its streaming replica (deploy/pgcluster.py up --dir DIR). The run:

1. creates its own database (``--database``, default medreg_smoke) and role on that primary;
2. runs collectstatic with the production storage (deploy/collectstatic.sh, as the image build);
3. starts the services of docker-compose.yml with *their* commands and environment, read from the
   file: pgbouncer (Debian's PgBouncer, deploy/pgbouncer/start.sh), migrate, web (gunicorn,
   DJANGO_ENV=production), worker and beat (Celery). Host names of the compose network become local
   ports (db, replica, pgbouncer, redis); what an operator would put in .env is made up here (random
   secrets, an SMS gateway URL, a file e-mail backend);
4. generates a register of ``--workers`` workers through the session pool (COPY);
5. walks the site as a visitor and as a worker: main pages, hashed static files, the API and FHIR;
   registration, login with the one-time code that the SMS gateway receives (a small HTTP server of
   this script, the production SmsBackend posting to it), the private pages (no-store), a support
   ticket with a screenshot (an upload) and its download, an export of more than 10,000 rows that only
   a Celery worker can build, polled to completion and downloaded; public reads shown to land on the
   replica, then the replica stopped and the public pages walked again;
6. checks every answer (status, Cache-Control, content) and the services' logs (no 500, no
   traceback), and stops every process it started, also when a check fails or it is interrupted.

Exit status 0 only when everything passed. Standard library and the project's requirements only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import http.client
import http.cookies
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = ("pgbouncer", "migrate", "web", "worker", "beat")
EXPORT_ASYNC_THRESHOLD = 10_000  # registry.exports.services.ASYNC_THRESHOLD: above it, a Celery job
HASHED_STATIC = re.compile(r"\.[0-9a-f]{12}\.(?:css|js|svg|png|woff2?)$")


class SmokeFailure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def log(message: str) -> None:
    print(f"[smoke] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, *, what: str, timeout: float) -> None:
    """Poll a condition (an event: a row, a log line, a socket), with a generous safety limit."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise SmokeFailure(f"timed out waiting for {what}")
        time.sleep(0.2)


# --- docker-compose.yml as the source of commands and environment ----------------------------------

_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$\$")


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        present = name in variables
        current = variables.get(name, "")
        if op == ":-":
            return current if current else arg
        if op == "-":
            return current if present else arg
        if op in (":?", "?") and (not current if op == ":?" else not present):
            raise SmokeFailure(f"docker-compose.yml: {name}: {arg}")
        return current

    return _INTERPOLATION.sub(replace, value)


@dataclass
class Service:
    name: str
    command: list[str]
    environment: dict[str, str]


def compose_services(dotenv: dict[str, str], rewrite) -> dict[str, Service]:
    """The services' commands and environments as Compose would give them to the containers: the
    .env values (env_file) overlaid by the interpolated `environment`; `rewrite` turns the file's
    compose host names and container paths into this machine's."""
    spec = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = {}
    for name in SERVICES:
        entry = spec["services"][name]
        environment = {k: rewrite(interpolate(str(v), dotenv)) for k, v in (entry.get("environment") or {}).items()}
        if entry.get("env_file"):
            environment = {**dotenv, **environment}
        command = entry["command"]
        command = command if isinstance(command, list) else command.split()
        services[name] = Service(
            name=name, command=[rewrite(interpolate(str(part), dotenv)) for part in command], environment=environment
        )
    return services


# --- Processes ----------------------------------------------------------------------------------------


@dataclass
class Stack:
    tmp: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    base_env: dict[str, str] = field(default_factory=dict)

    def env(self, service: Service) -> dict[str, str]:
        return {**self.base_env, **service.environment}

    def start(self, service: Service, *, as_postgres: bool = False) -> subprocess.Popen:
        log_path = self.tmp / f"{service.name}.log"
        handle = open(log_path, "ab")
        argv = service.command
        if as_postgres and os.geteuid() == 0:
            argv = [
                "runuser",
                "-u",
                "postgres",
                "--",
                "env",
                *[f"{k}={v}" for k, v in service.environment.items()],
                *argv,
            ]
        process = subprocess.Popen(  # noqa: S603 - commands from docker-compose.yml
            argv,
            cwd=ROOT,
            env=self.env(service),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        self.processes[service.name] = process
        self.logs[service.name] = log_path
        log(f"started {service.name} (pid {process.pid}): {' '.join(service.command)}")
        return process

    def run(self, service: Service, *extra: str, timeout: float = 1800) -> str:
        argv = [*service.command, *extra] if extra else service.command
        log(f"running {service.name}: {' '.join(argv)}")
        done = subprocess.run(  # noqa: S603
            argv,
            cwd=ROOT,
            env=self.env(service),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        (self.tmp / f"{service.name}-run.log").write_text(done.stdout + done.stderr, encoding="utf-8")
        check(
            done.returncode == 0,
            f"{service.name} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}",
        )
        return done.stdout

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def output(self, name: str) -> str:
        path = self.logs.get(name)
        return path.read_text(encoding="utf-8", errors="replace") if path and path.exists() else ""

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        for name, process in reversed(list(self.processes.items())):
            try:
                process.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop; killed")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


# --- A browser of sorts ---------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""


class Browser:
    """HTTP against gunicorn as the TLS proxy in front would send it (X-Forwarded-Proto: https), keeping
    cookies itself: the production cookies are Secure, which a cookie jar would not send over http."""

    def __init__(self, port: int):
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, body: bytes | None = None, content_type: str = "", headers: dict | None = None
    ) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        sent = {"Host": self.host, "X-Forwarded-Proto": "https", "User-Agent": "medreg-smoke"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            sent["Origin"] = f"https://{self.host}"
            sent["Referer"] = f"https://{self.host}{path}"
        if content_type:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        conn.request(method, path, body=body, headers=sent)
        raw = conn.getresponse()
        response = Response(raw.status, raw.headers, raw.read())
        conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str, *, status: int = 200, **kwargs) -> Response:
        response = self.request("GET", path, **kwargs)
        check(response.status == status, f"GET {path}: {response.status}, expected {status}\n{response.text[:1500]}")
        return response

    def post(self, path: str, data: dict, *, files: dict | None = None, status: int = 302) -> Response:
        data = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **data}
        if files:
            boundary = uuid.uuid4().hex
            parts = []
            for key, value in data.items():
                head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                parts.append(f"{head}{value}\r\n".encode())
            for key, (filename, content, mime) in files.items():
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                    f"Content-Type: {mime}\r\n\r\n".encode()
                    + content
                    + b"\r\n"
                )
            parts.append(f"--{boundary}--\r\n".encode())
            response = self.request(
                "POST", path, body=b"".join(parts), content_type=f"multipart/form-data; boundary={boundary}"
            )
        else:
            response = self.request(
                "POST",
                path,
                body=urllib.parse.urlencode(data).encode(),
                content_type="application/x-www-form-urlencoded",
            )
        check(response.status == status, f"POST {path}: {response.status}, expected {status}\n{response.text[:3000]}")
        return response


def location(response: Response) -> str:
    target = urllib.parse.urlsplit(response.header("Location"))
    return target.path + (f"?{target.query}" if target.query else "")


def no_store(response: Response) -> bool:
    return "no-store" in response.header("Cache-Control")


# --- The SMS gateway of the test ------------------------------------------------------------------


class SmsGateway:
    """What accounts.sms.HttpGatewayBackend posts to in production: JSON {"phone", "text"} with a bearer token."""

    def __init__(self, token: str):
        self.token = token
        self.messages: list[dict] = []
        self.refused = 0
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length)
                if self.headers.get("Authorization") != f"Bearer {gateway.token}":
                    gateway.refused += 1
                    self.send_response(401)
                else:
                    gateway.messages.append(json.loads(payload))
                    self.send_response(202)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def code_for(self, phone_digits: str, *, after: int) -> str:
        def arrived():
            return any(m["phone"].endswith(phone_digits[-10:]) for m in self.messages[after:])

        wait_for(arrived, what="the one-time code at the SMS gateway", timeout=60)
        text = [m["text"] for m in self.messages[after:] if m["phone"].endswith(phone_digits[-10:])][-1]
        return re.search(r"\b(\d{6})\b", text).group(1)

    def close(self) -> None:
        self.server.shutdown()


# --- Helpers ----------------------------------------------------------------------------------------


def snils(number: int) -> str:
    """A valid SNILS for a nine-digit number (DOMAIN.md: weights 9..1, mod 101)."""
    digits = f"{number:09d}"
    total = sum(int(d) * w for d, w in zip(digits, range(9, 0, -1), strict=True))
    control = total if total < 100 else (0 if total in (100, 101) else total % 101)
    control = 0 if control == 100 else control
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]} {control:02d}"


def png() -> bytes:
    """A 400×300 PNG, written by hand (no Pillow needed here)."""
    import struct
    import zlib

    width, height = 400, 300
    raw = b"".join(b"\x00" + bytes((30, 120, 200)) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def fernet_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def csrf_from(page: Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    check(match is not None, "no CSRF token on the form")
    return match.group(1)


# --- The run ------------------------------------------------------------------------------------------


class Smoke:
    def __init__(self, options):
        self.options = options
        self.tmp = Path(tempfile.mkdtemp(prefix="medreg-smoke-"))
        self.pair = Path(options.pair_dir).resolve()
        self.ports = json.loads((self.pair / "ports.json").read_text())
        self.database = options.database
        self.password = secrets.token_urlsafe(18)
        self.stack = Stack(self.tmp)
        self.gateway = SmsGateway(token=secrets.token_urlsafe(16))
        self.pgbouncer_port = options.pgbouncer_port or free_port()
        self.web_port = options.web_port or free_port()
        self.checks = 0

    # -- set-up --

    def superuser(self, port: int, database: str = "postgres", *, autocommit: bool = True):
        return psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=database, autocommit=autocommit)

    def create_database(self) -> None:
        with self.superuser(self.ports["primary_port"]) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'medreg'").fetchone()
            verb = "ALTER" if exists else "CREATE"
            # The image's POSTGRES_USER is a superuser too; the cluster trusts loopback, PgBouncer checks it.
            conn.execute(f"{verb} ROLE medreg WITH LOGIN SUPERUSER PASSWORD '{self.password}'")
            conn.execute(f'CREATE DATABASE "{self.database}" OWNER medreg')
        self.wait_replayed()

    def wait_replayed(self) -> None:
        with self.superuser(self.ports["primary_port"]) as primary:
            target = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        with self.superuser(self.ports["replica_port"]) as replica:
            wait_for(
                lambda: replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0],
                what="the replica to replay",
                timeout=300,
            )

    def dotenv(self) -> dict[str, str]:
        """What an operator writes into .env next to docker-compose.yml (docs/deployment.md)."""
        signing = subprocess.run(
            [sys.executable, "manage.py", "extract_signing_key", "--id", "smoke"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        ).stdout
        key = re.search(r"smoke:[A-Za-z0-9_-]+", signing).group(0)
        return {
            "SECRET_KEY": secrets.token_urlsafe(64),
            "DOCUMENT_ENCRYPTION_KEYS": fernet_key(),
            "BACKUP_ENCRYPTION_KEY": fernet_key(),
            "EXTRACT_SIGNING_KEYS": key,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_DB": self.database,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SMS_GATEWAY_URL": self.gateway.url,
            "SMS_GATEWAY_TOKEN": self.gateway.token,
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.tmp / "mail"),
            "SITE_URL": f"https://127.0.0.1:{self.web_port}",
            # The image keeps its collected static files here; this run collects into its own folder.
            "STATIC_ROOT": str(self.tmp / "static"),
            # Several runs may share one Redis: a queue of this run's own.
            "CELERY_TASK_DEFAULT_QUEUE": f"medreg-smoke-{uuid.uuid4().hex[:8]}",
            "LOG_LEVEL": "INFO",
        }

    def rewrite(self, value: str) -> str:
        """Compose network names and container paths → this machine's ports and folders."""
        replacements = {
            "@pgbouncer:6432/": f"@127.0.0.1:{self.pgbouncer_port}/",
            "@replica:5432/": f"@127.0.0.1:{self.ports['replica_port']}/",
            "redis://redis:6379/0": self.options.redis_url,
            "0.0.0.0:8000": f"127.0.0.1:{self.web_port}",
            "/data/": f"{self.tmp}/data/",
            "/tmp/": f"{self.tmp}/",  # noqa: S108 - the container path being replaced
        }
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value

    def services(self) -> dict[str, Service]:
        services = compose_services(self.dotenv(), self.rewrite)
        pgbouncer = services["pgbouncer"].environment
        # The compose network's `db` is the primary of the pair; PgBouncer listens on loopback only.
        pgbouncer.update(
            {
                "PGBOUNCER_DB_HOST": "127.0.0.1",
                "PGBOUNCER_DB_PORT": str(self.ports["primary_port"]),
                "PGBOUNCER_LISTEN_PORT": str(self.pgbouncer_port),
                "PGBOUNCER_LISTEN_ADDR": "127.0.0.1",
            }
        )
        return services

    def start_stack(self) -> Browser:
        venv_bin = str(Path(sys.executable).parent)
        self.stack.base_env = {**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"}
        for name in (
            "DATABASE_URL",
            "DATABASE_REPLICA_URLS",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "DEBUG",
            "MEDREG_VAR_DIR",
            "DJANGO_SETTINGS_MODULE",
        ):
            self.stack.base_env.pop(name, None)
        services = self.services()
        for folder in ("data/documents", "data/var", "mail", "pgbouncer"):
            (self.tmp / folder).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # PgBouncer runs as postgres (it refuses root)
            shutil.chown(self.tmp / "pgbouncer", "postgres", "postgres")
            os.chmod(self.tmp, 0o755)  # noqa: S103 - so postgres can reach its folder; nothing secret above

        log("collectstatic with the production storage (deploy/collectstatic.sh, as the image build)")
        done = subprocess.run(  # noqa: S603 - our script
            [shutil.which("sh") or "/bin/sh", "deploy/collectstatic.sh"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={**self.stack.base_env, "STATIC_ROOT": str(self.tmp / "static"), "PYTHON": sys.executable},
        )
        check(done.returncode == 0, f"collectstatic failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
        check((self.tmp / "static" / "staticfiles.json").exists(), "collectstatic wrote no manifest")

        self.stack.start(services["pgbouncer"], as_postgres=True)
        dsn = services["migrate"].environment["DATABASE_URL"]
        wait_for(lambda: self._connects(dsn), what="PgBouncer to accept logins", timeout=60)
        self.stack.run(services["migrate"])
        migrate_like = Service(
            "generate",
            [
                "python",
                "manage.py",
                "generate_registry",
                "--workers",
                str(self.options.workers),
                "--organizations",
                "300",
                "--seed",
                "16",
                "--no-progress",
            ],
            services["migrate"].environment,
        )
        self.stack.run(migrate_like)  # COPY through the session pool
        self.wait_replayed()
        for name in ("web", "worker", "beat"):
            self.stack.start(services[name])
        browser = Browser(self.web_port)
        wait_for(lambda: self._healthy(browser), what="gunicorn to answer /healthz", timeout=120)
        wait_for(lambda: "ready." in self.stack.output("worker"), what="the Celery worker", timeout=120)
        wait_for(lambda: "beat: Starting" in self.stack.output("beat"), what="Celery beat", timeout=120)
        return browser

    @staticmethod
    def _connects(dsn: str) -> bool:
        try:
            psycopg.connect(dsn, connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    @staticmethod
    def _healthy(browser: Browser) -> bool:
        try:
            return browser.request("GET", "/healthz").status == 200
        except OSError:
            return False

    # -- the walk --

    def ok(self, message: str) -> None:
        self.checks += 1
        log(f"ok: {message}")

    def walk_public(self, browser: Browser) -> dict:
        health = json.loads(browser.get("/healthz").body)
        check(health == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "cache": "ok"}}, str(health))
        self.ok("healthz: database, broker and cache ok")

        landing = browser.get("/")
        check(
            "Strict-Transport-Security" in landing.headers and "Content-Security-Policy" in landing.headers,
            "production security headers missing",
        )
        assets = sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', landing.text)))
        check(assets, "the landing page links no static file")
        for asset in assets:
            check(HASHED_STATIC.search(asset) is not None, f"static file without a hashed name: {asset}")
            served = browser.get(asset)
            check(
                "max-age=315360000" in served.header("Cache-Control") and "immutable" in served.header("Cache-Control"),
                f"{asset}: {served.header('Cache-Control')}",
            )
            check(len(served.body) > 0, f"{asset} is empty")
        self.ok(f"landing page and its {len(assets)} static files with hashed names, cached for good")
        browser.get("/static/css/site.css")  # the unhashed name is served too (whitenoise keeps both)
        browser.get("/static/no-such-file.css", status=404)

        with self.superuser(self.ports["primary_port"], self.database) as conn:
            surname, number = conn.execute(
                "SELECT last_name, registry_number FROM registry_medicalworker ORDER BY id LIMIT 1"
            ).fetchone()
        quoted = urllib.parse.quote(surname)
        search = browser.get(f"/registry/?q={quoted}")
        check(html.escape(surname) in search.text, "the search does not show the surname searched for")
        check(not no_store(search), "an anonymous search page is marked no-store")
        profile = browser.get(f"/registry/{number}/")
        check(surname in profile.text, "the profile does not show the worker")
        api = json.loads(browser.get(f"/api/v1/workers/?q={quoted}").body)
        check(any(r["last_name"] == surname for r in api["results"]), "API search misses the worker")
        browser.get(f"/api/v1/workers/{number}/")
        bundle = json.loads(browser.get(f"/fhir/Practitioner?name={quoted}").body)
        check(bundle["resourceType"] == "Bundle" and bundle.get("entry"), "FHIR search returned no Bundle entries")
        browser.get("/fhir/metadata")
        browser.get("/api/schema/")
        browser.get("/api/docs/")
        for path in ("/support/", "/accounts/login/", "/accounts/register/", "/verify/", "/accounts/recover/"):
            browser.get(path)
        missing = browser.get("/registry/0000000000/", status=404)
        check("Номер запроса" in missing.text, "the 404 page shows no request id")
        self.ok("public pages, profile, API, FHIR, schema and docs answer 200; unknown profile 404")
        return {"surname": surname, "number": number}

    def register_and_log_in(self, browser: Browser) -> dict:
        number = 900_000_000 + secrets.randbelow(9_000_000)
        person = {
            "snils": snils(number),
            "phone": f"+7916{secrets.randbelow(10**7):07d}",
            "password": "Smoke-" + secrets.token_urlsafe(12),
        }
        browser.get("/accounts/register/")
        browser.post(
            "/accounts/register/",
            {
                "snils": person["snils"],
                "last_name": "Дымова",
                "first_name": "Анна",
                "middle_name": "Сергеевна",
                "birth_date": "1985-05-17",
                "phone": person["phone"],
                "email": "smoke@example.org",
                "password1": person["password"],
                "password2": person["password"],
                "consent": "on",
                "consent_version": "",
            },
        )
        self.ok("registration through the form")

        browser.get("/accounts/login/")
        step = browser.post(
            "/accounts/login/", {"kind": "worker", "username": person["snils"], "password": person["password"]}
        )
        check(location(step) == "/accounts/login/phone/", f"after the password: {location(step)}")
        browser.get("/accounts/login/phone/")
        sent_before = len(self.gateway.messages)
        browser.post("/accounts/login/phone/", {"action": "send", "phone": person["phone"]})
        code = self.gateway.code_for(person["phone"].lstrip("+"), after=sent_before)
        check(self.gateway.refused == 0, "the SMS gateway refused a message (bad token)")
        done = browser.post("/accounts/login/phone/", {"action": "confirm", "code": code})
        check(not location(done).startswith("/accounts/login"), f"login did not complete: {location(done)}")
        check("sessionid" in browser.cookies, "no session cookie after login")
        self.ok("login: password, then the code the SMS gateway received")
        return person

    def walk_private(self, browser: Browser) -> None:
        for path in (
            "/cabinet/",
            "/accounts/journal/",
            "/accounts/security/",
            "/support/tickets/",
            "/support/chat/",
            "/registry/saved/",
            "/extracts/",
            "/cabinet/notifications/",
        ):
            page = browser.get(path)
            check(
                no_store(page) and "private" in page.header("Cache-Control"),
                f"{path}: Cache-Control {page.header('Cache-Control')!r}",
            )
        journal = browser.get("/accounts/journal/")
        entry = re.search(r'href="(/accounts/journal/\d+/)"', journal.text)
        check(entry is not None, "the journal lists no entry")
        check(no_store(browser.get(entry.group(1))), "a journal entry is not no-store")
        self.ok("private pages answer 200 with Cache-Control: private, no-store")

    def upload(self, browser: Browser, person: dict) -> None:
        browser.get("/support/tickets/new/")
        created = browser.post(
            "/support/tickets/new/",
            {
                "full_name": "Дымова Анна Сергеевна",
                "inn_or_snils": person["snils"],
                "topic": "other",
                "description": "Проверка загрузки снимка экрана.",
                "contact_email": "smoke@example.org",
            },
            files={"screenshot": ("screen.png", png(), "image/png")},
        )
        ticket_path = location(created)
        ticket = browser.get(ticket_path)
        check(no_store(ticket), "the ticket page is not no-store")
        attachment = re.search(r'href="(/support/tickets/[^"]+/attachments/\d+/)"', ticket.text)
        check(attachment is not None, "the ticket shows no attachment")
        download = browser.get(attachment.group(1))
        check(
            download.body.startswith(b"\x89PNG")
            and no_store(download)
            and "attachment" in download.header("Content-Disposition"),
            "the screenshot download is wrong",
        )
        self.ok(f"support ticket {ticket_path} with an uploaded screenshot, downloaded back (re-encoded PNG)")
        mail_dir = self.tmp / "mail"
        wait_for(lambda: any(mail_dir.iterdir()), what="the worker to send the ticket's e-mail (outbox)", timeout=120)
        self.ok("the Celery worker delivered the ticket confirmation from the outbox")

    def export(self, browser: Browser) -> None:
        check(self.options.workers > EXPORT_ASYNC_THRESHOLD, "--workers must exceed the export threshold")
        started = browser.get("/registry/export.csv", status=302)
        job_path = location(started)
        check(job_path.startswith("/registry/export/jobs/"), f"the export did not become a job: {job_path}")
        status = {}

        def finished() -> bool:
            page = browser.get(job_path)
            check(no_store(page), "the export job page is not no-store")
            match = re.search(r'data-job-status="(\w+)"', page.text)
            status["value"] = match.group(1) if match else "?"
            check(status["value"] != "failed", f"the export job failed:\n{page.text[:2000]}")
            return status["value"] == "done"

        wait_for(finished, what="the Celery worker to finish the export", timeout=600)
        download = browser.get(job_path + "download/")
        lines = download.body.decode("utf-8-sig").count("\r\n")
        check(lines == self.options.workers + 1, f"the export has {lines} lines for {self.options.workers} workers")
        check(no_store(download) and "attachment" in download.header("Content-Disposition"), "bad export download")
        self.ok(f"export job of {self.options.workers:,} rows built by the worker and downloaded")

    def replica(self, browser: Browser, public: dict) -> None:
        def replica_transactions() -> int:
            with self.superuser(self.ports["replica_port"]) as conn:
                return conn.execute(
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [self.database]
                ).fetchone()[0]

        quoted = urllib.parse.quote(public["surname"])
        fresh = Browser(self.web_port)  # no pin: this browser never wrote
        before = replica_transactions()
        for _ in range(5):
            fresh.get(f"/registry/?q={quoted}")
        # Statistics reach pg_stat_database when a backend reports them: wait for that event.
        wait_for(lambda: replica_transactions() > before, what="public reads on the replica", timeout=60)
        self.ok("public searches read from the replica")

        subprocess.run(  # noqa: S603 (our own script, fixed arguments)
            [
                sys.executable,
                str(ROOT / "deploy" / "pgcluster.py"),
                "stop",
                "--dir",
                str(self.pair),
                "--node",
                "replica",
                "--mode",
                "immediate",
            ],
            check=True,
        )
        try:
            for path in (
                f"/registry/?q={quoted}",
                f"/registry/{public['number']}/",
                f"/api/v1/workers/?q={quoted}",
                f"/fhir/Practitioner?name={quoted}",
                "/",
            ):
                for _ in range(3):  # every gunicorn worker meets the stopped replica
                    fresh.get(path)
            self.ok("replica stopped: public pages still answer 200 from the primary")
        finally:
            subprocess.run(  # noqa: S603 (our own script, fixed arguments)
                [
                    sys.executable,
                    str(ROOT / "deploy" / "pgcluster.py"),
                    "start",
                    "--dir",
                    str(self.pair),
                    "--node",
                    "replica",
                ],
                check=True,
            )

    def logs_clean(self) -> None:
        web = self.stack.output("web")
        errors = [line for line in web.splitlines() if re.search(r'" 5\d\d \d', line)]
        check(not errors, "gunicorn answered 5xx:\n" + "\n".join(errors[:20]))
        for name in ("web", "worker", "beat"):
            output = self.stack.output(name)
            check("Traceback" not in output, f"{name} logged a traceback:\n{output[-4000:]}")
            check(self.stack.alive(name), f"{name} exited:\n{output[-3000:]}")
        self.ok("no 5xx answer, no traceback in the web, worker and beat logs; all still running")

    # -- everything --

    def run(self) -> None:
        log(
            f"working directory {self.tmp}; database {self.database} on 127.0.0.1:{self.ports['primary_port']}, "
            f"replica on {self.ports['replica_port']}, PgBouncer on {self.pgbouncer_port}, web on {self.web_port}"
        )
        self.create_database()
        browser = self.start_stack()
        public = self.walk_public(browser)
        person = self.register_and_log_in(browser)
        self.walk_private(browser)
        self.upload(browser, person)
        self.export(browser)
        self.replica(browser, public)
        browser.post("/accounts/logout/", {})
        check("sessionid" not in browser.cookies or not browser.cookies.get("sessionid"), "still signed in")
        self.logs_clean()
        log(f"PASSED: {self.checks} checks")

    def cleanup(self) -> None:
        self.stack.stop()
        self.gateway.close()
        if not self.options.keep:
            with contextlib.suppress(Exception), self.superuser(self.ports["primary_port"]) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            shutil.rmtree(self.tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Production smoke run (see the module docstring).")
    parser.add_argument("--pair-dir", required=True, help="a primary + replica made by deploy/pgcluster.py up")
    parser.add_argument("--redis-url", default=os.environ.get("MEDREG_SMOKE_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--database", default="medreg_smoke")
    parser.add_argument("--pgbouncer-port", type=int, default=0)
    parser.add_argument("--web-port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=12_000, help="register size (above 10,000: exports are jobs)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the working folder")
    options = parser.parse_args(argv)
    smoke = Smoke(options)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        smoke.run()
        return 0
    except SmokeFailure as exc:
        log(f"FAILED: {exc}")
        for name in ("pgbouncer", "web", "worker", "beat"):
            output = smoke.stack.output(name)
            if output:
                print(f"\n--- {name} log (last lines) ---\n{output[-3000:]}", flush=True)
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        smoke.cleanup()


if __name__ == "__main__":
    sys.exit(main())
