"""docker-compose.yml, the Dockerfile and the smoke run describe one stack (deploy/smoke.py starts the
compose services from the file itself; these tests pin what the file must say)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _smoke():
    if "medreg_smoke" not in sys.modules:
        spec = importlib.util.spec_from_file_location("medreg_smoke", ROOT / "deploy" / "smoke.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["medreg_smoke"] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["medreg_smoke"]


DOTENV = {
    "SECRET_KEY": "s" * 60,
    "DOCUMENT_ENCRYPTION_KEYS": "k",
    "EXTRACT_SIGNING_KEYS": "id:k",
    "POSTGRES_PASSWORD": "pw",
    "POSTGRES_DB": "medreg_x",
}


@pytest.fixture(scope="module")
def services():
    return _smoke().compose_services(DOTENV, lambda value: value)


def test_compose_has_a_primary_a_replica_pgbouncer_and_the_app_services():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"db", "replica", "pgbouncer", "redis", "migrate", "web", "worker", "beat"} <= set(spec["services"])
    replica = spec["services"]["replica"]
    assert "replica-entrypoint.sh" in " ".join(replica["entrypoint"])
    assert "pg_basebackup" in (ROOT / "deploy" / "postgres" / "replica-entrypoint.sh").read_text()
    assert "-R" in (ROOT / "deploy" / "postgres" / "replica-entrypoint.sh").read_text()


def test_web_uses_the_transaction_pool_and_the_replica(services):
    web = services["web"].environment
    assert web["DATABASE_URL"] == "postgres://medreg:pw@pgbouncer:6432/medreg"
    assert web["DATABASE_POOL_MODE"] == "transaction"
    assert web["DATABASE_REPLICA_URLS"] == "postgres://medreg:pw@replica:5432/medreg_x"
    assert web["DJANGO_ENV"] == "production"
    assert services["web"].command[0] == "gunicorn"


@pytest.mark.parametrize("name", ["worker", "beat", "migrate"])
def test_batch_services_use_the_session_pool(services, name):
    environment = services[name].environment
    assert environment["DATABASE_URL"].endswith("@pgbouncer:6432/medreg_session")
    assert environment["DATABASE_POOL_MODE"] == "session"
    assert environment["MEDREG_VAR_DIR"] == "/data/var"  # export files: written by the worker, served by web


def test_the_images_default_command_is_the_web_service(services):
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*?\])$", dockerfile.replace("\\\n", ""), re.S | re.M).group(1)
    assert json.loads(cmd) == services["web"].command


def test_pgbouncer_runs_the_script_the_smoke_run_uses(services):
    assert services["pgbouncer"].command == ["sh", "deploy/pgbouncer/start.sh"]
    assert services["pgbouncer"].environment["PGBOUNCER_DB_NAME"] == "medreg_x"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pgbouncer" in dockerfile and "sh deploy/collectstatic.sh" in dockerfile


def test_compose_interpolation_as_compose_does_it():
    interpolate = _smoke().interpolate
    assert interpolate("${A:-x}", {}) == "x"
    assert interpolate("${A:-x}", {"A": ""}) == "x"
    assert interpolate("${A-x}", {"A": ""}) == ""
    assert interpolate("$${A}", {"A": "1"}) == "${A}"
    with pytest.raises(_smoke().SmokeFailure, match="set it"):
        interpolate("${A:?set it}", {})
