"""Load the stand-in state registry table (StateRegistryReference) from a CSV file.

Columns (header row required): source (tax | social_fund), key (INN or SNILS, any formatting),
last_name, first_name, middle_name, birth_date (YYYY-MM-DD or DD.MM.YYYY), linked_key (optional).
Rows are upserted by (source, key). This feeds `ReferenceTableGateway`, the stand-in for the
real tax service and social fund; it is not a connection to them.
"""

import csv
import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import validators
from verification.models import StateRegistryReference

REQUIRED = ("source", "key", "last_name", "first_name", "birth_date")


def _date(raw: str) -> dt.date:
    raw = raw.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"дата «{raw}» не в формате ГГГГ-ММ-ДД или ДД.ММ.ГГГГ")


def _key(source: str, raw: str) -> str:
    if source == StateRegistryReference.Source.TAX:
        return validators.normalize_inn_person(raw)
    return validators.normalize_snils(raw)


class Command(BaseCommand):
    help = "Import the stand-in state registry reference table (ФНС/СФР) from CSV."

    def add_arguments(self, parser):
        parser.add_argument("path")

    def handle(self, *args, path, **options):
        created = updated = 0
        try:
            handle = open(path, encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise CommandError(f"cannot open {path}: {exc}") from exc
        with handle, transaction.atomic():
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise CommandError(f"missing columns: {', '.join(missing)}")
            for line, row in enumerate(reader, start=2):
                source = (row["source"] or "").strip()
                if source not in StateRegistryReference.Source.values:
                    raise CommandError(f"line {line}: source must be tax or social_fund")
                try:
                    key = _key(source, row["key"])
                    linked_raw = (row.get("linked_key") or "").strip()
                    linked = _key("social_fund" if source == "tax" else "tax", linked_raw) if linked_raw else ""
                    birth = _date(row["birth_date"])
                except Exception as exc:
                    raise CommandError(f"line {line}: {exc}") from exc
                _, was_created = StateRegistryReference.objects.update_or_create(
                    source=source,
                    key=key,
                    defaults={
                        "last_name": row["last_name"].strip(),
                        "first_name": row["first_name"].strip(),
                        "middle_name": (row.get("middle_name") or "").strip(),
                        "birth_date": birth,
                        "linked_key": linked,
                    },
                )
                created += was_created
                updated += not was_created
        self.stdout.write(self.style.SUCCESS(f"State registry reference: {created} created, {updated} updated."))
