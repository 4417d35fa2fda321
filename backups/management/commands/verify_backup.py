"""python manage.py verify_backup SRC — check a backup without restoring it."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backups.services import BackupError, backup_verify


class Command(BaseCommand):
    help = "Check a backup: manifest signature, every file's SHA-256, and that the database decrypts and reads."

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path, help="The backup directory.")

    def handle(self, *args, source: Path, **options):
        try:
            manifest = backup_verify(source=source, log=self.stdout.write)
        except BackupError as exc:
            raise CommandError(f"Копия не прошла проверку: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Копия от {manifest['created_at']} цела: файлов {len(manifest['files'])}, "
                f"документов {manifest['documents']}."
            )
        )
