"""Load the ministry directories: the shipped subsets, or one full directory from an NSI export.

manage.py load_directories
manage.py load_directories --directory specialty --file export.csv [--deactivate-missing]
manage.py load_directories --directory 1.2.643.5.1.13.13.11.1002 --file positions.json
manage.py load_directories --file export.json      # the directory is taken from its "oid"
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from registry.directory_loader import (
    DirectoryLoadError,
    LoadResult,
    load_directory,
    read_directory_file,
)
from registry.models import DIRECTORY_MODELS, DirectoryEntry

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "directories"


def directory_key(model: type[DirectoryEntry]) -> str:
    return model._meta.model_name


def find_directory(identifier: str) -> type[DirectoryEntry]:
    """A directory model by its name (``specialty``) or OID (with or without ``urn:oid:``)."""
    wanted = identifier.strip().lower().removeprefix("urn:oid:")
    for model in DIRECTORY_MODELS:
        if wanted and wanted in (directory_key(model), model.OID):  # dismissal reasons have no OID
            return model
    known = "\n".join(f"  {directory_key(m):<22} {m.OID:<28} {m._meta.verbose_name_plural}" for m in DIRECTORY_MODELS)
    raise CommandError(f"Неизвестный справочник «{identifier}» (unknown directory). Известные:\n{known}")


class Command(BaseCommand):
    help = (
        "Загружает справочники НСИ: без аргументов — поставляемые с проектом подмножества "
        "(registry/directories/*.json); с --file — полный справочник из выгрузки CSV или JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--directory", help="имя справочника (specialty, position, ...) или его OID")
        parser.add_argument("--file", help="выгрузка справочника: CSV (UTF-8, ; или ,) или JSON")
        parser.add_argument("--code-column", help="столбец CSV/поле JSON с кодом (по умолчанию ID, code, Код, RECID)")
        parser.add_argument("--name-column", help="столбец CSV/поле JSON с наименованием (по умолчанию NAME, ...)")
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="отметить недействующими записи, которых нет в файле (только с --file: файл — полный справочник)",
        )
        parser.add_argument("--dry-run", action="store_true", help="проверить и посчитать, ничего не записывая")

    def handle(self, *args, **options):
        file = options["file"]
        if not file:
            for option in ("deactivate_missing", "code_column", "name_column"):
                if options[option]:
                    flag = "--" + option.replace("_", "-")
                    raise CommandError(f"{flag} используется только вместе с --file ({flag} requires --file)")
        results = self._load(self._jobs(file, options), options)
        self._report(results, options)

    def _jobs(self, file, options) -> list[tuple[type[DirectoryEntry], list]]:
        if file:
            jobs = [self._job_for_file(Path(file), options)]
        elif options["directory"]:
            jobs = [self._shipped_job(find_directory(options["directory"]))]
        else:
            jobs = [self._shipped_job(model) for model in DIRECTORY_MODELS]
        return jobs

    def _load(self, jobs, options) -> list[tuple[type[DirectoryEntry], LoadResult]]:
        # All or nothing: a bad row in the last directory leaves the first ones untouched too,
        # and the summary is printed only for what was really committed.
        results: list[tuple[type[DirectoryEntry], LoadResult]] = []
        try:
            with transaction.atomic():
                for model, rows in jobs:
                    results.append(
                        (model, load_directory(model, rows, deactivate_missing=options["deactivate_missing"]))
                    )
                if options["dry_run"]:
                    transaction.set_rollback(True)
        except DirectoryLoadError as exc:
            raise CommandError(str(exc)) from None
        except IntegrityError:
            # Another load added the same code between our read and our insert.
            raise CommandError(
                "Справочник одновременно загружается другим процессом; ничего не записано, повторите загрузку "
                "(a concurrent load added the same codes)."
            ) from None
        return results

    def _report(self, results, options) -> None:
        for model, result in results:
            line = (
                f"{directory_key(model)} ({model.OID}): создано {result.created}, обновлено {result.updated}, "
                f"без изменений {result.unchanged}"
            )
            if options["deactivate_missing"]:
                line += f", деактивировано {result.deactivated}"
            self.stdout.write(line)
        if options["dry_run"]:
            self.stdout.write(self.style.WARNING("Пробный запуск (--dry-run): ничего не записано."))

    def _shipped_job(self, model: type[DirectoryEntry]) -> tuple[type[DirectoryEntry], list]:
        path = SHIPPED_DIR / f"{directory_key(model)}.json"
        if not path.is_file():
            raise CommandError(f"Нет поставляемого файла справочника {directory_key(model)}: {path}")
        rows, meta = self._read_file(path)
        if meta.get("oid") != model.OID:
            raise CommandError(f"{path}: OID {meta.get('oid')!r} не совпадает с OID справочника {model.OID}")
        return model, rows

    def _job_for_file(self, path: Path, options) -> tuple[type[DirectoryEntry], list]:
        model = find_directory(options["directory"]) if options["directory"] else None
        rows, meta = self._read_file(path, code_column=options["code_column"], name_column=options["name_column"])
        file_oid = str(meta.get("oid") or "").strip().removeprefix("urn:oid:")
        if model is None:
            if not file_oid:
                raise CommandError(
                    f"{path.name}: в файле нет OID справочника — укажите --directory (--directory is required)"
                )
            model = find_directory(file_oid)
        if file_oid and file_oid != model.OID:
            raise CommandError(
                f"{path.name}: файл относится к справочнику {file_oid}, а загружается в "
                f"{directory_key(model)} ({model.OID}) — OID mismatch"
            )
        return model, rows

    def _read_file(self, path: Path, *, code_column: str | None = None, name_column: str | None = None):
        try:
            return read_directory_file(path, code_column=code_column, name_column=name_column)
        except DirectoryLoadError as exc:
            raise CommandError(str(exc)) from None
