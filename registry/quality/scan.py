"""The duplicate scan: every pair of workers that share a blocking key or an identifier, scored.

Steps (the job reports each with its progress in DuplicateScanRun):

1. keys: workers whose blocking keys are missing or older than the row get them
   (matching.stale_key_workers; every service keeps them current, so after the first run this is
   what bulk loads wrote);
2. term frequencies of names, regions and specialties are recounted;
3. candidate pairs: a self-join of the key table, and of the register on phone, e-mail, admission
   document and diploma numbers. A block (one key or one shared value) larger than BLOCK_CAP is not
   paired: it is a placeholder value («+70000000000»), not a person, and every such block is counted
   in the report with the pairs it would have made: nothing is skipped silently;
4. each pair is scored with the stored weights (linkage.Model; twins and namesakes vetoed) and those
   at or above matching.THRESHOLD become DuplicateCandidate rows with their explanation. A pair
   already known, open, merged or dismissed («Не дубликат»), is never offered again.

A scan limited to some workers (an import's rows) pairs only them against the register.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from core import reconcile
from core.claims import claim_row

from ..models import DuplicateCandidate, DuplicateScanRun
from . import matching
from .linkage import Explanation
from .linkage.model import probability

logger = logging.getLogger(__name__)

BLOCK_CAP = 1000  # records sharing one key or value beyond which the block is reported, not paired
SCORE_BATCH = 20_000  # pairs scored per round (their workers read in four queries)
SCAN_WORK_MEM = "256MB"  # for the scan's own transaction only (SET LOCAL)
KEYS_ROUND = 50_000  # workers whose keys are computed per round of the catch-up
STALE_RUNNING = dt.timedelta(hours=2)

# Candidate pair rules: a self-join on one indexed value ({x} is the table alias).
RULES = {
    "keys": ("registry_workerblockkey", "worker_id", "{x}.key", "{x}.key IS NOT NULL"),
    "phone": ("registry_medicalworker", "id", "{x}.phone", "{x}.phone <> ''"),
    "email": ("registry_medicalworker", "id", "lower({x}.email)", "{x}.email <> ''"),
    "document": ("registry_admissiondocument", "worker_id", "{x}.number", "{x}.number <> ''"),
    "diploma": (
        "registry_education",
        "worker_id",
        "{x}.diploma_series || {x}.diploma_number",
        "{x}.diploma_number <> ''",
    ),
}


@dataclass(frozen=True)
class Found:
    a: int  # a < b
    b: int
    explanation: Explanation


@dataclass
class ScanResult:
    workers: int = 0
    keys_refreshed: int = 0
    pairs: int = 0
    new: int = 0
    found: list[Found] = field(default_factory=list)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)

    def by_worker(self) -> dict[int, list[tuple[int, float]]]:
        """For each worker of a found pair: the other worker and the probability (an import report)."""
        result: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for f in self.found:
            result[f.a].append((f.b, f.explanation.probability))
            result[f.b].append((f.a, f.explanation.probability))
        return result


Progress = Callable[[str, int], None]


def _no_progress(stage: str, percent: int) -> None:
    return None


def duplicates_detect(*, worker_ids: Iterable[int] | None = None, progress: Progress = _no_progress) -> ScanResult:
    """Scan the register (or these workers against it), store new candidates, return what was found."""
    result = ScanResult()
    only = sorted(set(worker_ids)) if worker_ids is not None else None
    progress("Ключи сопоставления", 0)
    stale = matching.stale_key_workers() if only is None else only
    for start in range(0, len(stale), KEYS_ROUND):
        result.keys_refreshed += matching.block_keys_refresh(worker_ids=stale[start : start + KEYS_ROUND])
        progress("Ключи сопоставления", 35 * min(start + KEYS_ROUND, len(stale)) // max(len(stale), 1))
    if only is None:
        if result.keys_refreshed and connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # a bulk load's fresh keys: the planner needs their statistics
                cursor.execute("ANALYZE registry_workerblockkey")
        progress("Частоты имён", 35)
        matching.term_frequencies_refresh()
    progress("Пары для сравнения", 40)
    pairs = sorted(candidate_pairs(only=only, result=result))
    result.pairs = len(pairs)
    result.workers = matching.register_size() if only is None else len(only)
    for start in range(0, len(pairs), SCORE_BATCH):
        result.found += score_pairs(pairs[start : start + SCORE_BATCH])
        progress("Сравнение пар", 50 + 45 * min(start + SCORE_BATCH, len(pairs)) // max(len(pairs), 1))
    result.new = candidates_store(result.found)
    progress("Готово", 100)
    return result


def candidate_pairs(*, only: list[int] | None, result: ScanResult) -> set[tuple[int, int]]:
    """Pairs (a, b), a < b, sharing a key or a value; blocks over BLOCK_CAP counted in result.skipped."""
    pairs: set[tuple[int, int]] = set()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The groups of 12 million keys (3 million workers) hash in memory instead of spilling to disk.
            cursor.execute("SET LOCAL work_mem = %s", [SCAN_WORK_MEM])
        if only is not None:
            _only_table(cursor, only)
        for rule, sql in RULES.items():
            _shared_values_table(cursor, sql, only is not None)
            cursor.execute(
                "SELECT count(*), coalesce(sum(n * (n - 1) / 2), 0) FROM scan_groups WHERE n > %s", [BLOCK_CAP]
            )
            blocks, skipped_pairs = cursor.fetchone()
            if blocks:
                result.skipped[rule] = {"blocks": int(blocks), "pairs": int(skipped_pairs)}
            cursor.execute(_pairs_sql(sql, only is not None), [BLOCK_CAP])
            before = len(pairs)
            for a, b in cursor.fetchall():
                pairs.add((a, b) if a < b else (b, a))
            result.stats[rule] = {"pairs": len(pairs) - before}
        cursor.execute("DROP TABLE IF EXISTS scan_groups")
        if only is not None:
            cursor.execute("DROP TABLE scan_only")
    return pairs


def _shared_values_table(cursor, sql: tuple[str, str, str, str], only: bool) -> None:
    """scan_groups(v, n): the values of one rule held by two records or more (only those touching
    scan_only's workers in a limited scan). Most keys are one worker's own: pairing only the shared ones
    keeps the self-join small (at 300,000 workers 30,000 of 1.2 million keys)."""
    table, worker, value, where = sql
    vt, wt, va, wa = value.format(x="t"), where.format(x="t"), value.format(x="a"), where.format(x="a")
    touching = f"AND {vt} IN (SELECT {va} FROM {table} a WHERE {wa} AND a.{worker} IN (SELECT id FROM scan_only))"  # noqa: S608
    cursor.execute("DROP TABLE IF EXISTS scan_groups")
    # Table and column names come from RULES above, never from input.
    cursor.execute(
        f"CREATE TEMPORARY TABLE scan_groups AS SELECT {vt} AS v, count(*) AS n FROM {table} t "  # noqa: S608
        f"WHERE {wt} {touching if only else ''} GROUP BY {vt} HAVING count(*) > 1"
    )
    cursor.execute("ANALYZE scan_groups")


def _pairs_sql(sql: tuple[str, str, str, str], only: bool) -> str:
    table, worker, value, where = sql
    va, vb, wa, wb = value.format(x="a"), value.format(x="b"), where.format(x="a"), where.format(x="b")
    scope = f"a.{worker} IN (SELECT id FROM scan_only)" if only else f"a.{worker} < b.{worker}"  # noqa: S608
    return (
        f"SELECT a.{worker}, b.{worker} FROM scan_groups g "  # noqa: S608
        f"JOIN {table} a ON {va} = g.v AND {wa} JOIN {table} b ON {vb} = g.v AND {wb} AND a.{worker} <> b.{worker} "
        f"WHERE g.n <= %s AND {scope}"
    )


def _only_table(cursor, ids: list[int]) -> None:
    cursor.execute("DROP TABLE IF EXISTS scan_only")
    cursor.execute("CREATE TEMPORARY TABLE scan_only (id bigint PRIMARY KEY)")
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        cursor.execute("INSERT INTO scan_only (id) VALUES " + ", ".join(["(%s)"] * len(chunk)), chunk)  # noqa: S608


def score_pairs(pairs: list[tuple[int, int]]) -> list[Found]:
    """The pairs at or above the threshold with no veto, each with its explanation."""
    records = matching.worker_records({w for pair in pairs for w in pair})
    m, tf = matching.scaled_model(), matching.term_frequencies()
    found = []
    for a, b in pairs:
        ra, rb = records.get(a), records.get(b)
        if ra is None or rb is None:
            continue
        if probability(m.match_weight(ra, rb, tf, veto=True)) >= matching.THRESHOLD:
            found.append(Found(a, b, m.explain(ra, rb, tf)))
    return found


def candidates_store(found: Iterable[Found]) -> int:
    """Store the pairs not yet known; a known pair (open, merged or dismissed) is left as it is, an open
    one gets the new score. Returns how many were added."""
    rows = [
        DuplicateCandidate(
            worker_a_id=f.a,
            worker_b_id=f.b,
            reason=DuplicateCandidate.Reason.LINKAGE,
            probability=f.explanation.probability,
            match_weight=f.explanation.match_weight,
            explanation=matching.explanation_rows(f.explanation),
        )
        for f in found
    ]
    added = 0
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        with transaction.atomic():
            known = {
                (a, b): (pk, status)
                for pk, a, b, status in DuplicateCandidate.objects.filter(
                    worker_a_id__in={r.worker_a_id for r in chunk}
                ).values_list("pk", "worker_a_id", "worker_b_id", "status")
            }
            fresh = [r for r in chunk if (r.worker_a_id, r.worker_b_id) not in known]
            DuplicateCandidate.objects.bulk_create(fresh, ignore_conflicts=True)
            added += len(fresh)
            for r in chunk:
                pk, status = known.get((r.worker_a_id, r.worker_b_id), (None, None))
                if status == DuplicateCandidate.Status.OPEN:
                    DuplicateCandidate.objects.filter(pk=pk).update(
                        probability=r.probability, match_weight=r.match_weight, explanation=r.explanation
                    )
    return added


# --- The scan as a background job -------------------------------------------------------------------------


def duplicate_scan_start(*, requested_by=None) -> DuplicateScanRun:
    """Queue a full scan (one at a time: a queued or running scan is returned instead of a second)."""
    with transaction.atomic():
        running = (
            DuplicateScanRun.objects.select_for_update()
            .filter(status__in=[DuplicateScanRun.Status.QUEUED, DuplicateScanRun.Status.RUNNING])
            .first()
        )
        if running is not None:
            return running
        run = DuplicateScanRun.objects.create(requested_by=requested_by)
        reconcile.enqueue_on_commit("registry.duplicate_scan", str(run.pk))
    return run


def duplicate_scan_run(*, run_id) -> str:
    """Run a queued scan once (claimed by a conditional UPDATE; a duplicate delivery stops here)."""
    if not claim_row(
        DuplicateScanRun,
        pk=run_id,
        queued=DuplicateScanRun.Status.QUEUED,
        running=DuplicateScanRun.Status.RUNNING,
        lease=STALE_RUNNING,
        now=timezone.now(),
        progress=0,
        error="",
    ):
        return "skipped"

    def progress(stage: str, percent: int) -> None:
        DuplicateScanRun.objects.filter(pk=run_id).update(stage=stage, progress=min(percent, 99))

    try:
        result = duplicates_detect(progress=progress)
    except Exception as exc:
        DuplicateScanRun.objects.filter(pk=run_id).update(
            status=DuplicateScanRun.Status.FAILED, error=type(exc).__name__, finished_at=timezone.now()
        )
        raise
    DuplicateScanRun.objects.filter(pk=run_id).update(
        status=DuplicateScanRun.Status.DONE,
        stage="Готово",
        progress=100,
        finished_at=timezone.now(),
        workers=result.workers,
        keys_refreshed=result.keys_refreshed,
        pairs=result.pairs,
        candidates_new=result.new,
        skipped=result.skipped,
        stats=result.stats,
    )
    logger.info("duplicate scan %s: %s pairs, %s new candidates", run_id, result.pairs, result.new)
    return "done"
