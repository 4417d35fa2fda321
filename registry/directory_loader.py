"""Load the ministry directories (НСИ) from JSON and CSV exports.

A directory is loaded as a whole: every row is checked first and one bad row stops the load
before anything is written, so a half-loaded specialty list never reaches the public search.
The upsert reads the existing codes once and writes in batches: the position directory has
more than a thousand rows, and a query per row would make a full reload crawl on PostgreSQL.

Row numbers in errors are what a person finds in the file: the line number for CSV (the
header is line 1) and the 1-based position in the entries list for JSON.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from . import selectors
from .models import DirectoryEntry, Region

CODE_MAX_LENGTH = DirectoryEntry._meta.get_field("code").max_length
NAME_MAX_LENGTH = DirectoryEntry._meta.get_field("name").max_length

# Column names of real exports, most specific first. The NSI portal exports the directory's own
# field names (ID, NAME, PARENT, ...); older exports carry RECID and S_NAME; people who prepare a
# file by hand write "Код" and "Наименование". An explicit --code-column/--name-column wins.
CODE_COLUMNS = ("code", "код", "s_code", "id", "recid")
NAME_COLUMNS = ("name", "наименование", "полное наименование", "full_name", "s_name", "short_name")
SORT_COLUMNS = ("sort_order", "sort", "порядок")

# Bytes at the start of a file that is not text at all (a zipped .xlsx, a PDF, ...).
_BINARY_MAGIC = (b"PK\x03\x04", b"%PDF", b"\xd0\xcf\x11\xe0")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_REGION_CODE = re.compile(r"[0-9]{2}")

# A long list of errors helps nobody; the first ones show what is wrong with the export.
MAX_REPORTED_ERRORS = 50
BATCH_SIZE = 500


@dataclass(frozen=True)
class DirectoryRow:
    """One entry as read from a file; ``row`` is its line (CSV) or position (JSON)."""

    code: Any
    name: Any
    row: int
    sort_order: Any = None


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        if self.row:
            return f"строка {self.row}, поле «{self.field}»: {self.reason}"
        return f"поле «{self.field}»: {self.reason}"


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    unchanged: int
    deactivated: int


class DirectoryLoadError(Exception):
    """The data cannot be loaded; nothing was written. ``errors`` names each bad row."""

    def __init__(self, message: str, errors: Iterable[RowError] = ()):
        self.message = message
        self.errors = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [self.message]
        lines += [f"  {error}" for error in self.errors[:MAX_REPORTED_ERRORS]]
        if len(self.errors) > MAX_REPORTED_ERRORS:
            lines.append(f"  … и ещё ошибок: {len(self.errors) - MAX_REPORTED_ERRORS}")
        return "\n".join(lines)


class DirectoryFileError(DirectoryLoadError):
    """The file itself cannot be read: not found, wrong encoding, no code or name column."""


# --- Loading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CleanRow:
    code: str
    name: str
    sort_order: int | None


def load_directory(
    model: type[DirectoryEntry],
    entries: Iterable[DirectoryRow | Mapping[str, Any]],
    *,
    deactivate_missing: bool,
) -> LoadResult:
    """Upsert ``entries`` into ``model`` by code in one transaction; all rows are checked first.

    A row that is loaded is active again, even if it had been deactivated. With
    ``deactivate_missing`` the entries absent from ``entries`` are deactivated, never deleted:
    workers' records keep pointing at them. ``sort_order`` is set only where a row gives one.
    """
    rows = _clean_rows(model, entries)

    with transaction.atomic():
        # Lock the rows we are about to compare so a concurrent load cannot interleave with ours.
        existing = {entry.code: entry for entry in model.objects.select_for_update().order_by()}
        to_create: list[DirectoryEntry] = []
        to_update: list[DirectoryEntry] = []
        unchanged = 0
        for row in rows:
            entry = existing.get(row.code)
            if entry is None:
                to_create.append(model(code=row.code, name=row.name, sort_order=row.sort_order or 0))
                continue
            new_sort = entry.sort_order if row.sort_order is None else row.sort_order
            if entry.name == row.name and entry.sort_order == new_sort and entry.is_active:
                unchanged += 1
                continue
            entry.name, entry.sort_order, entry.is_active = row.name, new_sort, True
            to_update.append(entry)
        updated = len(to_update)

        deactivated = 0
        if deactivate_missing:
            loaded = {row.code for row in rows}
            for code, entry in existing.items():
                if entry.is_active and code not in loaded:
                    entry.is_active = False
                    to_update.append(entry)
                    deactivated += 1

        if to_create:
            model.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
        if to_update:
            model.objects.bulk_update(to_update, ["name", "sort_order", "is_active"], batch_size=BATCH_SIZE)
        if to_create or to_update:
            transaction.on_commit(selectors.directories_changed)  # bulk writes send no signals

    return LoadResult(created=len(to_create), updated=updated, unchanged=unchanged, deactivated=deactivated)


def _clean_rows(model: type[DirectoryEntry], entries: Iterable[DirectoryRow | Mapping[str, Any]]) -> list[_CleanRow]:
    errors: list[RowError] = []
    rows: list[_CleanRow] = []
    first_seen: dict[str, int] = {}
    for position, entry in enumerate(entries, start=1):
        if isinstance(entry, DirectoryRow):
            raw = entry
        elif isinstance(entry, Mapping):
            raw = DirectoryRow(entry.get("code"), entry.get("name"), position, entry.get("sort_order"))
        else:
            errors.append(RowError(position, "code", "запись не является объектом с полями code и name"))
            continue
        row_errors = len(errors)
        code = _clean_text(raw.code, raw.row, "code", CODE_MAX_LENGTH, "код", errors)
        name = _clean_text(raw.name, raw.row, "name", NAME_MAX_LENGTH, "наименование", errors)
        sort_order = _clean_sort_order(raw.sort_order, raw.row, errors)
        if code is not None and issubclass(model, Region) and not _REGION_CODE.fullmatch(code):
            errors.append(RowError(raw.row, "code", f"код региона — две цифры (01–99), а не «{code}»"))
        elif code is not None and code in first_seen:
            errors.append(RowError(raw.row, "code", f"код «{code}» повторяется (уже был в строке {first_seen[code]})"))
        elif code is not None:
            first_seen[code] = raw.row
        if len(errors) == row_errors:
            rows.append(_CleanRow(code, name, sort_order))

    label = model._meta.verbose_name_plural
    if errors:
        raise DirectoryLoadError(
            f"Справочник «{label}» не загружен: ошибок в данных — {len(errors)}, ничего не записано.", errors
        )
    if not rows:
        raise DirectoryLoadError(f"Справочник «{label}» не загружен: в данных нет ни одной записи.")
    return rows


def _clean_text(value: Any, row: int, field: str, limit: int, what: str, errors: list[RowError]) -> str | None:
    if value is None:
        value = ""
    # JSON exports give numeric IDs as numbers; a bool or a float is not a code anyone meant.
    if isinstance(value, int) and not isinstance(value, bool):
        # str() of an int with thousands of digits raises ValueError (CVE-2020-10735 limit).
        if abs(value) >= 10**limit:
            errors.append(RowError(row, field, f"{what} длиннее {limit} символов"))
            return None
        value = str(value)
    if not isinstance(value, str):
        errors.append(RowError(row, field, f"{what}: ожидается строка, получено {type(value).__name__}"))
        return None
    text = value.strip()
    if not text:
        errors.append(RowError(row, field, f"{what} не заполнен" if field == "code" else f"{what} не заполнено"))
        return None
    if len(text) > limit:
        errors.append(RowError(row, field, f"{what} длиннее {limit} символов ({len(text)})"))
        return None
    # PostgreSQL refuses NUL in text; other control characters are garbage from a broken export.
    if _CONTROL_CHARS.search(text):
        errors.append(RowError(row, field, f"{what} содержит управляющие символы"))
        return None
    return text


def _clean_sort_order(value: Any, row: int, errors: list[RowError]) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2_147_483_647:
        return value
    errors.append(RowError(row, "sort_order", "порядок — целое неотрицательное число"))
    return None


# --- Reading files ------------------------------------------------------------------------------


def read_directory_file(
    path: str | Path, *, code_column: str | None = None, name_column: str | None = None
) -> tuple[list[DirectoryRow], dict[str, Any]]:
    """Read a JSON or CSV export; return its rows and the JSON header (``oid``, ``version``, ...).

    JSON is either ``{"oid": ..., "entries": [...]}`` or a plain list of objects. CSV is UTF-8
    (a BOM is fine) with a header; the delimiter (``;``, ``,`` or tab) is taken from the header.
    Rows are returned unchecked: ``load_directory`` checks them all at once.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DirectoryFileError(f"Файл не найден: {path}") from None
    except IsADirectoryError:
        raise DirectoryFileError(f"Это каталог, а не файл: {path}") from None
    except OSError as exc:
        raise DirectoryFileError(f"Не удалось прочитать файл {path}: {exc.strerror}") from None

    if data.startswith(_BINARY_MAGIC):
        raise DirectoryFileError(
            f"{path.name}: это не CSV и не JSON (похоже на Excel или PDF); сохраните как CSV UTF-8"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DirectoryFileError(
            f"{path.name}: файл не в кодировке UTF-8 (байт {exc.start + 1}); "
            "сохраните его как «CSV UTF-8» или перекодируйте из Windows-1251"
        ) from None

    suffix = path.suffix.lower()
    is_json = suffix == ".json" or (suffix not in {".csv", ".tsv", ".txt"} and text.lstrip()[:1] in ("[", "{"))
    if is_json:
        return _read_json(text, path.name, code_column, name_column)
    return _read_csv(text, path.name, code_column, name_column), {}


def _read_json(
    text: str, filename: str, code_column: str | None, name_column: str | None
) -> tuple[list[DirectoryRow], dict[str, Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DirectoryFileError(
            f"{filename}: неверный JSON (строка {exc.lineno}, позиция {exc.colno}): {exc.msg}"
        ) from None
    except (ValueError, RecursionError):
        # A number of more than 4300 digits (CVE-2020-10735 limit) or absurdly deep nesting.
        raise DirectoryFileError(
            f"{filename}: неверный JSON (слишком длинное число или глубокая вложенность)"
        ) from None
    if isinstance(document, dict):
        meta = {key: value for key, value in document.items() if key != "entries"}
        items = document.get("entries")
        if not isinstance(items, list):
            raise DirectoryFileError(f"{filename}: в JSON нет списка «entries»")
    elif isinstance(document, list):
        meta, items = {}, document
    else:
        raise DirectoryFileError(f"{filename}: JSON должен быть объектом с «entries» или списком записей")

    rows, not_objects = [], []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            not_objects.append(RowError(position, "code", "запись не является объектом с полями code и name"))
            continue
        keys = {str(key).strip().casefold(): key for key in item}
        code_key = _pick_column(keys, code_column, CODE_COLUMNS)
        name_key = _pick_column(keys, name_column, NAME_COLUMNS)
        sort_key = _pick_column(keys, None, SORT_COLUMNS)
        rows.append(
            DirectoryRow(
                item.get(code_key) if code_key is not None else None,
                item.get(name_key) if name_key is not None else None,
                position,
                item.get(sort_key) if sort_key is not None else None,
            )
        )
    if not_objects:
        raise DirectoryFileError(f"{filename}: в «entries» есть записи, которые не являются объектами", not_objects)
    return rows, meta


def _read_csv(text: str, filename: str, code_column: str | None, name_column: str | None) -> list[DirectoryRow]:
    header_line = text.split("\n", 1)[0]
    # The header decides: exports name their columns without the delimiter in them, while a
    # name in the data ("Заведующий отделением, врач-хирург") may well contain a comma.
    delimiter = max(";,\t", key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise DirectoryFileError(f"{filename}: файл пустой или в первой строке нет заголовков столбцов")
        columns = {cell.strip().strip('"').casefold(): index for index, cell in enumerate(header)}
        code_index = _require_column(columns, code_column, CODE_COLUMNS, "кодом", "--code-column", header, filename)
        name_index = _require_column(
            columns, name_column, NAME_COLUMNS, "наименованием", "--name-column", header, filename
        )
        sort_index = _pick_column(columns, None, SORT_COLUMNS)

        rows = []
        line = reader.line_num
        for record in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            rows.append(
                DirectoryRow(
                    _cell(record, code_index),
                    _cell(record, name_index),
                    start,
                    _cell(record, sort_index) if sort_index is not None else None,
                )
            )
    except csv.Error as exc:
        raise DirectoryFileError(f"{filename}: ошибка CSV в строке {reader.line_num}: {exc}") from None
    return rows


def _cell(record: list[str], index: int) -> str:
    return record[index] if index < len(record) else ""


def _pick_column(columns: Mapping[str, Any], explicit: str | None, candidates: tuple[str, ...]) -> Any:
    if explicit is not None:
        return columns.get(explicit.strip().casefold())
    for candidate in candidates:
        if candidate in columns:
            return columns[candidate]
    return None


def _require_column(
    columns: Mapping[str, int],
    explicit: str | None,
    candidates: tuple[str, ...],
    holding: str,
    option: str,
    header: list[str],
    filename: str,
) -> int:
    index = _pick_column(columns, explicit, candidates)
    if index is not None:
        return index
    found = ", ".join(cell.strip() for cell in header)
    if explicit is not None:
        raise DirectoryFileError(f"{filename}: нет столбца «{explicit}» ({option}); в файле есть: {found}")
    raise DirectoryFileError(
        f"{filename}: не найден столбец с {holding} "
        f"(ищу {', '.join(candidates)}); в файле есть: {found}. Укажите его через {option}"
    )
