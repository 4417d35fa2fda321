"""The automatic checks survive crashes: a worker killed in the middle of an identity check, Redis
restarted with checks queued, Redis down when an application is submitted. Each test runs real
`celery worker` processes against real Redis (tests.celery_harness); the identity check asks the
state registry over HTTP (HttpStateRegistryGateway) a server in this test plays. Whatever happens,
every application ends in exactly one final state, the one its data decides, and the worker hears
of the decision once: one cabinet notification, one e-mail, one SMS, one journal entry.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from accounts.models import Notification, SmsOutbox
from core import reconcile
from core.models import AuditEntry
from registry.models import Education, EducationLevel, MedicalWorker
from tests.celery_harness import Workers
from tests.factories import AdmissionDocumentFactory, UserFactory, WorkerFactory
from tests.verification.conftest import identity_files, identity_input, pdf_upload, upload
from verification import services
from verification.models import ApplicationHistory, IdentityApplication, QualificationApplication

Identity = IdentityApplication.Status
Qualification = QualificationApplication.Status
FINAL = {
    IdentityApplication: {Identity.CONFIRMED, Identity.REJECTED, Identity.MANUAL_REVIEW},
    QualificationApplication: {Qualification.CONFIRMED, Qualification.NEEDS_FIX},
}
HOLD_SECONDS = 15  # the first request waits this long at most; the test kills its worker long before


# --- The state registry, over HTTP -------------------------------------------------------------------


class StateRegistryServer:
    """The adapter in front of ФНС and СФР that HttpStateRegistryGateway calls, played by a thread of
    the test: GET /social-fund/{snils} and /tax/{inn} answer from `people` (404 when absent), every
    request is logged, and with `hold_first` the first one waits (up to HOLD_SECONDS, or until
    `release()`): once `first_arrived` is set the check is provably in the middle of its call."""

    def __init__(self):
        self.people: dict[str, dict] = {}
        self.requests: list[str] = []
        self.hold_first = False
        self.first_arrived = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with server._lock:
                    first = not server.requests
                    server.requests.append(self.path)
                if first and server.hold_first:
                    server.first_arrived.set()
                    server._released.wait(HOLD_SECONDS)
                person = server.people.get(self.path)
                body = json.dumps(person or {"detail": "not found"}).encode()
                try:
                    self.send_response(200 if person else 404)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker that asked was killed meanwhile

            def log_message(self, format, *args):
                pass

        return Handler

    def knows(self, worker: MedicalWorker, **tax_differs) -> None:
        """Both services know the worker as the registry does; ``tax_differs`` changes what ФНС says."""
        person = {
            "last_name": worker.last_name,
            "first_name": worker.first_name,
            "middle_name": worker.middle_name,
            "birth_date": worker.birth_date.isoformat(),
        }
        self.people[f"/social-fund/{worker.snils}"] = {**person, "linked_key": worker.inn}
        tax = {**person, **{k: str(v) for k, v in tax_differs.items()}, "linked_key": worker.snils}
        self.people[f"/tax/{worker.inn}"] = tax

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def state_registry():
    server = StateRegistryServer()
    try:
        yield server
    finally:
        server.close()


def _check_workers(broker: str, tmp_path, server: StateRegistryServer, **env) -> Workers:
    """Workers whose identity checks call `server`, with notifications that leave a trace: SMS in the
    SmsOutbox table, e-mail a file each in tmp_path/mail (the log masks addresses)."""
    return Workers(
        broker,
        tmp_path,
        VERIFICATION_GATEWAY="verification.gateways.HttpStateRegistryGateway",
        STATE_REGISTRY_URL=server.url,
        STATE_REGISTRY_TIMEOUT="60",
        STATE_REGISTRY_RETRIES="0",
        SMS_BACKEND="accounts.sms.DatabaseBackend",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        **env,
    )


# --- Applicants and what they were told ---------------------------------------------------------------


def _applicant(n: int, *, identity_confirmed: bool = False) -> MedicalWorker:
    """A worker with an account that gets e-mail and SMS, a diploma and an admission document."""
    user = UserFactory(email=f"applicant{n}@example.org", phone=f"+7900100{n:04d}", phone_confirmed_at=timezone.now())
    worker = WorkerFactory(user=user, snils=user.snils, last_name=user.last_name, first_name=user.first_name)
    if identity_confirmed:
        worker.identity_status = MedicalWorker.IdentityStatus.CONFIRMED
        worker.save(update_fields=["identity_status"])
    AdmissionDocumentFactory(worker=worker, number=f"0177{n:09d}")
    level, _ = EducationLevel.objects.get_or_create(code="1", defaults={"name": "Высшее"})
    Education.objects.create(
        worker=worker, level=level, institution="МГМУ", diploma_number=f"{n:07d}", issued_on=dt.date(2008, 6, 30)
    )
    return worker


def _submit_identity(worker: MedicalWorker, **overrides) -> IdentityApplication:
    return services.identity_application_submit(
        user=worker.user, data=identity_input(worker, **overrides), files=identity_files()
    )


def _submit_qualification(worker: MedicalWorker, *, diploma: str) -> QualificationApplication:
    admission = worker.admission_documents.get().number
    files = {
        "diploma_document": pdf_upload("diploma.pdf"),
        "residency_document": pdf_upload("residency.pdf"),
        "admission_document": upload("cert.png"),
        "no_sanctions_document": pdf_upload("statement.pdf"),
    }
    return services.qualification_application_submit(
        user=worker.user,
        data=services.QualificationInput(diploma_number=diploma, admission_number=admission),
        files=files,
    )


def _decided(application) -> bool:
    return type(application).objects.get(pk=application.pk).status in FINAL[type(application)]


def _told(worker: MedicalWorker, workers: Workers) -> dict[str, int]:
    """How many times the worker heard anything: cabinet notifications, SMS, e-mails."""
    user = worker.user
    return {
        "notifications": Notification.objects.filter(user=user).count(),
        "sms": SmsOutbox.objects.filter(phone=user.phone).count(),
        "emails": sum(
            path.read_text(errors="replace").count(f"\nTo: {user.email}\n")
            for path in (workers.tmp_path / "mail").glob("*")
        ),
    }


def _wait_until_settled(workers: Workers, applications: list, *, timeout: float) -> None:
    """Every application decided, each worker told (SMS and e-mail are tasks of their own), and
    nothing left in the queue or unacknowledged that could still run a second time."""
    workers.wait(lambda: all(_decided(a) for a in applications), timeout=timeout, what="every decision")
    workers.wait(
        lambda: all(min(_told(a.worker, workers).values()) >= 1 for a in applications),
        timeout=30,
        what="every notification to be delivered",
    )
    workers.wait(workers.drained, timeout=30, what="the queue to drain")


def _assert_decided_once(application, expected: str, workers: Workers) -> None:
    application.refresh_from_db()
    assert application.status == expected, (application.status, application.decision_note, application.pk)
    kind = "identity" if isinstance(application, IdentityApplication) else "qualification"
    decision = f"{kind}_{expected}"  # the notification kind and the journal action, e.g. identity_rejected
    assert _told(application.worker, workers) == {"notifications": 1, "sms": 1, "emails": 1}
    assert Notification.objects.get(user=application.worker.user).kind == decision
    assert AuditEntry.objects.filter(subject=application.worker.user, details__action=decision).count() == 1
    history = ApplicationHistory.objects.filter(kind=kind, application_id=application.pk)
    assert history.filter(to_status=expected).count() == 1


# --- A worker killed in the middle of a check ------------------------------------------------------


def _kill_mid_identity_check(tmp_path, broker, server, *, whole_worker: bool, tax_differs: dict | None = None, **env):
    """Submit one identity application, kill the worker (its pool process, or all of it) while the
    check waits for the state registry's first answer, start another worker; returns the settled
    application and the workers. ``tax_differs``: what the tax service says otherwise."""
    worker = _applicant(1)
    server.knows(worker, **(tax_differs or {}))
    server.hold_first = True
    workers = _check_workers(broker, tmp_path, server, **env)
    first = workers.start("first")
    try:
        with workers.publishing():
            application = _submit_identity(worker)  # published to the queue when the transaction commits
        workers.wait(server.first_arrived.is_set, timeout=60, what="the check to call the state registry")
        assert IdentityApplication.objects.get(pk=application.pk).status == Identity.CHECKING
        workers.kill_mid_task(first, whole_worker=whole_worker)
        server.release()
        workers.start("second")
        _wait_until_settled(workers, [application], timeout=45)
    finally:
        workers.stop()
    return application, workers


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_pool_process_killed_mid_identity_check_is_checked_again_and_decided_once(tmp_path, redis_url, state_registry):
    application, workers = _kill_mid_identity_check(tmp_path, redis_url, state_registry, whole_worker=False)
    worker = application.worker
    # The check that died asked the social fund and got no answer; the one retaken asked both once.
    assert state_registry.requests == [
        f"/social-fund/{worker.snils}",
        f"/social-fund/{worker.snils}",
        f"/tax/{worker.inn}",
    ]
    _assert_decided_once(application, Identity.CONFIRMED, workers)
    assert application.check_attempts == 2
    worker.refresh_from_db()
    assert worker.identity_status == MedicalWorker.IdentityStatus.CONFIRMED
    output = workers.output()
    assert "WorkerLostError" in output or "exited prematurely" in output


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_worker_killed_outright_mid_identity_check_is_redelivered_and_decided_once(tmp_path, redis_url, state_registry):
    # Nothing rejects the task back: Redis redelivers it after the visibility timeout (8 s here, two
    # hours in production), and the redelivered check retakes the claim the dead worker left.
    application, workers = _kill_mid_identity_check(
        tmp_path,
        redis_url,
        state_registry,
        whole_worker=True,
        tax_differs={"birth_date": dt.date(1979, 1, 2)},
        CELERY_BROKER_VISIBILITY_TIMEOUT="8",
    )
    worker = application.worker
    _assert_decided_once(application, Identity.REJECTED, workers)
    # One list of discrepancies, each field once: the check that died wrote nothing.
    assert [d["field"] for d in application.discrepancies] == ["birth_date"]
    assert state_registry.requests.count(f"/tax/{worker.inn}") == 1
    worker.refresh_from_db()
    assert worker.identity_status == MedicalWorker.IdentityStatus.REJECTED


# --- Redis restarted, or down, with checks queued ------------------------------------------------------


def _queued_applications(server: StateRegistryServer) -> list[tuple[object, str]]:
    """Applications of five workers, each with the decision its data calls for."""
    matching, mismatched, second_matching = _applicant(11), _applicant(12), _applicant(13)
    for worker in (matching, second_matching):
        server.knows(worker)
    server.knows(mismatched, last_name="Другая")
    complete, wrong_diploma = _applicant(14, identity_confirmed=True), _applicant(15, identity_confirmed=True)
    return [
        (_submit_identity(matching), Identity.CONFIRMED),
        (_submit_identity(mismatched), Identity.REJECTED),
        (_submit_identity(second_matching), Identity.CONFIRMED),
        (_submit_qualification(complete, diploma="0000014"), Qualification.CONFIRMED),
        (_submit_qualification(wrong_diploma, diploma="9999999"), Qualification.NEEDS_FIX),
    ]


def _run_queued_checks(workers: Workers, expected: list[tuple[object, str]]) -> None:
    """Start a worker on the queued checks and wait until all is settled; each application was then
    decided as its data calls for, once, by one check."""
    try:
        workers.start("worker")
        _wait_until_settled(workers, [application for application, _ in expected], timeout=45)
    finally:
        workers.stop()
    for application, decision in expected:
        _assert_decided_once(application, decision, workers)
        assert application.check_attempts == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_checks_queued_across_a_redis_restart_are_each_decided_once(tmp_path, private_redis, state_registry):
    workers = _check_workers(private_redis.url, tmp_path, state_registry)
    with workers.publishing():
        expected = _queued_applications(state_registry)  # each check task published on commit
    assert workers.drained() is False  # the five checks wait in Redis; no worker runs yet
    assert all(a.status == Identity.SUBMITTED for a, _ in expected)
    private_redis.restart()  # the append-only file brings the queue back
    _run_queued_checks(workers, expected)


def _stuck_enqueued(counts: dict[str, int]) -> tuple[int, int]:
    return counts["verification.IdentityApplication"], counts["verification.QualificationApplication"]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_checks_submitted_while_redis_is_down_are_enqueued_by_the_reconciler_and_decided_once(
    tmp_path, private_redis, state_registry, caplog
):
    confirmed, rejected = _applicant(21), _applicant(22)
    state_registry.knows(confirmed)
    state_registry.knows(rejected, birth_date=dt.date(1970, 1, 1))
    qualified = _applicant(23, identity_confirmed=True)
    workers = _check_workers(private_redis.url, tmp_path, state_registry)
    private_redis.stop()
    with workers.publishing():
        # The submission is accepted; its task cannot be published and is logged as such.
        expected = [
            (_submit_identity(confirmed), Identity.CONFIRMED),
            (_submit_identity(rejected), Identity.REJECTED),
            (_submit_qualification(qualified, diploma="0000023"), Qualification.CONFIRMED),
        ]
        for application, _ in expected:
            task = "check_identity" if isinstance(application, IdentityApplication) else "check_qualification"
            assert f"could not enqueue verification.{task}_application({application.pk})" in caplog.text
        private_redis.start()  # an empty Redis: nothing of these checks was ever queued
        assert _stuck_enqueued(reconcile.reconcile_queued()) == (0, 0)  # a fresh submission may wait
        later = timezone.now() + dt.timedelta(minutes=10)
        # Twice, as two overlapping beat runs would: the duplicate tasks find nothing to claim.
        for _ in range(2):
            assert _stuck_enqueued(reconcile.reconcile_queued(now=later)) == (2, 1)
    _run_queued_checks(workers, expected)
    assert workers.output().count("'skipped'") == 3  # the duplicates ran and changed nothing
