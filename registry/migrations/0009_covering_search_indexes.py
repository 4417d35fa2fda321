"""Search indexes that carry the filter columns (INCLUDE), built without locking writes.

A name-search branch or a filtered page then tests every filter on the index entry (index-only scan)
instead of fetching each candidate row from the table; see registry.search. On a live register the
indexes are built CONCURRENTLY under a temporary name, then swapped in, so searches and writes go on
while it runs. PostgreSQL only: SQLite has no INCLUDE, its indexes stay as they are.
"""

from django.db import migrations, models

from registry.migrations._indexes import swap_index

FILTERS = ("primary_specialty_id", "region_id", "category_id", "admission_status", "registered_on",
           "has_confirmed_documents")

# name -> (key expression, the filter column the key already holds)
INDEXES = {
    "worker_spec_name_idx": ("primary_specialty_id, search_name, id", "primary_specialty_id"),
    "worker_region_name_idx": ("region_id, search_name, id", "region_id"),
    "worker_status_name_idx": ("admission_status, search_name, id", "admission_status"),
    "worker_cat_name_idx": ("category_id, search_name, id", "category_id"),
    **{f"worker_word{n}_idx": (f"split_part(search_name, ' ', {n}), search_name, id", None) for n in (1, 2, 3)},
}


def _swap(covering: bool):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            for name, (key, in_key) in INDEXES.items():
                swap_index(cursor, name, key, [c for c in FILTERS if c != in_key] if covering else ())

    return run


# (model field, index name) of the filter indexes the model state knows (the word indexes are SQL only).
FILTER_INDEXES = (
    ("primary_specialty", "worker_spec_name_idx"),
    ("region", "worker_region_name_idx"),
    ("admission_status", "worker_status_name_idx"),
    ("category", "worker_cat_name_idx"),
)
FILTER_FIELDS = ("primary_specialty", "region", "category", "admission_status", "registered_on",
                 "has_confirmed_documents")


def _index(column: str, name: str) -> models.Index:
    include = tuple(field for field in FILTER_FIELDS if field != column)
    return models.Index(fields=[column, "search_name", "id"], include=include, name=name)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("registry", "0008_data_quality"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(_swap(True), _swap(False))],
            state_operations=[
                *[migrations.RemoveIndex(model_name="medicalworker", name=name) for _, name in FILTER_INDEXES],
                *[migrations.AddIndex(model_name="medicalworker", index=_index(*pair)) for pair in FILTER_INDEXES],
            ],
        ),
    ]
