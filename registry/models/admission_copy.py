"""Each employment row carries a copy of its worker's admission (status and end date).

The organization cabinet filters its staff list by the worker's admission (issue 20). With the
admission only on the worker, the list's count joined an organization's 20,000 posts to their
workers; with the copy on the post, the count and the page's ids are read from
employment_org_list_idx alone.

The copy is kept by the database, not by the code that writes a worker's admission: that is
written by the derived-fields refresh, the daily status advance, the set-based import SQL, the
synthetic generator's COPY and tests, and a trigger cannot be forgotten by any of them.

- A post inserted, or moved to another worker (a merge), takes its worker's admission.
- A worker whose admission changes passes it to all of its posts.

`admission_copy_install` creates the triggers when any is missing. Migration 0021 calls it and fills
the rows that exist; a post_migrate handler (registry.apps) calls it after every `migrate`, because on
SQLite a later migration that rebuilds either table drops the triggers with the old table.
"""

from __future__ import annotations

POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION registry_employment_admission_take() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        SELECT w.admission_status, w.admission_valid_until
          INTO NEW.worker_admission_status, NEW.worker_admission_valid_until
          FROM registry_medicalworker w WHERE w.id = NEW.worker_id;
        -- A worker inserted later in the same transaction (deferred foreign key): no admission yet.
        NEW.worker_admission_status := COALESCE(NEW.worker_admission_status, 'none');
        RETURN NEW;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION registry_worker_admission_pass() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE registry_employment
           SET worker_admission_status = NEW.admission_status,
               worker_admission_valid_until = NEW.admission_valid_until
         WHERE worker_id = NEW.id;
        RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS employment_admission_take ON registry_employment",
    """
    CREATE TRIGGER employment_admission_take
    BEFORE INSERT OR UPDATE OF worker_id ON registry_employment
    FOR EACH ROW EXECUTE FUNCTION registry_employment_admission_take()
    """,
    "DROP TRIGGER IF EXISTS worker_admission_pass ON registry_medicalworker",
    """
    CREATE TRIGGER worker_admission_pass
    AFTER UPDATE OF admission_status, admission_valid_until ON registry_medicalworker
    FOR EACH ROW
    WHEN (OLD.admission_status IS DISTINCT FROM NEW.admission_status
          OR OLD.admission_valid_until IS DISTINCT FROM NEW.admission_valid_until)
    EXECUTE FUNCTION registry_worker_admission_pass()
    """,
]

_SQLITE_TAKE = """
    UPDATE registry_employment
       SET worker_admission_status = COALESCE(
               (SELECT admission_status FROM registry_medicalworker WHERE id = NEW.worker_id), 'none'),
           worker_admission_valid_until =
               (SELECT admission_valid_until FROM registry_medicalworker WHERE id = NEW.worker_id)
     WHERE id = NEW.id;
"""

SQLITE = [
    f"""
    CREATE TRIGGER IF NOT EXISTS employment_admission_take
    AFTER INSERT ON registry_employment
    BEGIN {_SQLITE_TAKE} END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS employment_admission_move
    AFTER UPDATE OF worker_id ON registry_employment
    BEGIN {_SQLITE_TAKE} END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS worker_admission_pass
    AFTER UPDATE OF admission_status, admission_valid_until ON registry_medicalworker
    WHEN OLD.admission_status IS NOT NEW.admission_status
      OR OLD.admission_valid_until IS NOT NEW.admission_valid_until
    BEGIN
        UPDATE registry_employment
           SET worker_admission_status = NEW.admission_status,
               worker_admission_valid_until = NEW.admission_valid_until
         WHERE worker_id = NEW.id;
    END
    """,
]

DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS employment_admission_take ON registry_employment",
        "DROP TRIGGER IF EXISTS worker_admission_pass ON registry_medicalworker",
        "DROP FUNCTION IF EXISTS registry_employment_admission_take()",
        "DROP FUNCTION IF EXISTS registry_worker_admission_pass()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS employment_admission_take",
        "DROP TRIGGER IF EXISTS employment_admission_move",
        "DROP TRIGGER IF EXISTS worker_admission_pass",
    ],
}

# Rows filled per statement when the copy is first made (migration 0021): short transactions on a
# 3,000,000-worker register instead of one that locks every employment row.
FILL_BATCH = 50_000


TRIGGERS = {
    "postgresql": {"employment_admission_take", "worker_admission_pass"},
    "sqlite": {"employment_admission_take", "employment_admission_move", "worker_admission_pass"},
}


def admission_copy_triggers(connection) -> set[str]:
    """The names of the admission-copy triggers present on this database."""
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    query = (
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        if vendor == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    )
    with connection.cursor() as cursor:
        cursor.execute(query)
        return {name for (name,) in cursor.fetchall()} & TRIGGERS[vendor]


def admission_copy_install(connection) -> bool:
    """Create the triggers on this database unless all are there (then nothing is locked or written).
    Returns whether they were created."""
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    if admission_copy_triggers(connection) == TRIGGERS[vendor]:
        return False
    with connection.cursor() as cursor:
        for sql in POSTGRESQL if vendor == "postgresql" else SQLITE:
            cursor.execute(sql)
    return True


def admission_copy_remove(connection) -> None:
    with connection.cursor() as cursor:
        for sql in DROP["postgresql" if connection.vendor == "postgresql" else "sqlite"]:
            cursor.execute(sql)


FILL_SQL = {
    "postgresql": """
        UPDATE registry_employment e
           SET worker_admission_status = w.admission_status,
               worker_admission_valid_until = w.admission_valid_until
          FROM registry_medicalworker w
         WHERE w.id = e.worker_id AND e.id >= %s AND e.id < %s
           AND (w.admission_status, w.admission_valid_until)
               IS DISTINCT FROM (e.worker_admission_status, e.worker_admission_valid_until)
    """,
    "sqlite": """
        UPDATE registry_employment
           SET (worker_admission_status, worker_admission_valid_until) = (
                   SELECT w.admission_status, w.admission_valid_until FROM registry_medicalworker w
                    WHERE w.id = registry_employment.worker_id)
         WHERE id >= %s AND id < %s
           AND EXISTS (
               SELECT 1 FROM registry_medicalworker w
                WHERE w.id = registry_employment.worker_id
                  AND (w.admission_status IS NOT registry_employment.worker_admission_status
                       OR w.admission_valid_until IS NOT registry_employment.worker_admission_valid_until))
    """,
}


def admission_copy_fill(connection) -> int:
    """Copy the workers' admission to the posts where it differs, in batches of employment ids (each
    its own short statement). Returns the rows changed."""
    sql = FILL_SQL["postgresql" if connection.vendor == "postgresql" else "sqlite"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM registry_employment")
        low, high = cursor.fetchone()
        if low is None:
            return 0
        updated = 0
        for start in range(low, high + 1, FILL_BATCH):
            cursor.execute(sql, [start, start + FILL_BATCH])
            updated += cursor.rowcount
    return updated
