"""Throwaway PostgreSQL clusters for CI, the smoke run and the load benchmark: a primary and a
streaming replica made with ``pg_basebackup -R``, on ports of their own, under one directory.

    python deploy/pgcluster.py up --dir /tmp/pair [--primary-port 0] [--replica-port 0] [--fast]
    python deploy/pgcluster.py stop|start --dir /tmp/pair --node replica
    python deploy/pgcluster.py wait-replay --dir /tmp/pair
    python deploy/pgcluster.py down --dir /tmp/pair

``up`` prints the ports as JSON (``{"primary_port": ..., "replica_port": ...}``) and keeps them in
``<dir>/ports.json``; port 0 takes a free one. The clusters belong to the ``postgres`` OS user (the
commands run through ``runuser`` when called as root), trust local connections, and hold nothing but
what the caller creates in them: CI never copies the shared cluster, which may hold multi-GB benchmark
databases. ``--fast`` turns fsync off (CI data is thrown away; never for figures). Standard library only,
so .ci/run can use it before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

NODES = ("primary", "replica")


def pg_bin(name: str) -> str:
    """A server binary (initdb, pg_ctl, pg_basebackup...) of the newest installed major version."""
    explicit = os.environ.get("PG_BINDIR")
    candidates = [Path(explicit)] if explicit else sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found:
        return found
    raise SystemExit(f"pgcluster: {name} not found (set PG_BINDIR)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(_as_postgres(argv), check=True, **kwargs)  # noqa: S603 - fixed programs


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def data_dir(base: Path, node: str) -> Path:
    return base / node


def ports(base: Path) -> dict[str, int]:
    return json.loads((base / "ports.json").read_text())


def is_ready(port: int) -> bool:
    done = subprocess.run(  # noqa: S603
        [pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"], check=False
    )
    return done.returncode == 0


def wait_ready(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not is_ready(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"pgcluster: nothing answers on port {port}")
        time.sleep(0.2)


def psql(port: int, sql: str, database: str = "postgres") -> str:
    done = subprocess.run(  # noqa: S603
        [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database, "-XAtq", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def start(base: Path, node: str) -> None:
    directory = data_dir(base, node)
    port = ports(base)[f"{node}_port"]
    if is_ready(port):
        return
    log = base / f"{node}.log"
    if not log.exists():
        log.touch()
        _chown(log)
    run([pg_bin("pg_ctl"), "-D", str(directory), "-l", str(log), "-w", "-t", "120", "start"], stdout=subprocess.DEVNULL)
    wait_ready(port)


def stop(base: Path, node: str, mode: str = "fast") -> None:
    directory = data_dir(base, node)
    if (directory / "postmaster.pid").exists():
        subprocess.run(  # noqa: S603
            _as_postgres([pg_bin("pg_ctl"), "-D", str(directory), "-m", mode, "-w", "-t", "60", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def wait_replay(base: Path, timeout: float = 300) -> None:
    """Until the replica has replayed everything the primary had written when this was called: an
    event (the replica's replay position), never a fixed sleep."""
    p = ports(base)
    target = psql(p["primary_port"], "SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + timeout
    while True:
        caught_up = psql(
            p["replica_port"],
            f"SELECT coalesce(pg_last_wal_replay_lsn() >= '{target}'::pg_lsn, false)",
        )
        if caught_up == "t":
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"pgcluster: replica did not reach {target}")
        time.sleep(0.1)


def up(base: Path, *, primary_port: int, replica_port: int, fast: bool, settings: list[str]) -> dict[str, int]:
    base.mkdir(parents=True, exist_ok=True)
    _chown(base)
    if (base / "ports.json").exists() and (data_dir(base, "replica") / "PG_VERSION").exists():
        # Made earlier (a benchmark keeps its generated register): start what is not running.
        for node in NODES:
            start(base, node)
        return ports(base)
    for node in NODES:
        shutil.rmtree(data_dir(base, node), ignore_errors=True)
    chosen = {"primary_port": primary_port or free_port(), "replica_port": replica_port or free_port()}
    (base / "ports.json").write_text(json.dumps(chosen))
    primary = data_dir(base, "primary")
    run(
        [
            pg_bin("initdb"),
            "-D",
            str(primary),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ],
        stdout=subprocess.DEVNULL,
    )
    conf = [
        "listen_addresses = '127.0.0.1'",
        f"port = {chosen['primary_port']}",
        "unix_socket_directories = ''",
        "wal_level = replica",
        "max_wal_senders = 10",
        "max_connections = 200",
        "hot_standby = on",
        # The replica tells the primary which rows its queries still read: a long read there is
        # not cancelled by VACUUM on the primary.
        "hot_standby_feedback = on",
        "wal_receiver_status_interval = 1s",
        "timezone = 'UTC'",
        "log_min_messages = warning",
    ]
    if fast:
        conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
    conf += settings
    with open(primary / "postgresql.auto.conf", "a", encoding="utf-8") as handle:
        handle.write("\n".join(conf) + "\n")
    (primary / "pg_hba.conf").write_text(
        "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n", encoding="utf-8"
    )
    start(base, "primary")
    replica = data_dir(base, "replica")
    run(
        [
            pg_bin("pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(chosen["primary_port"]),
            "-U",
            "postgres",
            "-D",
            str(replica),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ]
    )
    with open(replica / "postgresql.auto.conf", "a", encoding="utf-8") as handle:
        handle.write(f"port = {chosen['replica_port']}\n")
    start(base, "replica")
    wait_replay(base)
    return chosen


def down(base: Path) -> None:
    if not base.exists():
        return
    for node in reversed(NODES):
        stop(base, node, mode="immediate")
    shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "start", "stop", "wait-replay", "ports"])
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--primary-port", type=int, default=0)
    parser.add_argument("--replica-port", type=int, default=0)
    parser.add_argument("--node", choices=NODES, default="replica")
    parser.add_argument("--mode", choices=["fast", "immediate"], default="fast")
    parser.add_argument("--fast", action="store_true", help="fsync off (CI only)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra postgresql.conf line for the primary (the replica copies it)",
    )
    options = parser.parse_args(argv)
    base = options.dir.resolve()
    if options.action == "up":
        settings = [f"{line.split('=', 1)[0].strip()} = '{line.split('=', 1)[1].strip()}'" for line in options.set]
        result = up(
            base,
            primary_port=options.primary_port,
            replica_port=options.replica_port,
            fast=options.fast,
            settings=settings,
        )
        print(json.dumps(result))
    elif options.action == "down":
        down(base)
    elif options.action == "start":
        start(base, options.node)
    elif options.action == "stop":
        stop(base, options.node, options.mode)
    elif options.action == "wait-replay":
        wait_replay(base)
    elif options.action == "ports":
        print(json.dumps(ports(base)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
