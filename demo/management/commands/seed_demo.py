"""Demo data for a newcomer: named organizations, workers and logins, a synthetic register worth
searching, review work for the support desk and the first runs of the data-quality jobs.

Idempotent: named rows are found by their natural keys, and each bulk step (demo/register.py,
applications.py, desk.py, quality.py) is skipped once its rows exist, so `make run` runs it on every
start and a second run changes nothing. Refused in production: it creates known passwords.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core import validators
from demo import applications, desk, people, quality, register
from demo.orgs import seed_org_cabinet
from registry import models, services


class Command(BaseCommand):
    help = "Load demo organizations, workers, logins and desk work (idempotent). Refuses to run in production."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DJANGO_ENV=production.")

    def handle(self, *args, **options):
        if settings.PRODUCTION and not options["force"]:
            raise CommandError("seed_demo creates known passwords; refusing in production (use --force).")
        if not models.Specialty.objects.exists() or not models.Region.objects.exists():
            raise CommandError("Directories are empty: run `python manage.py load_directories` first.")
        today = timezone.localdate()
        with transaction.atomic():
            orgs = [people.organization_seed(row, today) for row in people.ORGANIZATIONS]
            seeded = [people.worker_seed(spec, orgs, today) for spec in people.WORKERS]
            workers = [worker for worker, _changed in seeded]
            staff = people.staff_seed()
            people.support_seed(workers)
            people.state_registry_reference_seed(workers)
        # Only rows this run wrote: the refresh bumps updated_at, which the API's changes feed reads.
        services.worker_refresh_derived(worker_ids=[w.id for w, changed in seeded if changed], today=today)
        named = {spec.snils for spec in people.WORKERS}
        added = register.synthetic_register_seed(demo_snils=named, today=today, stdout=self.stdout)
        if added:
            register.duplicates_inject(demo_snils=named)
            register.discrepancies_inject(demo_snils=named, closed_organization=orgs[-1])
        applicants = applications.applicants_pick(demo_snils=named)
        applications.applications_seed(applicants=applicants)
        users = [
            w.user
            for w in models.MedicalWorker.objects.filter(pk__in=[a.pk for a in applicants])
            .select_related("user")
            .order_by("id")
            if w.user is not None
        ]
        applications.change_requests_seed(users=users)
        desk.tickets_seed(users=users, staff=staff)
        desk.chats_seed(users=users, staff=staff)
        quality.duplicate_scan_first()
        quality.discrepancy_checks_first()
        quality.workforce_snapshot_first()
        quality.dq_audit_first()
        self._print_logins(workers, staff)
        seed_org_cabinet(stdout=self.stdout)

    def _print_logins(self, workers, staff):
        out = self.stdout
        total = models.MedicalWorker.objects.count()
        out.write(self.style.SUCCESS(f"Demo data ready: {len(workers)} named workers among {total} in the register."))
        out.write("")
        out.write(f"Demo logins ({settings.SITE_URL.rstrip('/')}/accounts/login/):")
        for spec in people.WORKERS:
            if spec.login:
                out.write(
                    f"  Медицинский работник  СНИЛС {validators.format_snils(spec.snils)}"
                    f"  пароль {people.DEMO_PASSWORD_WORKER}  ({spec.last} {spec.first})"
                )
        out.write(
            f"  Сотрудник поддержки   логин {staff.username}  пароль {people.DEMO_PASSWORD_STAFF}  (then /admin/)"
        )
        out.write("One-time SMS codes are printed by the server and kept in admin → «SMS (исходящие)».")
        out.write("Смирнов's phone is not confirmed yet: his first login asks to confirm it with a code.")
        first = people.WORKERS[0]
        out.write(
            f"Cabinet: /cabinet/. Identity confirmation demo for {first.last}: enter INN "
            f"{people.DEMO_WRONG_INN} to get a rejection with discrepancies, then fix it to {first.inn} "
            "→ «Подтверждено»."
        )
        out.write("")
