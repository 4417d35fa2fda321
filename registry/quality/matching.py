"""The register's side of record linkage: workers read in the form linkage compares, their blocking
keys kept in WorkerBlockKey, term frequencies, and the check of one record against the whole register.

The check (`probable_duplicates`) is what registration, the admin add form, an import and the API
call for a new or changed worker: its blocking keys and identifiers find the few workers worth
comparing through indexes (WorkerBlockKey.key, phone, e-mail, admission document and diploma
numbers), which are then scored with the stored weights (linkage.Model). At 3 million workers it
reads a handful of rows, never the register.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from ..models import (
    AdmissionDocument,
    Education,
    Employment,
    MedicalWorker,
    NameFrequency,
    WorkerBlockKey,
    WorkerKeyState,
)
from .linkage import Explanation, Model, Record, prepare
from .linkage.blocking import NAME_RULES, blocking_keys, key_hash

WEIGHTS = Path(__file__).with_name("linkage") / "weights.json"
# A pair at or above this match probability is a candidate (stored for staff, warned of in forms):
# chosen on a register the weights were not trained on (docs/duplicates.md).
THRESHOLD = 0.5
WORKER_FIELDS = (
    "id", "last_name", "first_name", "middle_name", "sex", "birth_date", "snils", "inn", "phone", "email",
    "region_id", "primary_specialty_id", "updated_at",
)  # fmt: skip
KEYS_LIMIT = 2000  # candidates through the name keys (a few at 3 million workers; a cap, never reached)
LOOKUP_LIMIT = 200  # candidates through one shared identifier
KEYS_BATCH = 5000
TF_VERSION_KEY = "registry:linkage:tf-version"
_tf_local: list[Any] = []  # [version, frequencies] held by this process
REGISTER_SIZE_SECONDS = 3600
# Below this the planner's estimate is not trusted (stale after a load or a truncation, or left by
# another database session's statistics) and the workers are counted: a few milliseconds at this size.
REGISTER_SIZE_COUNTED_BELOW = 1_000_000


@functools.cache
def model() -> Model:
    """The stored weights (trained with Splink, manage.py dq_train_weights)."""
    return Model.load(WEIGHTS)


def scaled_model() -> Model:
    """The weights with the prior scaled to the register's size (duplicate pairs grow like n, pairs like n²)."""
    return model().for_register_size(max(register_size(), 1))


def register_size() -> int:
    """The number of workers, estimated from the planner's statistics on PostgreSQL (a count of 3 million
    rows is not worth its time here), cached."""
    size = cache.get("registry:linkage:register-size")
    if size is None:
        size = 0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'registry_medicalworker'::regclass")
                size = max(int(cursor.fetchone()[0]), 0)
        if size < REGISTER_SIZE_COUNTED_BELOW:
            size = MedicalWorker.objects.count()
        cache.set("registry:linkage:register-size", size, REGISTER_SIZE_SECONDS)
    return size


# --- Workers as linkage records ------------------------------------------------------------------------


def _record_fields(worker: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": worker.get("id"),
        "last_name": worker.get("last_name"),
        "first_name": worker.get("first_name"),
        "middle_name": worker.get("middle_name"),
        "sex": worker.get("sex"),
        "birth_date": worker.get("birth_date"),
        "snils": worker.get("snils"),
        "inn": worker.get("inn"),
        "phone": worker.get("phone"),
        "email": worker.get("email"),
        "region": worker.get("region_id") or worker.get("region"),
        "specialty": worker.get("primary_specialty_id") or worker.get("specialty"),
        "documents": worker.get("documents") or (),
        "diplomas": worker.get("diplomas") or (),
        "employers": worker.get("employers") or (),
    }


def record_of(fields: Mapping[str, Any]) -> Record:
    """A record from a worker's fields (a form's cleaned data, an import row, a worker read below)."""
    return prepare(_record_fields(fields))


def diploma_number(series: str, number: str) -> str:
    return f"{series or ''}{number or ''}"


def _among(column: str, ids: list[int]) -> dict[str, Any]:
    """A filter on ``column`` being one of ``ids``. On PostgreSQL one array parameter: the scan reads
    40,000 workers a round, and building and parsing an IN list of 40,000 placeholders cost more
    than the four queries themselves."""
    if connection.vendor == "postgresql":
        return {f"{column}__in": RawSQL("SELECT unnest(%s::bigint[])", (ids,))}
    return {f"{column}__in": ids}


