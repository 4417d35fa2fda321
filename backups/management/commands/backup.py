"""python manage.py backup DEST — a consistent, encrypted backup of the database and the documents."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backups.services import BackupError, backup_create


class Command(BaseCommand):
    help = "Write an encrypted backup (database snapshot + stored documents + signed manifest) into DEST."

    def add_arguments(self, parser):
        parser.add_argument("destination", type=Path, help="A new or empty directory.")

    def handle(self, *args, destination: Path, **options):
        try:
            manifest = backup_create(destination=destination, log=self.stdout.write)
        except BackupError as exc:
            raise CommandError(f"Резервная копия не создана: {exc}") from exc
        rows = sum(table["rows"] for table in manifest["tables"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Резервная копия записана в {destination}: таблиц {len(manifest['tables'])}, строк {rows}, "
                f"документов {manifest['documents']}, файлов {len(manifest['files'])}."
            )
        )
