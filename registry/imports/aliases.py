# ruff: noqa: S608 - table and column names in the SQL below are our own constants; values are parameters.
"""Identifiers of records merged into others (WorkerAlias) met in an import file.

A merge keeps the merged record's SNILS, INN and registry number as aliases of the survivor. A row
that carries one reaches the survivor and never re-creates the merged record:

- a worker row whose SNILS is not in the register but is an alias (or whose registry number or INN
  is one) is not written at all: the survivor's identity stays as it is, and the row is counted
  (``merged``) and noted «объединена с МР …». Contacts are not taken from it either: a source that
  still holds both records would otherwise swap the survivor's phone back and forth on every sync;
- a worker row of a live SNILS that carries a merged-away INN or registry number of the same worker
  keeps the stored one (noted); of another worker, it is refused;
- an employment, document, education, category or НМО row whose SNILS is an alias is written for
  the survivor (noted); two rows that now name the same record are reported, not written twice.

Each step is one statement over the batch's staging table.
"""

from __future__ import annotations

from core import validators

from ..models import WorkerAlias
from .schema import RowError

STAGE = "medreg_import_stage"
W = "registry_medicalworker"
A = "registry_workeralias"


def any_exist() -> bool:
    """Whether any merge left aliases (most registers before the first merge have none)."""
    return WorkerAlias.objects.exists()


def snils_survivors() -> dict[str, str]:
    """Merged-away SNILS → the survivor's SNILS (a handful: one per merge)."""
    return dict(WorkerAlias.objects.filter(kind=WorkerAlias.Kind.SNILS).values_list("value", "worker__snils"))


def _note(loader, rows, text) -> None:
    loader.result.notes.extend(RowError(row[0], row[1], text(row)) for row in rows)


def workers_resolve(loader, cursor) -> None:
    """Worker rows that name a merged record: noted and left out, or their alias kept off the survivor."""
    cursor.execute(f"ALTER TABLE {STAGE} ADD COLUMN merged_into bigint")
    for kind, column in (("snils", "snils"), ("registry_number", "registry_number"), ("inn", "inn")):
        cursor.execute(
            f"UPDATE {STAGE} AS s SET merged_into = a.worker_id FROM {A} a "
            f"WHERE a.kind = %s AND a.value = s.{column} AND s.merged_into IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {W} w WHERE w.snils = s.snils)",
            [kind],
        )
    cursor.execute(f"SELECT s.row_no, 'snils', w.registry_number FROM {STAGE} s JOIN {W} w ON w.id = s.merged_into")
    merged = cursor.fetchall()
    if merged:
        _note(
            loader,
            merged,
            lambda r: (
                f"объединена с {validators.format_registry_number(r[2])}: запись не создаётся, "
                "данные оставленной записи не изменены"
            ),
        )
        loader.result.merged += len(merged)
        loader.rejected.update(row[0] for row in merged)
        cursor.execute(f"DELETE FROM {STAGE} WHERE merged_into IS NOT NULL")
    _identifier_aliases(loader, cursor)


def _identifier_aliases(loader, cursor) -> None:
    """A live SNILS with a merged-away INN or registry number: the survivor's own kept, another's refused."""
    for kind, column, label in (("inn", "inn", "ИНН"), ("registry_number", "registry_number", "регистровый номер")):
        cursor.execute(
            f"SELECT s.row_no, '{column}', o.registry_number, a.worker_id = w.id FROM {STAGE} s "
            f"JOIN {A} a ON a.kind = %s AND a.value = s.{column} "
            f"JOIN {W} w ON w.snils = s.snils JOIN {W} o ON o.id = a.worker_id",
            [kind],
        )
        found = cursor.fetchall()
        own = [row for row in found if row[3]]
        if own:
            _note(
                loader,
                own,
                lambda r, label=label: (
                    f"объединена с {validators.format_registry_number(r[2])}: {label} "
                    "объединённой записи, в регистре оставлен прежний"
                ),
            )
            keep = "NULL" if column == "inn" else "w.registry_number"
            cursor.execute(
                f"UPDATE {STAGE} AS s SET {column} = {keep} FROM {A} a, {W} w "
                f"WHERE a.kind = %s AND a.value = s.{column} AND w.snils = s.snils AND a.worker_id = w.id",
                [kind],
            )
        others = [row for row in found if not row[3]]
        if others:
            numbers = {row[0]: row[2] for row in others}
            loader._reject(
                cursor,
                f"SELECT row_no FROM {STAGE} WHERE row_no IN ({', '.join(str(int(n)) for n in numbers)})",
                [],
                column,
                lambda r, label=label, numbers=numbers: (
                    f"{label} принадлежал записи, объединённой с {validators.format_registry_number(numbers[r[0]])}"
                ),
            )


def records_resolve(loader, cursor, *, key: tuple[str, ...]) -> None:
    """Rows of a worker's records whose SNILS is an alias: written for the survivor, noted; a second row
    for the same record (the survivor's own SNILS and the alias in one file) is refused."""
    cursor.execute(
        f"UPDATE {STAGE} AS s SET worker_id = a.worker_id FROM {A} a "
        "WHERE a.kind = 'snils' AND a.value = s.snils AND s.worker_id IS NULL"
    )
    cursor.execute(
        f"SELECT s.row_no, 'snils', w.registry_number FROM {STAGE} s "
        f"JOIN {A} a ON a.kind = 'snils' AND a.value = s.snils JOIN {W} w ON w.id = s.worker_id"
    )
    merged = cursor.fetchall()
    if not merged:
        return
    _note(
        loader,
        merged,
        lambda r: f"объединена с {validators.format_registry_number(r[2])}: запись отнесена к оставленной записи",
    )
    if not key:
        return
    columns = ", ".join(("worker_id", *key))
    present = " AND ".join(f"{name} IS NOT NULL" for name in ("worker_id", *key))
    loader._reject(
        cursor,
        f"SELECT row_no, first FROM (SELECT row_no, min(row_no) OVER (PARTITION BY {columns}) AS first "
        f"FROM {STAGE} WHERE {present}) x WHERE row_no <> first",
        [],
        "snils",
        lambda r: f"та же запись, что в строке {r[1]}: СНИЛС объединённой записи ведёт к той же оставленной записи",
    )
