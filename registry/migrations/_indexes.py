"""Helpers for migrations (the loader skips modules whose names start with "_")."""

from collections.abc import Sequence


def swap_index(
    cursor, name: str, key: str, include: Sequence[str] = (), *, table: str = "registry_medicalworker"
) -> None:
    """Build the index `name` on `table` (`key`) INCLUDE (`include`) anew without locking writes:
    CONCURRENTLY under a temporary name, then swapped in (the migration must not be atomic)."""
    suffix = f" INCLUDE ({', '.join(include)})" if include else ""
    cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_new")
    cursor.execute(f"CREATE INDEX CONCURRENTLY {name}_new ON {table} ({key}){suffix}")
    cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    cursor.execute(f"ALTER INDEX {name}_new RENAME TO {name}")


def add_index_concurrently(apps, schema_editor, app_label: str, model_name: str, index_name: str) -> None:
    """Create an index the migration state already has, CONCURRENTLY on PostgreSQL (no write lock on a
    large table; the migration must not be atomic), plainly elsewhere. Safe to re-run after a failed
    concurrent build, which leaves an invalid index behind."""
    model = apps.get_model(app_label, model_name)
    index = next(i for i in model._meta.indexes if i.name == index_name)
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.add_index(model, index)
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index_name}")
    schema_editor.add_index(model, index, concurrently=True)


def drop_index_concurrently(schema_editor, index_name: str) -> None:
    """Drop an index if it is there, CONCURRENTLY on PostgreSQL (the migration must not be atomic)."""
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX{concurrently} IF EXISTS {schema_editor.quote_name(index_name)}")


def replace_index_concurrently(apps, schema_editor, app_label: str, model_name: str, index) -> None:
    """Rebuild the index named `index.name` with this definition (other columns or INCLUDE): on
    PostgreSQL without locking writes (swap_index), elsewhere a plain drop and create."""
    model = apps.get_model(app_label, model_name)
    if schema_editor.connection.vendor != "postgresql":
        drop_index_concurrently(schema_editor, index.name)
        schema_editor.add_index(model, index)
        return
    columns = [model._meta.get_field(name).column for name in index.fields]
    include = [model._meta.get_field(name).column for name in index.include]
    with schema_editor.connection.cursor() as cursor:
        swap_index(cursor, index.name, ", ".join(columns), include, table=model._meta.db_table)
