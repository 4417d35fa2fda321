"""What may run behind a PgBouncer transaction pool (settings.DATABASE_POOL_MODE), and what may not.

In transaction pooling a client's consecutive transactions may run on different server connections.
The web's requests are fine there (short transactions, no session state; server-side cursors are off).
Batch work is not: generate_registry holds a session advisory lock for the whole run and sets
maintenance_work_mem before building indexes on parallel connections; imports keep a staging table
and index builds across statements. Under light load they even appear to work (PgBouncer keeps
handing the same idle server connection back), then fail or leak their settings into other clients'
connections under load. So they refuse to start instead, and say where to connect: directly, or to
the session pool (deploy/pgbouncer/start.sh makes both pools).
"""

from __future__ import annotations

from django.conf import settings


class SessionRequired(Exception):
    """Raised by batch work started over a transaction-pooled connection."""


def require_session(what: str) -> None:
    if settings.DATABASE_POOL_MODE == "transaction":
        raise SessionRequired(
            f"{what} needs a database session of its own: connect directly or through PgBouncer's session "
            "pool (DATABASE_URL=…/medreg_session, DATABASE_POOL_MODE=session), not the transaction pool."
        )
