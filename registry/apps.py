from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Регистр"

    def ready(self):
        import datetime as dt

        from django.db.models.signals import post_delete, post_migrate, post_save

        from core import reconcile

        from . import selectors
        from .exports.services import STALE_RUNNING
        from .models import DuplicateScanRun, ExportJob, QualificationCategory, Region, Specialty
        from .quality import scan

        # SQLite drops a table's triggers when a migration rebuilds the table: put them back after migrate.
        post_migrate.connect(admission_copy_ensure, sender=self)

        # The search caches directory names and orders (registry.selectors): a change empties them.
        for model in (Specialty, Region, QualificationCategory):
            for signal in (post_save, post_delete):
                signal.connect(selectors.directories_changed, sender=model)

        # A duplicate scan the broker lost is enqueued again; one left running by a dead worker is retaken.
        reconcile.register(
            DuplicateScanRun,
            status_field="status",
            queued_value=DuplicateScanRun.Status.QUEUED,
            task="registry.duplicate_scan",
            age=dt.timedelta(minutes=5),
            running_value=DuplicateScanRun.Status.RUNNING,
            running_timestamp_field="started_at",
            running_age=scan.STALE_RUNNING,
        )
        # An export job the broker lost is enqueued again (core.reconcile); export_job_claim
        # retakes a job left running by a dead worker once it is older than STALE_RUNNING.
        reconcile.register(
            ExportJob,
            status_field="status",
            queued_value=ExportJob.Status.QUEUED,
            task="registry.run_export",
            age=dt.timedelta(minutes=5),
            running_value=ExportJob.Status.RUNNING,
            running_timestamp_field="started_at",
            running_age=STALE_RUNNING,
        )
        # The same for import jobs (admin uploads); import_job_claim retakes a stale running one.
        from .imports.jobs import STALE_RUNNING as IMPORT_STALE_RUNNING
        from .models import ImportJob

        reconcile.register(
            ImportJob,
            status_field="status",
            queued_value=ImportJob.Status.QUEUED,
            task="registry.run_import",
            age=dt.timedelta(minutes=5),
            running_value=ImportJob.Status.RUNNING,
            running_timestamp_field="started_at",
            running_age=IMPORT_STALE_RUNNING,
        )


def admission_copy_ensure(sender, using, **kwargs) -> None:
    """After `migrate`: the admission-copy triggers exist (models/admission_copy.py). On SQLite a later
    migration that rebuilds registry_employment or registry_medicalworker drops them with the table."""
    from django.db import connections

    from .models.admission_copy import admission_copy_install

    connection = connections[using]
    with connection.cursor() as cursor:
        if "registry_employment" not in connection.introspection.table_names(cursor):
            return
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "registry_employment")}
    if "worker_admission_valid_until" in columns:  # migration 0021 applied
        admission_copy_install(connection)
