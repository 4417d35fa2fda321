"""Re-encrypt stored documents with the current first key of DOCUMENT_ENCRYPTION_KEYS.

Rotation without downtime:
    1. DOCUMENT_ENCRYPTION_KEYS=NEW,OLD  (deploy: new uploads use NEW, both keys decrypt)
    2. python manage.py rotate_document_keys
    3. DOCUMENT_ENCRYPTION_KEYS=NEW      (deploy, once this command reports nothing left)
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from verification.documents import current_key_fingerprint, documents_reencrypt, documents_stale_count


class Command(BaseCommand):
    help = "Re-encrypt uploaded documents with the current (first) document encryption key."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=100, help="Documents per batch (default: 100).")

    def handle(self, *args, **options):
        batch = options["batch"]
        if batch < 1:
            raise CommandError("--batch должен быть не меньше 1.")
        total = documents_stale_count()
        self.stdout.write(f"Текущий ключ: {current_key_fingerprint()}. Документов под прежними ключами: {total}.")
        if not total:
            return

        def report(done: int) -> None:
            self.stdout.write(f"  перешифровано {done} из {total}")

        done = documents_reencrypt(batch=batch, progress=report)
        left = documents_stale_count()
        self.stdout.write(f"Перешифровано документов: {done}.")
        if left:
            # Some blob is missing or no configured key opens it: the old key must stay listed.
            raise CommandError(
                f"Не удалось перешифровать документов: {left} (подробности в журнале). "
                "Не удаляйте прежние ключи из DOCUMENT_ENCRYPTION_KEYS."
            )
        self.stdout.write(self.style.SUCCESS("Все документы зашифрованы текущим ключом; прежние ключи можно удалить."))
