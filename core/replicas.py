"""Read replicas: which database a query goes to.

Streaming replicas named in DATABASE_REPLICA_URLS become the aliases ``replica_1``, ``replica_2``...
(portal/settings.py). The rules:

- Only public reads of the register go to a replica: the models in REPLICA_MODELS (workers,
  organizations, licenses, their documents and directories), read while a *replica reading* is
  active. A public GET page, the API and FHIR activate it (ReplicaMiddleware, PUBLIC_VIEWS); a
  background export activates it for its query (``replica_reads()``). Accounts, sessions, partner
  tokens, jobs, audit entries — whatever a user or a token changes and reads back — always come
  from the primary, and so does every read inside a transaction on the primary (a service that
  locks a row and reads around it sees its own writes).
- Every write goes to the primary. A browser that sent a write (POST, PUT, PATCH, DELETE) is
  pinned to the primary for DATABASE_REPLICA_PIN_SECONDS by a cookie, so what it just changed is
  what it reads next, whatever the replica's lag.
- A replica is used only while it answers and is at most DATABASE_REPLICA_MAX_LAG seconds behind.
  Its state is read with one small query (``LAG_SQL``) at most every DATABASE_REPLICA_CHECK_SECONDS
  per process and kept in memory; one found down or behind is left alone for
  DATABASE_REPLICA_RETRY_SECONDS. Connections to replicas are direct with a short connect timeout
  and a TCP user timeout, so a replica that vanished costs at most a couple of seconds once, never
  a hang. A query that fails on a replica mid-request marks it down and the view runs again on the
  primary, so the visitor sees no error.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.signals import request_finished
from django.db import DatabaseError, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

PRIMARY = "default"
PIN_COOKIE = "medreg_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The public register: what anonymous pages, the API and FHIR read. Nothing a signed-in user
# writes and reads back is here.
REPLICA_MODELS = frozenset(
    {
        "registry.specialty",
        "registry.position",
        "registry.organizationtype",
        "registry.accreditationkind",
        "registry.qualificationcategory",
        "registry.educationlevel",
        "registry.posttype",
        "registry.region",
        "registry.medicalorganization",
        "registry.organizationlicense",
        "registry.medicalworker",
        "registry.employment",
        "registry.education",
        "registry.admissiondocument",
        "registry.categoryassignment",
        "registry.continuingeducation",
        "registry.searchword",
    }
)
# Views whose GET reads may come from a replica: URL namespaces taken whole, and single views.
PUBLIC_NAMESPACES = frozenset({"api", "fhir"})
PUBLIC_VIEWS = frozenset(
    {
        "portal:landing",
        "registry:search",
        "registry:profile",
        "registry:organization_suggest",
        "registry:export_csv",
        "registry:export_xlsx",
    }
)

# How far behind the primary the replica is, in seconds. Receiving WAL and everything received
# replayed: 0. Otherwise the age of the last transaction replayed: an over-estimate while the primary
# is idle (nothing new to replay), never an under-estimate, so a replica whose primary connection broke
# (its data frozen, no WAL receiver) is skipped once that age passes the limit. A server not in
# recovery (a promoted replica) is current by definition. Only the receiver's pid is tested: the other
# columns of pg_stat_wal_receiver are NULL for a role without pg_read_all_stats.
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
         AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL) THEN 0
    ELSE coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 1e9)
END
"""


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica_")]


# --- Health -------------------------------------------------------------------------------------


@dataclass
class Health:
    usable: bool
    checked_at: float
    lag: float | None = None
    reason: str = ""


_health: dict[str, Health] = {}
_health_lock = threading.Lock()


def _probe(alias: str) -> Health:
    """Ask the replica how far behind it is; a broken kept-alive connection gets one fresh try."""
    connection = connections[alias]
    for attempt in (1, 2):
        try:
            with connection.cursor() as cursor:
                cursor.execute(LAG_SQL)
                lag = float(cursor.fetchone()[0])
            break
        except DatabaseError as exc:
            with contextlib.suppress(Exception):
                connection.close()
            if attempt == 2:
                return Health(usable=False, checked_at=time.monotonic(), reason=type(exc).__name__)
    if lag > settings.DATABASE_REPLICA_MAX_LAG:
        return Health(usable=False, checked_at=time.monotonic(), lag=lag, reason=f"{lag:.1f} s behind")
    return Health(usable=True, checked_at=time.monotonic(), lag=lag)


def health(alias: str, *, fresh: bool = False) -> Health:
    """The replica's state, re-read when older than the check (usable) or retry (not) interval."""
    known = _health.get(alias)
    if known is not None and not fresh:
        age = time.monotonic() - known.checked_at
        interval = settings.DATABASE_REPLICA_CHECK_SECONDS if known.usable else settings.DATABASE_REPLICA_RETRY_SECONDS
        if age < interval:
            return known
    state = _probe(alias)
    with _health_lock:
        before = _health.get(alias)
        _health[alias] = state
    if before is None or before.usable != state.usable:
        if state.usable:
            logger.info("replica %s in use (lag %.1f s)", alias, state.lag or 0)
        else:
            logger.warning("replica %s skipped: %s", alias, state.reason)
    return state


