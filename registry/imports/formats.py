"""Reading exchange files: CSV, XLSX and JSON, as (row number, {column: text}) pairs.

Row numbers are what a person finds in the file: the line for CSV and the sheet row for XLSX
(the header is row 1), the 1-based position in the list for JSON. Cells come back as stripped
strings ("" for empty); dates in XLSX cells become ISO text, whole numbers lose their ".0".
Column names are matched case-insensitively, in English (the canonical names of docs/import.md)
or by the Russian label of the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from .schema import ImportFileError

_ZIP_MAGIC = b"PK\x03\x04"
_OTHER_BINARY = (b"%PDF", b"\xd0\xcf\x11\xe0")
# csv's default field limit is 128 KiB; a longer cell is a broken file, said so in Russian below.
csv.field_size_limit(1_000_000)


def detect_format(path: Path, head: bytes) -> str:
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if head.startswith(_OTHER_BINARY):
        raise ImportFileError(f"{path.name}: это не CSV, XLSX или JSON (похоже на PDF или старый Excel .xls)")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in {".csv", ".tsv", ".txt"}:
        return "csv"
    text = head.lstrip(b"\xef\xbb\xbf \r\n\t")
    return "json" if text[:1] in (b"[", b"{") else "csv"


def read_rows(path: str | Path) -> tuple[str, list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Open an exchange file; return its format, its header and an iterator over its rows."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise ImportFileError(f"Файл не найден: {path.name}") from None
    except IsADirectoryError:
        raise ImportFileError(f"Это каталог, а не файл: {path.name}") from None
    except OSError as exc:
        raise ImportFileError(f"Не удалось прочитать файл {path.name}: {exc.strerror}") from None
    fmt = detect_format(path, head)
    if fmt == "xlsx":
        header, rows = _read_xlsx(path)
    elif fmt == "json":
        header, rows = _read_json(path)
    else:
        header, rows = _read_csv(path)
    return fmt, header, rows


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int):
        if abs(value) >= 10**64:  # str() of a huge int raises (CVE-2020-10735); no identifier is that long
            return "9" * 65
        return str(value)
    return str(value).strip()


def _read_csv(path: Path):
    handle = open(path, encoding="utf-8-sig", newline="")
    try:
        header_line = handle.readline()
    except UnicodeDecodeError as exc:
        handle.close()
        raise ImportFileError(
            f"{path.name}: файл не в кодировке UTF-8 (байт {exc.start + 1}); сохраните его как «CSV UTF-8»"
        ) from None
    if not header_line.strip():
        handle.close()
        raise ImportFileError(f"{path.name}: файл пустой или в первой строке нет заголовков столбцов")
    # The header decides the delimiter: column names never contain one, values may.
    delimiter = max(";,\t", key=header_line.count)
    header = next(csv.reader([header_line], delimiter=delimiter))

    def rows():
        reader = csv.reader(handle, delimiter=delimiter)
        line = 1
        try:
            for record in reader:
                start, line = line + 1, reader.line_num + 1
                if not any(record):
                    continue
                yield start, record
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"{path.name}: файл не в кодировке UTF-8 (около строки {line + 1}): {exc.reason}"
            ) from None
        except csv.Error as exc:
            raise ImportFileError(f"{path.name}: ошибка CSV в строке {line + 1}: {exc}") from None
        finally:
            handle.close()

    return [cell.strip() for cell in header], rows()


def _read_xlsx(path: Path):
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (zip, xml, key errors) for a damaged file
        raise ImportFileError(f"{path.name}: файл XLSX повреждён или это не книга Excel") from None
    sheet = workbook.worksheets[0] if workbook.worksheets else None
    if sheet is None:
        raise ImportFileError(f"{path.name}: в книге нет листов")
    iterator = sheet.iter_rows(values_only=True)
    first = next(iterator, None)
    if not first or not any(cell not in (None, "") for cell in first):
        workbook.close()
        raise ImportFileError(f"{path.name}: лист пустой или в первой строке нет заголовков столбцов")
    header = [_cell_text(cell) for cell in first]

    def rows():
        try:
            for number, values in enumerate(iterator, start=2):
                record = [_cell_text(cell) for cell in values]
                if any(record):
                    yield number, record
        finally:
            workbook.close()

    return header, rows()


def _json_items(path: Path) -> list:
    """The records of a JSON exchange file: a list, or an object with a list «rows»."""
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportFileError(f"{path.name}: файл не в кодировке UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{path.name}: неверный JSON (строка {exc.lineno}, позиция {exc.colno}): {exc.msg}"
        ) from None
    except (ValueError, RecursionError):
        raise ImportFileError(f"{path.name}: неверный JSON (слишком длинное число или глубокая вложенность)") from None
    if isinstance(document, dict):
        items = document.get("rows")
        if not isinstance(items, list):
            raise ImportFileError(f"{path.name}: в JSON нет списка «rows»")
    elif isinstance(document, list):
        items = document
    else:
        raise ImportFileError(f"{path.name}: JSON должен быть списком записей или объектом с «rows»")
    return items


def _read_json(path: Path):
    items = _json_items(path)
    header: list[str] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, dict):
            for key in item:
                if key not in seen:
                    seen.add(key)
                    header.append(str(key))
    positions = {name: index for index, name in enumerate(header)}

    def rows():
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                yield number, None  # reported by the importer as a row error
                continue
            record = [""] * len(header)
            for key, value in item.items():
                if isinstance(value, (dict, list)):
                    record[positions[str(key)]] = json.dumps(value, ensure_ascii=False)
                else:
                    record[positions[str(key)]] = _cell_text(value)
            yield number, record

    return [name.strip() for name in header], rows()