def worker_records(ids: Iterable[int]) -> dict[int, Record]:
    """The workers with these ids as linkage records, with their document and diploma numbers and
    employers: four queries, whatever the number of ids."""
    ids = list(set(ids))
    if not ids:
        return {}
    rows = {
        row["id"]: dict(row)
        for row in MedicalWorker.objects.filter(**_among("id", ids)).order_by().values(*WORKER_FIELDS)
    }
    among = _among("worker_id", ids)
    extras: dict[int, dict[str, set]] = defaultdict(lambda: {"documents": set(), "diplomas": set(), "employers": set()})
    for worker_id, number in AdmissionDocument.objects.filter(**among).order_by().values_list("worker_id", "number"):
        extras[worker_id]["documents"].add(number)
    for worker_id, series, number in (
        Education.objects.filter(**among).order_by().values_list("worker_id", "diploma_series", "diploma_number")
    ):
        extras[worker_id]["diplomas"].add(diploma_number(series, number))
    for worker_id, org in Employment.objects.filter(**among).order_by().values_list("worker_id", "organization_id"):
        extras[worker_id]["employers"].add(org)
    return {pk: record_of({**row, **extras.get(pk, {})}) for pk, row in rows.items()}


def name_keys(record: Record) -> set[int]:
    """The hashed blocking keys of a record's name and birth date (what WorkerBlockKey holds)."""
    return {key_hash(k) for k in blocking_keys(record, NAME_RULES)}


# --- The key table ---------------------------------------------------------------------------------------


def block_keys_refresh(*, worker_ids: Iterable[int]) -> int:
    """Rewrite the blocking keys of these workers from their current rows; returns how many workers.

    worker_refresh_derived calls it (block_keys_write) for every worker it refreshes, so every service
    that writes a name or a birth date keeps the keys; the scan catches up on rows written around the
    services (WorkerKeyState older than the row's updated_at)."""
    ids = sorted(set(worker_ids))
    total = 0
    for start in range(0, len(ids), KEYS_BATCH):
        rows = MedicalWorker.objects.filter(id__in=ids[start : start + KEYS_BATCH]).values_list(
            "id", "last_name", "first_name", "middle_name", "birth_date", "updated_at"
        )
        total += block_keys_write(rows=list(rows))
    return total


def block_keys_write(*, rows: list[tuple]) -> int:
    """Replace the keys of workers given as (id, last name, first name, patronymic, birth date, updated_at)."""
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    keys = []
    for pk, last, first, middle, birth, _stamp in rows:
        record = record_of({"last_name": last, "first_name": first, "middle_name": middle, "birth_date": birth})
        keys += [(pk, k) for k in name_keys(record)]
    # No savepoint inside the caller's transaction (worker_refresh_derived): two queries per batch saved.
    with transaction.atomic(savepoint=False):
        WorkerBlockKey.objects.filter(worker_id__in=ids).delete()
        WorkerKeyState.objects.filter(worker_id__in=ids).delete()
        _write_keys(keys, [(row[0], row[5]) for row in rows])
    return len(rows)


def _write_keys(keys: list[tuple[int, int]], states: list[tuple[int, Any]]) -> None:
    if connection.vendor == "postgresql" and len(keys) > 500:
        # COPY: the scan's catch-up after a bulk load writes millions of keys.
        with connection.cursor() as cursor:
            with cursor.copy("COPY registry_workerblockkey (worker_id, key) FROM STDIN") as copy:
                for row in keys:
                    copy.write_row(row)
            with cursor.copy("COPY registry_workerkeystate (worker_id, keys_from) FROM STDIN") as copy:
                for row in states:
                    copy.write_row(row)
        return
    WorkerBlockKey.objects.bulk_create(
        [WorkerBlockKey(worker_id=w, key=k) for w, k in keys], batch_size=5000, ignore_conflicts=True
    )
    WorkerKeyState.objects.bulk_create([WorkerKeyState(worker_id=w, keys_from=t) for w, t in states], batch_size=5000)


STALE_SQL = (
    "SELECT w.id FROM registry_medicalworker w LEFT JOIN registry_workerkeystate s ON s.worker_id = w.id "
    "WHERE s.worker_id IS NULL OR s.keys_from < w.updated_at ORDER BY w.id"
)


