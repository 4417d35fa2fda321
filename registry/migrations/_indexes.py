"""Helpers for migrations (the loader skips modules whose names start with "_")."""

from collections.abc import Sequence


def swap_index(cursor, name: str, key: str, include: Sequence[str] = ()) -> None:
    """Build the index `name` on registry_medicalworker (`key`) INCLUDE (`include`) anew without locking
    writes: CONCURRENTLY under a temporary name, then swapped in (the migration must not be atomic)."""
    suffix = f" INCLUDE ({', '.join(include)})" if include else ""
    cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_new")
    cursor.execute(f"CREATE INDEX CONCURRENTLY {name}_new ON registry_medicalworker ({key}){suffix}")
    cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    cursor.execute(f"ALTER INDEX {name}_new RENAME TO {name}")
