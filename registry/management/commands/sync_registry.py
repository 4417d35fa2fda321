"""Force sync from a source file or URL: list new, changed and vanished records, then apply.

    manage.py sync_registry organizations.csv --kind organizations           # show what would change
    manage.py sync_registry organizations.csv --kind organizations --apply   # and apply it

Vanished records are retired, never deleted: an organization is closed, a document annulled, an
employment ended; a worker absent from the source raises an alert for staff to review.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.audit import audit_record
from core.models import AuditEntry
from registry.imports import KINDS, ImportFileError, import_file
from registry.imports.jobs import fetch_url


class Command(BaseCommand):
    help = "Принудительная синхронизация с источником (файл или URL): новые, изменённые и исчезнувшие записи."

    def add_arguments(self, parser):
        parser.add_argument("source", help="Путь к файлу или адрес http(s)://")
        parser.add_argument("--kind", choices=sorted(KINDS), required=True)
        parser.add_argument("--apply", action="store_true", help="Применить (без него — только сверка).")

    def handle(self, *args, **options):
        source = options["source"]
        try:
            path = fetch_url(source) if source.startswith(("http://", "https://")) else source
            result = import_file(path, kind=options["kind"], sync=True, dry_run=not options["apply"])
        except ImportFileError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(("Применено" if options["apply"] else "Сверка (ничего не записано)") + ":")
        self.stdout.write(
            f"  новых: {result.created}, изменённых: {result.updated}, исчезнувших: {result.vanished}, "
            f"без изменений: {result.unchanged}, строк с ошибками: {result.invalid}"
        )
        for title, keys in (
            ("Новые", result.new_keys),
            ("Изменённые", result.changed_keys),
            ("Исчезнувшие", result.vanished_keys),
        ):
            if keys:
                self.stdout.write(f"  {title} (первые): {'; '.join(keys)}")
        for error in result.errors[:50]:
            self.stdout.write(f"  {error}")
        if options["apply"]:
            audit_record(
                event=AuditEntry.Event.DATA_CHANGED,
                object_type="sync",
                object_id=options["kind"],
                details={
                    "source": source[-200:],
                    "created": result.created,
                    "updated": result.updated,
                    "vanished": result.vanished,
                },
            )
