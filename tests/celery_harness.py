"""Real `celery worker` processes and real Redis for the fault-tolerance tests (exports in
tests/portal, verification checks in tests/verification). Nothing here mocks Celery or Redis: the
workers are subprocesses on a queue of their own, and the test process publishes to the same
broker through the project's own code (``publishing_to``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from portal.celery import app

ROOT = Path(__file__).resolve().parents[1]
# The shortest time a wait gives before calling the thing hung (see Workers.wait).
SAFETY_NET = float(os.environ.get("MEDREG_TEST_SAFETY_NET", "900"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reset_connections() -> None:
    # Producers, connections and queue declarations made for an earlier broker setting are cached
    # on the app; dropping `amqp` makes the next publish read task_default_queue afresh.
    app._pool = None
    app.__dict__.pop("amqp", None)


@contextlib.contextmanager
def publishing_to(broker: str, *, queue: str | None = None):
    """Point the test process's Celery app at ``broker`` (tasks published, not run inline), so the
    services' own ``transaction.on_commit`` publishing and the reconciler reach real workers."""
    keys = ("task_always_eager", "broker_url", "task_default_queue")
    saved = {key: app.conf[key] for key in keys}
    app.conf.task_always_eager = False
    app.conf.broker_url = broker
    if queue is not None:
        app.conf.task_default_queue = queue
    reset_connections()
    try:
        yield
    finally:
        for key, value in saved.items():
            app.conf[key] = value
        reset_connections()


def database_url() -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] + (f":{params['PASSWORD']}" if params.get("PASSWORD") else "")
    return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"


class Workers:
    """Celery worker processes on a queue of their own, each logging to a file. They share the test's
    database, var/ and document storage; ``env`` adds or overrides settings (environment variables)."""

    def __init__(self, broker: str, tmp_path: Path, **env):
        self.broker = broker
        self.queue = f"medreg-test-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url(),
            "MEDREG_VAR_DIR": str(django_settings.VAR_DIR),
            "DOCUMENT_STORAGE_DIR": str(django_settings.DOCUMENT_STORAGE_DIR),
            "CELERY_BROKER_URL": broker,
            "CELERY_RESULT_BACKEND": "",
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "LOG_LEVEL": "INFO",
            "REDIS_URL": "",
            **env,
        }
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.handles: list = []

    def start(self, name: str) -> subprocess.Popen:
        log = self.tmp_path / f"{name}.log"
        handle = open(log, "wb")  # closed in stop()
        self.handles.append(handle)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--queues",
                self.queue,
                "--hostname",
                f"{name}@%h",
                "--loglevel",
                "INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        self.logs.append(log)
        return process

    def send(self, task: str, *args) -> None:
        from celery import Celery

        client = Celery(broker=self.broker)
        client.conf.broker_connection_retry_on_startup = True
        client.send_task(task, args=list(args), queue=self.queue)
        client.close()

    def publishing(self):
        """The test process publishes to these workers' broker and queue (see ``publishing_to``)."""
        return publishing_to(self.broker, queue=self.queue)

    def drained(self) -> bool:
        """Nothing waits in the queue and nothing delivered from it is unacknowledged: no task is left
        to run. (kombu keeps each delivered message in the `unacked` hash, shared by every queue of
        the database, as [message, exchange, routing key] until the ack.)"""
        if not self.queue_empty():
            return False
        client = redis.Redis.from_url(self.broker, socket_connect_timeout=2)
        try:
            return not any(json.loads(value)[2] == self.queue for value in client.hvals("unacked"))
        finally:
            client.close()

    def queue_empty(self) -> bool:
        """No message of these workers' queue waits in Redis (delivered ones may still be unacknowledged)."""
        client = redis.Redis.from_url(self.broker, socket_connect_timeout=2)
        try:
            return not any(client.llen(key) for key in client.scan_iter(match=f"{self.queue}*"))
        finally:
            client.close()

    def kill_mid_task(self, worker: subprocess.Popen, *, whole_worker: bool) -> None:
        """SIGKILL the pool process that runs the task: the main process sees it die and, with
        reject_on_worker_lost, puts the task back in the queue. With ``whole_worker`` the main process
        dies too and nothing requeues: Redis redelivers once the visibility timeout has run out, to a
        worker that restores unacknowledged messages. A worker does that when it starts polling and
        then only every ~100 s (kombu's unacked_restore_interval × unacked_restore_throttle), so this
        waits until the broker counts this queue's unacknowledged messages as lost: the next worker
        started takes the task at once."""
        children = pool_children(worker.pid)
        assert children, "the prefork worker has no pool process"
        if not whole_worker:
            os.kill(children[0], signal.SIGKILL)
            return
        visibility = int(self.env.get("CELERY_BROKER_VISIBILITY_TIMEOUT", "7200"))
        assert visibility <= 30, "start these workers with a short CELERY_BROKER_VISIBILITY_TIMEOUT"
        os.killpg(worker.pid, signal.SIGKILL)
        self.wait(
            lambda: self._unacked_restorable(visibility),
            timeout=visibility + 120,
            what="the killed worker's messages to pass the visibility timeout",
        )

    def _unacked_restorable(self, visibility: int) -> bool:
        """Every unacknowledged message of this queue is older than the visibility timeout, by the
        delivery time kombu keeps in ``unacked_index`` and the rule its restore applies
        (score < now - visibility_timeout)."""
        client = redis.Redis.from_url(self.broker, socket_connect_timeout=2)
        try:
            ours = [tag for tag, value in client.hgetall("unacked").items() if json.loads(value)[2] == self.queue]
            if not ours:
                return True
            ceiling = time.time() - visibility
            scores = [client.zscore("unacked_index", tag) for tag in ours]
            return all(score is not None and score < ceiling for score in scores)
        finally:
            client.close()

    def output(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())

    def wait(self, condition, *, timeout: float, what: str) -> None:
        """Wait for the condition (an event: a row's state, a log line). The timeout is only a safety net
        against a hang, never what decides the outcome: on a loaded machine (CI beside benchmarks) a
        worker takes far longer to start and run, so the net is at least SAFETY_NET seconds."""
        deadline = time.monotonic() + max(timeout, SAFETY_NET)
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}\n{self.output()[-4000:]}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for handle in self.handles:
            handle.close()
        self._forget_queue()

    def _forget_queue(self) -> None:
        # The shared test Redis keeps no trace of this queue (its list and kombu's binding keys).
        client = redis.Redis.from_url(self.broker, socket_connect_timeout=2)
        try:
            keys = [*client.scan_iter(match=f"{self.queue}*"), *client.scan_iter(match=f"_kombu.binding*.{self.queue}")]
            if keys:
                client.delete(*keys)
        except redis.RedisError:
            pass  # a private Redis the test stopped
        finally:
            client.close()


def pool_children(pid: int) -> list[int]:
    """The pool processes of a prefork worker (the main process is ``pid``)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


class PrivateRedis:
    """A redis-server of one test alone, with an append-only file, that the test may stop and start."""

    def __init__(self, binary: str, directory: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.command = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
        ]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        pytest.fail("private redis-server did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)  # a clean shutdown: the append-only file is flushed
        self.process.wait(timeout=30)

    def restart(self, *, pause: float = 0) -> None:
        self.stop()
        time.sleep(pause)
        self.start()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
