"""The organization's staff list: the (organization, worker) index also carries the row's id and
department, so a page's ids and every filter are read from the index alone, and an (organization,
start date) index reads the list sorted by start date in order. Both built without locking writes
(PostgreSQL: CONCURRENTLY, the migration is not atomic) before the index they replace is dropped."""

from django.db import migrations, models

from registry.migrations._indexes import add_index_concurrently, drop_index_concurrently

OLD = models.Index(
    fields=["organization", "worker"],
    include=("ended_on", "started_on", "position", "specialty"),
    name="employment_org_worker_idx",
)
NEW = ("employment_org_list_idx", "employment_org_started_idx")


def forwards(apps, schema_editor):
    for name in NEW:
        add_index_concurrently(apps, schema_editor, "registry", "employment", name)
    drop_index_concurrently(schema_editor, OLD.name)


def backwards(apps, schema_editor):
    model = apps.get_model("registry", "employment")
    schema_editor.add_index(model, OLD)
    for name in NEW:
        drop_index_concurrently(schema_editor, name)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("registry", "0019_importjob_organization")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="employment", name="employment_org_worker_idx"),
                migrations.AddIndex(
                    model_name="employment",
                    index=models.Index(
                        fields=["organization", "worker"],
                        include=("id", "ended_on", "started_on", "position", "specialty", "department"),
                        name="employment_org_list_idx",
                    ),
                ),
                migrations.AddIndex(
                    model_name="employment",
                    index=models.Index(
                        fields=["organization", "started_on", "id"],
                        include=("ended_on", "position", "specialty", "department"),
                        name="employment_org_started_idx",
                    ),
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
