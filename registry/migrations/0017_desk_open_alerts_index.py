"""The staff desk counts open discrepancy alerts and finds the oldest: a partial index on the open ones,
built without locking writes."""

from django.db import migrations, models

from registry.migrations._indexes import add_index_concurrently


def create(apps, schema_editor):
    add_index_concurrently(apps, schema_editor, "registry", "discrepancyalert", "alert_open_seen_idx")


def drop(apps, schema_editor):
    model = apps.get_model("registry", "discrepancyalert")
    index = next(i for i in model._meta.indexes if i.name == "alert_open_seen_idx")
    schema_editor.remove_index(model, index)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("registry", "0016_import_kinds")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="discrepancyalert",
                    index=models.Index(
                        condition=models.Q(("resolved_at__isnull", True)),
                        fields=["first_seen_at"],
                        name="alert_open_seen_idx",
                    ),
                ),
            ],
        ),
        migrations.RunPython(create, drop),
    ]
