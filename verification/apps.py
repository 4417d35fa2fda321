from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "verification"
    verbose_name = "Проверка документов"

    def ready(self):
        import datetime as dt

        from core import reconcile

        from .models import IdentityApplication, QualificationApplication
        from .services import CHECK_LEASE

        # A check the broker lost (Redis down when it was submitted, or a restart) is enqueued again;
        # a check whose worker died is retaken once its claim is older than CHECK_LEASE.
        for model, task in (
            (IdentityApplication, "verification.check_identity_application"),
            (QualificationApplication, "verification.check_qualification_application"),
        ):
            reconcile.register(
                model,
                status_field="status",
                queued_value=model.Status.SUBMITTED,
                task=task,
                age=dt.timedelta(minutes=5),
                timestamp_field="submitted_at",
                running_value=model.Status.CHECKING,
                running_timestamp_field="check_started_at",
                running_age=CHECK_LEASE,
            )
