"""Run every verification deadline sweep once (the embedded default; production uses beat)."""

from django.core.management.base import BaseCommand

from verification import deadlines


class Command(BaseCommand):
    help = "Escalate, close and expire applications past their deadlines; send admission expiry reminders."

    def handle(self, *args, **options):
        result = deadlines.run_all()
        self.stdout.write(
            "Escalated to staff: {escalated}; closed: {closed}; expired: {expired}; reminders sent: {reminders}".format(
                **result
            )
        )