def stale_key_workers() -> list[int]:
    """Workers whose keys are missing or older than the row (one hash join over the register)."""
    with connection.cursor() as cursor:
        cursor.execute(STALE_SQL)
        return [row[0] for row in cursor.fetchall()]


# --- Term frequencies --------------------------------------------------------------------------------------

TF_SQL = {
    # The folded surname and the sorted pair of first name and patronymic, from the normalized full name
    # (lower case, ё→е, single spaces): the same values linkage.record computes for the exact levels.
    "sn": "SELECT split_part(search_name, ' ', 1), count(*) FROM registry_medicalworker GROUP BY 1",
    "given_key": (
        "SELECT least(split_part(search_name, ' ', 2), split_part(search_name, ' ', 3)) || '|' || "
        "greatest(split_part(search_name, ' ', 2), split_part(search_name, ' ', 3)), count(*) "
        "FROM registry_medicalworker WHERE split_part(search_name, ' ', 2) <> '' GROUP BY 1"
    ),
    "region": "SELECT region_id::text, count(*) FROM registry_medicalworker WHERE region_id IS NOT NULL GROUP BY 1",
    "specialty": (
        "SELECT primary_specialty_id::text, count(*) FROM registry_medicalworker "
        "WHERE primary_specialty_id IS NOT NULL GROUP BY 1"
    ),
}
TF_MIN_COUNT = 2  # a value held by one worker gets the level's floor, not a row of its own
# Below this many workers the register's own frequencies say little (in a register of two Сорокиных the
# surname is "everyone's"): the scores then use the trained u of each level, without adjustment.
TF_MIN_REGISTER = 10_000


def term_frequencies_refresh() -> int:
    """Recount how common each surname, given-name pair, region and specialty is (set-based); returns rows."""
    total = MedicalWorker.objects.count() or 1
    rows: list[NameFrequency] = []
    if total < TF_MIN_REGISTER:
        NameFrequency.objects.all().delete()
        _term_frequencies_changed()
        return 0
    with connection.cursor() as cursor:
        for column, sql in TF_SQL.items():
            if connection.vendor != "postgresql":
                sql = sql.replace("::text", "").replace("split_part(", "_split_part(")
                if "_split_part" in sql:
                    rows += _sqlite_frequencies(column, total)
                    continue
            cursor.execute(sql)
            rows += [
                NameFrequency(column=column, value=str(value)[:250], share=count / total)
                for value, count in cursor.fetchall()
                if value and count >= TF_MIN_COUNT
            ]
    with transaction.atomic():
        NameFrequency.objects.all().delete()
        NameFrequency.objects.bulk_create(rows, batch_size=5000)
    _term_frequencies_changed()
    return len(rows)


def _sqlite_frequencies(column: str, total: int) -> list[NameFrequency]:
    # SQLite has no split_part: the embedded set-up is small, so count in Python.
    counts: dict[str, int] = defaultdict(int)
    for name in MedicalWorker.objects.values_list("search_name", flat=True).iterator():
        words = (name or "").split(" ")
        if column == "sn":
            counts[words[0]] += 1
        elif len(words) > 1 and words[1]:
            pair = sorted((words[1], words[2] if len(words) > 2 else ""))
            counts["|".join(pair)] += 1
    return [
        NameFrequency(column=column, value=value[:250], share=count / total)
        for value, count in counts.items()
        if value and count >= TF_MIN_COUNT
    ]


def term_frequencies() -> dict[str, dict[str, float]]:
    """The stored frequencies: {column: {value: share}}, kept in this process.

    The table (about 30,000 values at 300,000 workers) unpickled from the shared cache on every check
    cost 8 ms of a 23 ms check. So the process keeps its own copy and reads only a small version stamp
    from the shared cache: the scan's refresh changes the stamp and every process re-reads once. A
    missing stamp (evicted, cleared, the cache down) means "re-read" and is set anew.
    """
    version = cache.get(TF_VERSION_KEY)
    if _tf_local and version is not None and version == _tf_local[0]:
        return _tf_local[1]
    tf: dict[str, dict[str, float]] = defaultdict(dict)
    for column, value, share in NameFrequency.objects.values_list("column", "value", "share").iterator():
        tf[column][value] = share
    if version is None:
        version = uuid.uuid4().hex
        cache.set(TF_VERSION_KEY, version, None)
    _tf_local[:] = [version, dict(tf)]
    return _tf_local[1]


