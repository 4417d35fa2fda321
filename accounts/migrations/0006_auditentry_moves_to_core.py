# The audit journal now belongs to core (core/migrations/0001_initial.py); the table stays.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0005_outbound_message"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEntry")],
        ),
    ]
