from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Регистр"

    def ready(self):
        import datetime as dt

        from portal import reconcile

        from .exports import STALE_RUNNING
        from .models import ExportJob

        # An export job the broker lost is enqueued again (portal.reconcile); export_job_claim
        # retakes a job left running by a dead worker once it is older than STALE_RUNNING.
        reconcile.register(
            ExportJob, status_field="status", queued_value=ExportJob.Status.QUEUED, task="registry.run_export",
            age=dt.timedelta(minutes=5), running_value=ExportJob.Status.RUNNING,
            running_timestamp_field="started_at", running_age=STALE_RUNNING,
        )
