"""Issue 20, the organization cabinet: the dismissal reasons directory, the source of an employment row
(entered by the employer or not), and the (organization, worker) index of the staff list, built without
locking writes (PostgreSQL: CONCURRENTLY, the migration is not atomic) before the single-column
organization index it replaces is dropped."""

import django.db.models.deletion
from django.db import migrations, models

from registry.migrations._indexes import add_index_concurrently


def create(apps, schema_editor):
    add_index_concurrently(apps, schema_editor, "registry", "employment", "employment_org_worker_idx")


def drop(apps, schema_editor):
    model = apps.get_model("registry", "employment")
    index = next(i for i in model._meta.indexes if i.name == "employment_org_worker_idx")
    schema_editor.remove_index(model, index)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ('registry', '0016_import_kinds'),
    ]

    operations = [
        migrations.CreateModel(
            name='DismissalReason',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=32, unique=True, verbose_name='код')),
                ('name', models.CharField(max_length=500, verbose_name='наименование')),
                ('is_active', models.BooleanField(default=True, verbose_name='действует')),
                ('sort_order', models.PositiveIntegerField(default=0, verbose_name='порядок')),
            ],
            options={
                'verbose_name': 'основание увольнения',
                'verbose_name_plural': 'основания увольнения',
                'ordering': ['sort_order', 'name'],
                'abstract': False,
            },
        ),
        migrations.AddField(
            model_name='employment',
            name='source',
            field=models.CharField(choices=[('register', 'Регистр (импорт, служба поддержки)'), ('organization', 'Внесено работодателем')], default='register', max_length=16, verbose_name='источник'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name='employment',
                    index=models.Index(fields=['organization', 'worker'], name='employment_org_worker_idx'),
                ),
            ],
        ),
        migrations.RunPython(create, drop),
        migrations.AlterField(
            model_name='employment',
            name='organization',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='employments', to='registry.medicalorganization', verbose_name='организация'),
        ),
    ]
