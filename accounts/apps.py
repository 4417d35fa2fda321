from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Учётные записи"

    def ready(self):
        from core import reconcile

        from . import outbox
        from .models import OutboundMessage

        # An e-mail or SMS whose task the broker lost is enqueued again; one whose worker died while
        # sending is retaken once its claim is older than the lease.
        reconcile.register(
            OutboundMessage,
            status_field="state",
            queued_value=OutboundMessage.State.QUEUED,
            task="accounts.send_message",
            age=outbox.LOST_AFTER,
            timestamp_field="queued_at",
            running_value=OutboundMessage.State.SENDING,
            running_timestamp_field="started_at",
            running_age=outbox.SEND_LEASE,
        )
