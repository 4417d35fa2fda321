"""What an import batch does to workers besides writing rows: their derived columns, set-based, and
the duplicate check of the workers a file created or changed.

`workers_refresh` is registry.services.worker_refresh_derived as one statement over a batch's
workers (PostgreSQL): the same rules (the main current post decides region and specialty; the best
admission document for that specialty, else of all; the highest current category), without reading
the rows into Python. A test holds the two to the same results. Only workers whose derived values change are
written (with a new updated_at, which is what the API's changes feed of workers shows: these
columns, not the workplaces themselves): rewriting a worker row updates its 18 indexes, about 0.2 ms,
ten times the budget of an import row. The names do not change in such an import, so the search
dictionary and the blocking keys stay as they are; the keys are marked current for the new
updated_at (WorkerKeyState), so the scan does not recompute them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils import timezone

from core import validators

from ..models import MedicalWorker
from ..quality import scan
from .schema import RowError

REFRESH_SQL = """
WITH ids AS (SELECT DISTINCT unnest(%(ids)s::bigint[]) AS id),
main AS (
    SELECT DISTINCT ON (e.worker_id) e.worker_id, o.region_id, e.specialty_id
    FROM registry_employment e JOIN registry_medicalorganization o ON o.id = e.organization_id
    WHERE e.worker_id IN (SELECT id FROM ids) AND (e.ended_on IS NULL OR e.ended_on >= %(today)s)
    ORDER BY e.worker_id, e.kind <> 'main', e.rate DESC, e.started_on DESC, e.id
),
base AS (SELECT i.id, m.region_id, m.specialty_id FROM ids i LEFT JOIN main m ON m.worker_id = i.id),
docs AS (
    SELECT d.worker_id, d.id, d.specialty_id, d.valid_until,
        CASE WHEN d.status = 'annulled' THEN 'annulled' WHEN d.status = 'suspended' THEN 'suspended'
             WHEN d.valid_until < %(today)s THEN 'expired'
             WHEN d.valid_until - %(today)s <= %(expiring)s THEN 'expiring' ELSE 'active' END AS status
    FROM registry_admissiondocument d JOIN base b ON b.id = d.worker_id
    WHERE b.specialty_id IS NULL OR d.specialty_id = b.specialty_id OR NOT EXISTS (
        SELECT 1 FROM registry_admissiondocument x WHERE x.worker_id = d.worker_id AND x.specialty_id = b.specialty_id)
),
doc AS (
    SELECT DISTINCT ON (worker_id) worker_id, specialty_id, valid_until, status FROM docs
    ORDER BY worker_id, array_position(%(ranks)s::text[], status), valid_until DESC, id
),
cat AS (
    SELECT DISTINCT ON (c.worker_id) c.worker_id, c.category_id
    FROM registry_categoryassignment c JOIN registry_qualificationcategory q ON q.id = c.category_id
    WHERE c.worker_id IN (SELECT id FROM ids) AND c.valid_until >= %(today)s
    ORDER BY c.worker_id, q.sort_order DESC, c.awarded_on DESC, c.id
),
derived AS (
    SELECT b.id, b.region_id, COALESCE(b.specialty_id, doc.specialty_id) AS specialty_id,
        COALESCE(doc.status, 'none') AS status, doc.valid_until, cat.category_id
    FROM base b LEFT JOIN doc ON doc.worker_id = b.id LEFT JOIN cat ON cat.worker_id = b.id
),
written AS (
    UPDATE registry_medicalworker w
    SET region_id = n.region_id, primary_specialty_id = n.specialty_id, admission_status = n.status,
        admission_valid_until = n.valid_until, category_id = n.category_id, updated_at = %(now)s
    FROM derived n
    WHERE w.id = n.id AND (w.region_id, w.primary_specialty_id, w.admission_status, w.admission_valid_until,
        w.category_id) IS DISTINCT FROM (n.region_id, n.specialty_id, n.status, n.valid_until, n.category_id)
    RETURNING w.id
),
-- The blocking keys come from the name and birth date, which these imports do not write: keys that
-- were current stay current under the new updated_at. (The statement sees the rows as they were.)
keys AS (
    UPDATE registry_workerkeystate k SET keys_from = %(now)s
    FROM written JOIN registry_medicalworker w ON w.id = written.id
    WHERE k.worker_id = written.id AND k.keys_from >= w.updated_at
)
SELECT count(*) FROM written
"""


def workers_refresh(cursor, *, worker_ids: Iterable[int], today: dt.date, now: dt.datetime | None = None) -> int:
    """Recompute region, primary specialty, admission status and category of these workers (PostgreSQL);
    a worker is written only when one of them changes. Returns how many were written."""
    from ..models import ADMISSION_STATUS_RANK

    ids = sorted(set(worker_ids))
    if not ids:
        return 0
    ranks = [str(status) for status, _rank in sorted(ADMISSION_STATUS_RANK.items(), key=lambda item: item[1])]
    params = {
        "ids": ids,
        "today": today,
        "expiring": settings.ADMISSION_EXPIRING_DAYS,
        "ranks": ranks,
        "now": now or timezone.now(),
    }
    cursor.execute(REFRESH_SQL, params)
    return cursor.fetchone()[0]


def duplicates_report(result: Any, *, stamps: list, rows: dict[str, int], whole_register: bool) -> None:
    """Check the workers the import created or changed (those with one of the batches' updated_at)
    against the register (registry.quality.scan, limited to them) and note each probable duplicate on
    the row it came from. ``whole_register``: the register held no worker before this file, so every
    worker came from it and the scan of the whole register is the same check (and its fast self-join)."""
    written = dict(MedicalWorker.objects.filter(updated_at__in=stamps).values_list("id", "snils"))
    if not written:
        return
    found = scan.duplicates_detect(worker_ids=None if whole_register else list(written)).by_worker()
    others = {other for pairs in found.values() for other, _p in pairs}
    numbers = dict(MedicalWorker.objects.filter(id__in=others).values_list("id", "registry_number"))
    for worker_id, pairs in found.items():
        row = rows.get(written.get(worker_id, ""))
        if row is None:
            continue  # a worker of the register paired with one from the file: noted on that row
        for other, probability in sorted(pairs, key=lambda pair: -pair[1]):
            number = numbers.get(other, "")
            result.duplicates.append((row, number, probability))
            result.notes.append(
                RowError(
                    row,
                    "snils",
                    f"возможный дубликат: {validators.format_registry_number(number)}, вероятность {probability:.0%}",
                )
            )
    result.duplicates.sort()
