"""search_name in the "C" collation (PostgreSQL).

search_name is a normalized key (lower case, ё→е, single spaces), so byte order is its alphabetical order:
surnames first («иванов петр» before «иванова анна»), where a linguistic collation skips the spaces.
It also makes a prefix of it an index range (LIKE 'иванова нат%' becomes >= / <), which the name
search uses to split large surname branches (registry.search._surname_branches).
PostgreSQL rebuilds the column's indexes (a few minutes at 3 million workers, the table locked).
SQLite has no "C" collation and compares bytes anyway.
"""

from django.db import migrations

SQL = 'ALTER TABLE registry_medicalworker ALTER COLUMN search_name TYPE varchar(310) COLLATE "{}"'


def to_c(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        schema_editor.execute(SQL.format("C"))


def to_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL.format("default"))


class Migration(migrations.Migration):
    dependencies = [("registry", "0010_worker_unique_numbers_without_pattern_indexes")]

    operations = [migrations.RunPython(to_c, to_default, elidable=False)]
