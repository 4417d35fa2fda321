"""The full scan: every candidate pair of a register scored, in Python, with stored weights."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from .blocking import RULES, candidate_pairs
from .model import Model, TermFrequencies
from .record import Record

TF_COLUMNS = ("sn", "given_key", "region", "specialty")


def term_frequencies(records: Sequence[Record]) -> dict[str, dict[str, float]]:
    """Share of records with each surname and each pair of given names (for TF adjustment)."""
    n = len(records) or 1
    result = {}
    for column in TF_COLUMNS:
        counts = Counter(getattr(r, column) for r in records)
        counts.pop("", None)
        result[column] = {value: c / n for value, c in counts.items()}
    return result


def scan(
    records: Sequence[Record],
    model: Model,
    *,
    threshold: float = 0.0,
    rules: tuple[str, ...] = RULES,
    tf: TermFrequencies | None = None,
    max_block: int | None = None,
):
    """Candidate pairs with match weight >= ``threshold`` (bits) and no veto (`model.VETOES`), as
    {(id_a, id_b): weight} with id_a < id_b; the blocking statistics (see `blocking.candidate_pairs`);
    and the number of distinct pairs compared."""
    if tf is None:
        tf = term_frequencies(records)
    model = model.for_register_size(len(records))
    pairs, stats = candidate_pairs(list(records), rules, max_block=max_block)
    found = {}
    score = model.match_weight
    mask = (1 << 32) - 1
    for p in pairs:
        a, b = records[p >> 32], records[p & mask]
        w = score(a, b, tf, veto=True)
        if w >= threshold:
            ka, kb = (a.id, b.id) if a.id < b.id else (b.id, a.id)
            found[(ka, kb)] = w
    return found, stats, len(pairs)