def _ready(alias: str) -> bool:
    """The kept-alive connection still works, or a new one opens: checked before the first query of a
    request (Django's own once-per-request health check, done here rather than at the first query), so a
    replica that went away since its last check is skipped instead of failing that query."""
    connection = connections[alias]
    try:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except DatabaseError as exc:
        mark_down(alias, type(exc).__name__)
        return False
    return True


def mark_down(alias: str, reason: str) -> None:
    with _health_lock:
        _health[alias] = Health(usable=False, checked_at=time.monotonic(), reason=reason)
    with contextlib.suppress(Exception):
        connections[alias].close()
    logger.warning("replica %s skipped: %s", alias, reason)


def forget_health() -> None:
    """Drop what this process knows about the replicas (tests)."""
    with _health_lock:
        _health.clear()


# --- Which database ------------------------------------------------------------------------------


@dataclass
class ReplicaReads:
    """One unit of work (a request, a task) that may read the register from a replica. The replica
    is chosen once, at the first read, so the work reads one consistent copy."""

    alias: str | None = None
    chosen: bool = False
    used: set[str] = field(default_factory=set)

    def replica(self) -> str | None:
        if not self.chosen:
            self.chosen = True
            candidates = replica_aliases()
            random.shuffle(candidates)  # spread the load over several replicas
            self.alias = next((alias for alias in candidates if health(alias).usable and _ready(alias)), None)
        if self.alias is not None:
            self.used.add(self.alias)
        return self.alias

    def give_up_replica(self) -> None:
        self.alias, self.chosen = None, True


_reads: contextvars.ContextVar[ReplicaReads | None] = contextvars.ContextVar("medreg_replica_reads", default=None)


def current() -> ReplicaReads | None:
    return _reads.get()


@contextlib.contextmanager
def replica_reads():
    """Reads of the register inside this block may come from a replica (background jobs). A database
    error on the replica marks it down before the error goes on (the task's retry then reads the
    primary)."""
    reads = ReplicaReads()
    token = _reads.set(reads)
    try:
        yield reads
    except (OperationalError, InterfaceError):
        _after_replica_error(reads)
        raise
    finally:
        _reads.reset(token)


def _after_replica_error(reads: ReplicaReads) -> bool:
    """After a database error: was it the replica's? If the replica no longer answers, mark it down
    and return True (the work may be done again on the primary)."""
    if reads.alias is None:
        return False
    state = health(reads.alias, fresh=True)
    if state.usable:
        return False  # the replica answers: the error was somewhere else
    mark_down(reads.alias, state.reason or "error during a query")
    return True


class ReplicaRouter:
    """Reads of REPLICA_MODELS inside a replica reading go to a usable replica; everything else,
    and everything inside a transaction on the primary, goes to the primary. Always an explicit
    alias: Django would otherwise follow a related object's database, reading an account from the
    replica a worker came from."""

    def db_for_read(self, model, **hints):
        reads = _reads.get()
        if reads is None or model._meta.label_lower not in REPLICA_MODELS:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        return reads.replica() or PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # The same rows on every alias: a worker read from a replica may be linked to a row written
        # on the primary.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


def read_alias(model) -> str:
    """The alias a read of ``model`` goes to now: for raw SQL that the router does not see."""
    return ReplicaRouter().db_for_read(model)


# --- Requests ------------------------------------------------------------------------------------


def pinned(request) -> bool:
    value = request.COOKIES.get(PIN_COOKIE, "")
    try:
        return float(value) > time.time()
    except ValueError:
        return False


def public_view(request) -> bool:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return False
    if match.namespaces and match.namespaces[0] in PUBLIC_NAMESPACES:
        return True
    return f"{match.namespace}:{match.url_name}" in PUBLIC_VIEWS


class ReplicaMiddleware:
    """Activates replica reading for public GET views, pins a browser that wrote to the primary, and
    runs a view again on the primary when its replica failed under it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Threads serve one request after another: nothing of the previous request may remain.
        _reads.set(None)
        response = self.get_response(request)
        if request.method not in SAFE_METHODS and replica_aliases():
            pin = settings.DATABASE_REPLICA_PIN_SECONDS
            response.set_cookie(
                PIN_COOKIE,
                str(int(time.time()) + pin),
                max_age=pin,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        # Left active until the response is closed: a streamed export reads while it is sent.
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method not in ("GET", "HEAD") or not replica_aliases() or pinned(request):
            return None
        if public_view(request):
            _reads.set(ReplicaReads())
            request._replica_view = (view_func, view_args, view_kwargs)
        return None

    def process_exception(self, request, exception):
        reads = _reads.get()
        if reads is None or not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        if not _after_replica_error(reads):
            return None
        view_func, view_args, view_kwargs = request._replica_view
        reads.give_up_replica()
        logger.warning("%s: replica failed during the request; answered from the primary", request.path)
        return view_func(request, *view_args, **view_kwargs)


def _request_finished(**kwargs) -> None:
    _reads.set(None)


request_finished.connect(_request_finished, dispatch_uid="core.replicas.request_finished")
