"""PostgreSQL-only indexes for the public search; SQLite (the embedded default) skips them.

- pg_trgm GIN on the normalized name: substring matches (any word, any order) and the
  similarity fallback that still finds a name with a small typo.
- text_pattern_ops btree: left-anchored prefix (LIKE 'иванов%') whatever the collation.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

POSTGRES_INDEXES = [
    (
        "CREATE INDEX IF NOT EXISTS worker_search_name_trgm ON registry_medicalworker "
        "USING gin (search_name gin_trgm_ops)",
        "DROP INDEX IF EXISTS worker_search_name_trgm",
    ),
    (
        "CREATE INDEX IF NOT EXISTS worker_search_name_prefix ON registry_medicalworker "
        "(search_name text_pattern_ops)",
        "DROP INDEX IF EXISTS worker_search_name_prefix",
    ),
    (
        "CREATE INDEX IF NOT EXISTS org_search_name_trgm ON registry_medicalorganization "
        "USING gin (search_name gin_trgm_ops)",
        "DROP INDEX IF EXISTS org_search_name_trgm",
    ),
]


def _run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(
            _run([create for create, _ in POSTGRES_INDEXES]),
            _run([drop for _, drop in POSTGRES_INDEXES]),
        ),
    ]