def _term_frequencies_changed() -> None:
    cache.set(TF_VERSION_KEY, uuid.uuid4().hex, None)


# --- The check of one record against the register ---------------------------------------------------------


@dataclass(frozen=True)
class ProbableDuplicate:
    worker_id: int
    explanation: Explanation

    @property
    def probability(self) -> float:
        return self.explanation.probability


def candidate_ids(record: Record, *, diploma_numbers: Iterable[str] = (), exclude: Iterable[int] = ()) -> set[int]:
    """Workers sharing a blocking key, a phone, an e-mail, an admission document or a diploma number
    (each through its index; a value shared by hundreds of records adds at most LOOKUP_LIMIT). No
    ordering: with the models' default order and a LIMIT the planner walked the name index over the
    whole register (14 s at 3,000,000 workers) instead of the e-mail index."""
    ids: set[int] = set()
    keys = name_keys(record)
    if keys:
        ids |= set(
            WorkerBlockKey.objects.filter(key__in=keys).order_by().values_list("worker_id", flat=True)[:KEYS_LIMIT]
        )
    if record.phone:
        phones = {f"+7{record.phone}", record.phone}
        ids |= set(
            MedicalWorker.objects.filter(phone__in=phones).order_by().values_list("id", flat=True)[:LOOKUP_LIMIT]
        )
    if record.email:
        ids |= set(
            MedicalWorker.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower=record.email)
            .exclude(email="")
            .order_by()
            .values_list("id", flat=True)[:LOOKUP_LIMIT]
        )
    if record.docs:
        ids |= set(
            AdmissionDocument.objects.filter(number__in=record.docs)
            .order_by()
            .values_list("worker_id", flat=True)[:LOOKUP_LIMIT]
        )
    numbers = {n for n in diploma_numbers if n}
    if numbers:
        for worker_id, series, number in (
            Education.objects.filter(diploma_number__in=numbers)
            .order_by()
            .values_list("worker_id", "diploma_series", "diploma_number")[:LOOKUP_LIMIT]
        ):
            if not record.dips or record_of({"diplomas": [diploma_number(series, number)]}).dips & record.dips:
                ids.add(worker_id)
    return ids - set(exclude)


def score_against(record: Record, others: Iterable[Record], *, threshold: float = THRESHOLD) -> list[ProbableDuplicate]:
    """The others that are probably the same person as ``record``, most probable first."""
    m, tf = scaled_model(), term_frequencies()
    found = []
    for other in others:
        explanation = m.explain(record, other, tf)
        if explanation.veto or explanation.probability < threshold:
            continue
        found.append(ProbableDuplicate(worker_id=other.id, explanation=explanation))
    found.sort(key=lambda d: -d.explanation.match_weight)
    return found


def probable_duplicates(
    *, fields: Mapping[str, Any], exclude: Iterable[int] = (), threshold: float = THRESHOLD, limit: int = 10
) -> list[ProbableDuplicate]:
    """Workers of the register that are probably the person these fields describe (a form's data, an
    import row, a worker's own row with its numbers), most probable first."""
    record = record_of(fields)
    ids = candidate_ids(record, diploma_numbers=fields.get("diploma_numbers") or (), exclude=exclude)
    return score_against(record, worker_records(ids).values(), threshold=threshold)[:limit]


def probable_duplicates_of_worker(*, worker_id: int, threshold: float = THRESHOLD) -> list[ProbableDuplicate]:
    """The same check for a stored worker (with its own document, diploma and employer numbers)."""
    record = worker_records([worker_id]).get(worker_id)
    if record is None:
        return []
    numbers = Education.objects.filter(worker_id=worker_id).values_list("diploma_number", flat=True)
    ids = candidate_ids(record, diploma_numbers=list(numbers), exclude=[worker_id])
    return score_against(record, worker_records(ids).values(), threshold=threshold)


def explanation_rows(explanation: Explanation) -> list[dict[str, Any]]:
    """The field-by-field comparison as stored with a candidate and shown to staff."""
    return [
        {"field": f.field, "text": f.text, "agrees": f.agrees, "weight": f.weight, "comparison": f.comparison}
        for f in explanation.fields
    ]
