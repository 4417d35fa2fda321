"""Indexes of issue 15 on the large tables, built without locking writes (PostgreSQL: CONCURRENTLY;
the migration is not atomic): the duplicate check looks workers up by a shared phone, e-mail,
admission document or diploma number."""

import django.db.models.functions.text
from django.db import migrations, models

from registry.migrations._indexes import add_index_concurrently

INDEXES = (
    ("admissiondocument", "admission_number_idx"),
    ("education", "education_diploma_idx"),
    ("medicalworker", "worker_phone_idx"),
    ("medicalworker", "worker_email_idx"),
)


def create(apps, schema_editor):
    for model_name, index_name in INDEXES:
        add_index_concurrently(apps, schema_editor, "registry", model_name, index_name)


def drop(apps, schema_editor):
    for model_name, index_name in INDEXES:
        model = apps.get_model("registry", model_name)
        index = next(i for i in model._meta.indexes if i.name == index_name)
        schema_editor.remove_index(model, index)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("registry", "0014_duplicates_linkage")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name='admissiondocument',
                    index=models.Index(fields=['number'], name='admission_number_idx'),
                ),
                migrations.AddIndex(
                    model_name='education',
                    index=models.Index(fields=['diploma_number'], name='education_diploma_idx'),
                ),
                migrations.AddIndex(
                    model_name='medicalworker',
                    index=models.Index(condition=models.Q(('phone', ''), _negated=True), fields=['phone'], name='worker_phone_idx'),
                ),
                migrations.AddIndex(
                    model_name='medicalworker',
                    index=models.Index(django.db.models.functions.text.Lower('email'), condition=models.Q(('email', ''), _negated=True), name='worker_email_idx'),
                ),
            ],
        ),
        migrations.RunPython(create, drop),
    ]
