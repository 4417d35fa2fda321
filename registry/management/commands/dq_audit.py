"""Data-quality audit: counts by problem kind and region, trend against the previous run, the
worst records. Also runs the discrepancy checks (alerts) unless --no-checks.

    manage.py dq_audit [--xlsx report.xlsx] [--no-checks]
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from registry.quality import audits, discrepancies, scan


class Command(BaseCommand):
    help = "Аудит качества данных регистра: проблемы по видам и регионам, динамика, худшие записи."

    def add_arguments(self, parser):
        parser.add_argument("--xlsx", help="Сохранить отчёт в XLSX.")
        parser.add_argument("--no-checks", action="store_true", help="Не искать дубликаты и расхождения.")

    def handle(self, *args, **options):
        if not options["no_checks"]:
            added = scan.duplicates_detect().new
            found = discrepancies.discrepancy_checks_run()
            self.stdout.write(f"Новых возможных дубликатов: {added}; расхождений найдено: {sum(found.values())}")
        run = audits.dq_audit_run()
        self.stdout.write(
            f"Аудит от {run.created_at:%d.%m.%Y %H:%M}: работников {run.total_workers}, "
            f"проблем {run.total_problems} ({run.duration_ms} мс)"
        )
        for row in audits.dq_trend(run).values():
            delta = "" if row["delta"] is None else f" ({row['delta']:+d})"
            self.stdout.write(f"  {row['label']}: {row['now']}{delta}")
        if run.worst:
            self.stdout.write("Худшие записи:")
            for row in run.worst[:10]:
                self.stdout.write(f"  {row['registry_number']} {row['name']}: {', '.join(row['problems'])}")
        if options["xlsx"]:
            audits.dq_audit_xlsx(run, options["xlsx"])
            self.stdout.write(f"Отчёт: {options['xlsx']}")
