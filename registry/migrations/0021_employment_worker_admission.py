"""Employment rows carry their worker's admission (status, end date), copied by database triggers
(registry/models/admission_copy.py), and employment_org_list_idx includes both, so the staff list's
admission filters are index-only reads. The triggers are installed before the rows are filled, so a
write during the fill is not missed; the fill runs in batches, the index is rebuilt CONCURRENTLY."""

from django.db import migrations, models

from registry.migrations._indexes import replace_index_concurrently
from registry.models.admission_copy import admission_copy_fill, admission_copy_install, admission_copy_remove

LIST_INDEX = "employment_org_list_idx"
BEFORE = ("id", "ended_on", "started_on", "position", "specialty", "department")
AFTER = (*BEFORE, "worker_admission_status", "worker_admission_valid_until")


def copy_forwards(apps, schema_editor):
    admission_copy_install(schema_editor.connection)
    admission_copy_fill(schema_editor.connection)


def copy_backwards(apps, schema_editor):
    admission_copy_remove(schema_editor.connection)


def list_index(include) -> models.Index:
    return models.Index(fields=["organization", "worker"], include=include, name=LIST_INDEX)


def index_forwards(apps, schema_editor):
    replace_index_concurrently(apps, schema_editor, "registry", "employment", list_index(AFTER))


def index_backwards(apps, schema_editor):
    replace_index_concurrently(apps, schema_editor, "registry", "employment", list_index(BEFORE))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction; the fill commits per batch

    dependencies = [("registry", "0020_staff_list_indexes")]

    operations = [
        migrations.AddField(
            model_name="employment",
            name="worker_admission_status",
            field=models.CharField(
                choices=[
                    ("active", "Действует"),
                    ("expiring", "Истекает"),
                    ("expired", "Истёк"),
                    ("suspended", "Приостановлен"),
                    ("annulled", "Аннулирован"),
                    ("none", "Нет документа"),
                ],
                db_default="none",
                default="none",
                editable=False,
                max_length=16,
                verbose_name="статус допуска работника",
            ),
        ),
        migrations.AddField(
            model_name="employment",
            name="worker_admission_valid_until",
            field=models.DateField(editable=False, null=True, verbose_name="допуск работника действует до"),
        ),
        migrations.RunPython(copy_forwards, copy_backwards),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="employment", name=LIST_INDEX),
                migrations.AddIndex(model_name="employment", index=list_index(AFTER)),
            ],
        ),
        migrations.RunPython(index_forwards, index_backwards),
    ]
