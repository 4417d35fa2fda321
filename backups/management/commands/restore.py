"""python manage.py restore SRC — restore a backup into an empty installation."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backups.services import BackupError, backup_restore


class Command(BaseCommand):
    help = "Restore a backup made by `backup` into an empty installation and check every table against it."

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path, help="The backup directory.")

    def handle(self, *args, source: Path, **options):
        try:
            manifest = backup_restore(source=source, log=self.stdout.write)
        except BackupError as exc:
            raise CommandError(f"Восстановление не выполнено: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Восстановлено из копии от {manifest['created_at']}: таблиц {len(manifest['tables'])}, "
                f"документов {manifest['documents']}; контрольные суммы совпадают."
            )
        )
