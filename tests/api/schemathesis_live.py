"""Schemathesis against a real server, the way an outside integrator runs it (issue 17); part of `make test`.

    .venv/bin/python tests/api/schemathesis_live.py [--examples 100] [--operation-id-regex '^employments_']

A database of its own (the name of DATABASE_URL + "_contract" on PostgreSQL, a temporary SQLite file
otherwise) is migrated and filled: the directories, a small generated register, a merge and a deletion
(tombstones in the changes feed) and a partner token with every scope, bound to an organization for the
employment writes. gunicorn serves it on a free port of 127.0.0.1 (or MEDREG_CONTRACT_PORT) with DEBUG
off; schemathesis runs every phase with `--checks all` (tests/api/schemathesis.toml says what the schema
cannot), first anonymously, then with the partner token. The summaries are printed as they come;
the exit status is non-zero when either run found a failure or the server could not be started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_TIMEOUT = 120  # seconds for gunicorn to answer /healthz (a bound, not a sleep)
# What the schema cannot state about the write operations (tests/api/schemathesis.toml).
CONFIG = Path(__file__).with_name("schemathesis.toml")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _contract_database(tmp: Path) -> tuple[str, str | None]:
    """(DATABASE_URL of the run, PostgreSQL database name to drop afterwards or None)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{tmp / 'contract.sqlite3'}", None
    base, _, name = url.rpartition("/")
    name = name.split("?")[0] + "_contract"
    _postgres(base, f'DROP DATABASE IF EXISTS "{name}"')
    _postgres(base, f'CREATE DATABASE "{name}"')
    return f"{base}/{name}", name


def _postgres(base: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def _run(args: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=ROOT, check=True, **kwargs)


def seed() -> None:
    """Inside the run's database (called in a subprocess): tombstones and a partner token; prints the token."""
    import django

    django.setup()
    from api import services
    from api.models import PartnerToken
    from registry.models import Employment, MedicalWorker
    from registry.quality import duplicates as dq
    from registry.services import worker_delete

    first, second, third = MedicalWorker.objects.order_by("id")[:3]
    # One person entered twice (the merge refuses two sexes or birth dates without a second approval).
    MedicalWorker.objects.filter(pk=second.pk).update(
        sex=first.sex, birth_date=first.birth_date, inn=None, identity_status=MedicalWorker.IdentityStatus.NOT_CONFIRMED
    )
    dq.worker_merge(survivor_id=first.pk, merged_id=second.pk)
    worker_delete(worker_id=third.pk)
    # The partner run writes too: the token is bound to the organization of the first current employment
    # (the coverage phase tries the smallest ids), so transfers, rate changes and dismissals are reached.
    # (Pinning the path ids in the config would defeat the negative tests of the path parameter.)
    employment = Employment.objects.filter(ended_on__isnull=True).select_related("organization").order_by("id").first()
    organization = employment.organization
    _, raw = services.partner_token_create(
        name="schemathesis",
        scopes=["personal", "documents", PartnerToken.Scope.EMPLOYMENT_WRITE],
        rate_per_minute=0,
        organization=organization,
    )
    print(raw)


def _wait_ready(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- our own 127.0.0.1 server
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {READY_TIMEOUT} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="schemathesis --max-examples per operation")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn and schemathesis workers")
    parser.add_argument(
        "--operation-id-regex", default="", help="only the operations whose id matches, e.g. '^employments_'"
    )
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="medreg-schemathesis-") as tmp_name, contextlib.ExitStack() as stack:
        tmp = Path(tmp_name)
        database_url, pg_name = _contract_database(tmp)
        # MEDREG_CONTRACT_PORT pins the port (a machine shared by several people hands out ranges).
        port = int(os.environ.get("MEDREG_CONTRACT_PORT") or _free_port())
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "API_ANON_RATE_PER_MINUTE": "0",  # thousands of requests from one address
            "SITE_URL": f"http://127.0.0.1:{port}",
            "MEDREG_VAR_DIR": str(tmp / "var"),
            "LOG_LEVEL": "WARNING",
        }
        for name in ("REDIS_URL", "CELERY_BROKER_URL"):
            env.pop(name, None)
        server = None
        try:
            manage = [sys.executable, "manage.py"]
            _run([*manage, "migrate", "--noinput", "-v", "0"], env)
            _run([*manage, "load_directories"], env, stdout=subprocess.DEVNULL)
            _run(
                [
                    *manage,
                    "generate_registry",
                    "--workers",
                    "400",
                    "--organizations",
                    "30",
                    "--seed",
                    "17",
                    "--no-progress",
                ],
                env,
                stdout=subprocess.DEVNULL,
            )
            seeded = _run(
                [sys.executable, "-c", "from tests.api.schemathesis_live import seed; seed()"],
                env,
                capture_output=True,
                text=True,
            )
            token = seeded.stdout.strip().splitlines()[-1]
            log = stack.enter_context(open(tmp / "gunicorn.log", "w"))
            server = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "portal.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(options.workers),
                    "--timeout",
                    "60",
                    # As in production (Dockerfile): the application answers an over-long query string
                    # itself (JSON 414), gunicorn's own HTML page comes only beyond 1 MiB.
                    "--limit-request-line",
                    "0",
                ],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            _wait_ready(f"http://127.0.0.1:{port}/healthz", server)
            schema = f"http://127.0.0.1:{port}/api/schema/?format=json"
            command = [
                str(BIN / "schemathesis"),
                "--config-file",
                str(CONFIG),
                "run",
                schema,
                "--checks",
                "all",
                "--max-examples",
                str(options.examples),
                "--workers",
                str(options.workers),
                "--no-color",
            ]
            if options.operation_id_regex:
                command += ["--include-operation-id-regex", options.operation_id_regex]
            failed = False
            for label, extra in (("anonymous", []), ("partner token", ["--header", f"Authorization: Bearer {token}"])):
                print(f"\n== schemathesis --checks all --max-examples {options.examples}, {label}", flush=True)
                done = subprocess.run([*command, *extra], cwd=tmp, env=env)
                failed |= done.returncode != 0
            if failed:
                log.flush()
                print("\n== gunicorn log (errors)\n" + (tmp / "gunicorn.log").read_text()[-20000:], flush=True)
            return 1 if failed else 0
        finally:
            if server is not None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)
            if pg_name:
                base = database_url.rpartition("/")[0]
                _postgres(base, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
