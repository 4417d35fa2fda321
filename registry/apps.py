from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Регистр"

    def ready(self):
        import datetime as dt

        from django.db.models.signals import post_delete, post_save

        from core import reconcile

        from . import selectors
        from .exports.services import STALE_RUNNING
        from .models import DuplicateScanRun, ExportJob, QualificationCategory, Region, Specialty
        from .quality import scan

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
