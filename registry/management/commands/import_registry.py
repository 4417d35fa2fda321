"""Import an exchange file into the register.

    manage.py import_registry workers.csv --kind workers [--dry-run] [--report errors.csv]

Valid rows are upserted by natural key, one transaction per batch; invalid rows are listed with
row number, field and reason (and written to --report as CSV). Re-running a file changes nothing.
The format is in docs/import.md.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from core.audit import audit_record
from core.models import AuditEntry
from registry.imports import KINDS, ImportFileError, import_file, write_error_report

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = (
        "Импорт файла обмена (CSV, XLSX, JSON) в регистр: работники, организации, места работы, документы, "
        "образование, квалификационные категории, записи НМО."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--kind", choices=sorted(KINDS), default="workers")
        parser.add_argument("--dry-run", action="store_true", help="Проверить и посчитать, ничего не записывая.")
        parser.add_argument("--report", help="Куда записать отчёт об ошибках (CSV).")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--sync", action="store_true", help=("Также найти записи, исчезнувшие из источника."))
        parser.add_argument("--skip-duplicate-check", action="store_true")

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            result = import_file(
                options["file"],
                kind=options["kind"],
                dry_run=options["dry_run"],
                sync=options["sync"],
                batch_size=options["batch_size"],
                check_duplicates=not options["skip_duplicate_check"],
                progress=lambda done: (
                    self.stderr.write(f"  строк обработано: {done:,}") if options["verbosity"] > 1 else None
                ),
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        elapsed = time.perf_counter() - started
        if not options["dry_run"]:
            audit_record(
                event=AuditEntry.Event.DATA_CHANGED,
                object_type="import",
                object_id=options["kind"],
                details={
                    "file": str(options["file"])[-200:],
                    "created": result.created,
                    "updated": result.updated,
                    "invalid": result.invalid,
                    "via": "command",
                },
            )
        self.stdout.write(result.summary())
        if result.vanished:
            self.stdout.write(f"Исчезли из источника (первые): {', '.join(result.vanished_keys)}")
        for error in result.errors[:SHOWN_ERRORS]:
            self.stdout.write(f"  {error}")
        if len(result.errors) > SHOWN_ERRORS:
            self.stdout.write(f"  … и ещё ошибок: {len(result.errors) - SHOWN_ERRORS}")
        for note in result.notes[:SHOWN_ERRORS]:
            self.stdout.write(f"  {note}")
        if len(result.notes) > SHOWN_ERRORS:
            self.stdout.write(f"  … и ещё примечаний: {len(result.notes) - SHOWN_ERRORS}")
        if options["report"] and (result.errors or result.notes):
            with open(options["report"], "w", encoding="utf-8", newline="") as handle:
                write_error_report(result.errors, handle, labels=KINDS[options["kind"]].labels, notes=result.notes)
            self.stdout.write(f"Отчёт об ошибках: {options['report']}")
        rate = result.total / elapsed if elapsed else 0
        self.stdout.write(f"Время: {elapsed:.1f} с ({rate:,.0f} строк/с)")
