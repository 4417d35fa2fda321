"""Fellegi–Sunter scoring with stored weights, and the explanation of a score field by field.

The weights file (JSON, see `Model.to_dict`) holds, for every comparison level, m (how often the
level occurs among pairs that are one person) and u (among pairs that are not), and the prior
probability that two records are one person. A pair's match weight is

    log2(prior odds) + sum over fields of log2(m / u) [+ term-frequency adjustment]

and its match probability is 2^w / (1 + 2^w): the same arithmetic as Splink's `predict()`, so
weights trained by Splink (`train.train_weights`) score pairs here without Splink installed.

Term-frequency adjustment (as in Splink): on a level marked with `tf_column` the u of the level is
replaced by the frequency of the pair's value in the register, so «Иванова Елена Александровна»
agreeing counts for less than a rare name agreeing. Frequencies come from a `TermFrequencies`
mapping (column -> value -> share of records), refreshed by the full scan.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .compare import BY_NAME, COMPARISONS, NULL, compare
from .record import Record

FORMAT = "medreg-linkage-weights/1"
# Levels that rule a pair out whatever the score, unless a document proves one person: first names
# that differ entirely (not a typo, not written in the patronymic's place) are what twins and
# siblings have; a birth date that differs by more than a typo is what namesakes have. Without
# the veto a rare enough name outweighs either (measured: REPORT.md). The same rule as the guarded
# merge of issue 15: a differing birth date needs a shared document.
VETOES: frozenset[tuple[str, str]] = frozenset(
    {("given", "patronymic_only"), ("given", "else"), ("dob", "year"), ("dob", "else")}
)
PROOFS: frozenset[tuple[str, str]] = frozenset(
    {("docs", "shared"), ("dips", "shared"), ("snils", "near"), ("inn", "near")}
)
VETO_TEXT = {
    "given": "разные имена: не дубликат (так выглядят близнецы, братья и сёстры)",
    "dob": "даты рождения различаются больше чем опечаткой: не дубликат (так выглядят тёзки)",
}


def vetoed(vector: Mapping[str, str]) -> str:
    """Why a pair with this comparison vector is never a candidate ("" if it may be)."""
    reasons = [VETO_TEXT[name] for name, level in vector.items() if (name, level) in VETOES]
    if reasons and not any((name, level) in PROOFS for name, level in vector.items()):
        return "; ".join(reasons)
    return ""


TermFrequencies = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class LevelWeights:
    m: float
    u: float
    tf_weight: float = 0.0  # 0: no term-frequency adjustment
    tf_min_u: float = 0.0

    @property
    def bayes_factor(self) -> float:
        return self.m / self.u


@dataclass(frozen=True)
class FieldExplanation:
    comparison: str
    field: str  # Russian field name
    level: str
    text: str  # «Фамилия: совпадает с точностью до окончания рода (Иванов / Иванова)»
    weight: float  # log2 of the Bayes factor this field contributed (0 for «not known»)
    agrees: bool | None  # True: counts for, False: against, None: not known


@dataclass(frozen=True)
class Explanation:
    match_weight: float
    probability: float
    fields: tuple[FieldExplanation, ...]
    veto: str = ""  # why the pair is never a candidate, whatever its score (empty: no veto)

    def lines(self) -> list[str]:
        return [f.text for f in self.fields]


@dataclass
class Model:
    prior: float  # probability that two records picked at random are one person
    weights: dict[str, dict[str, LevelWeights]]
    meta: dict[str, Any] = field(default_factory=dict)

    # --- storage ---

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Model:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown weights format: {data.get('format')!r}")
        weights = {
            name: {key: LevelWeights(**values) for key, values in levels.items()}
            for name, levels in data["comparisons"].items()
        }
        missing = [
            f"{c.name}.{level.key}"
            for c in COMPARISONS
            for level in c.levels
            if level.key != NULL and level.key not in weights.get(c.name, {})
        ]
        if missing:
            raise ValueError("weights missing for levels: " + ", ".join(missing))
        return cls(prior=float(data["prior"]), weights=weights, meta=dict(data.get("meta", {})))

    @classmethod
    def load(cls, path: str | Path) -> Model:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "prior": self.prior,
            "meta": self.meta,
            "comparisons": {name: {key: vars(w) for key, w in levels.items()} for name, levels in self.weights.items()},
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    def for_register_size(self, n: int) -> Model:
        """The same weights with the prior scaled to a register of ``n`` records.

        The prior is (duplicate pairs) / (all pairs); with a constant share of duplicated workers
        the duplicate pairs grow like n and all pairs like n^2, so the prior falls like 1/n.
        """
        trained_on = int(self.meta.get("records") or 0)
        if not trained_on or n == trained_on:
            return self
        return Model(prior=self.prior * trained_on / n, weights=self.weights, meta={**self.meta, "records": n})

    # --- scoring ---

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def level_weight(self, comparison: str, level: str, a: Record, b: Record, tf: TermFrequencies | None) -> float:
        if level == NULL:
            return 0.0
        w = self.weights[comparison][level]
        weight = math.log2(w.bayes_factor)
        if w.tf_weight and tf is not None:
            column = next(lv.tf_column for lv in BY_NAME[comparison].levels if lv.key == level)
            if column:
                table = tf.get(column, {})
                freq = max(table.get(getattr(a, column), 0.0), table.get(getattr(b, column), 0.0))
                freq = max(freq, w.tf_min_u)
                if freq > 0:
                    weight += w.tf_weight * math.log2(w.u / freq)
        return weight

    def match_weight(self, a: Record, b: Record, tf: TermFrequencies | None = None, *, veto: bool = False) -> float:
        """log2 of the posterior odds that a and b are one person (the fast path of `explain`).

        With ``veto=True`` a pair that `vetoed` rules out gets -inf."""
        table = self._table()
        total = self.prior_weight
        vector = {c.name: c.level_of(a, b) for c in COMPARISONS}
        if veto and vetoed(vector):
            return -math.inf
        for name, level in vector.items():
            if level == NULL:
                continue
            weight, tf_column, tf_weight, u, tf_min_u = table[name][level]
            total += weight
            if tf_weight and tf is not None:
                freq_table = tf.get(tf_column, {})
                freq = max(freq_table.get(getattr(a, tf_column), 0.0), freq_table.get(getattr(b, tf_column), 0.0))
                freq = max(freq, tf_min_u)
                if freq > 0:
                    total += tf_weight * math.log2(u / freq)
        return total

    def _table(self) -> dict[str, dict[str, tuple]]:
        table = self.__dict__.get("_cached_table")
        if table is None:
            table = {}
            for comparison in COMPARISONS:
                table[comparison.name] = {}
                for level in comparison.levels:
                    if level.key == NULL:
                        continue
                    w = self.weights[comparison.name][level.key]
                    table[comparison.name][level.key] = (
                        math.log2(w.bayes_factor),
                        level.tf_column,
                        w.tf_weight if level.tf_column else 0.0,
                        w.u,
                        w.tf_min_u,
                    )
            self.__dict__["_cached_table"] = table
        return table

    def probability(self, a: Record, b: Record, tf: TermFrequencies | None = None) -> float:
        return probability(self.match_weight(a, b, tf))

    def explain(self, a: Record, b: Record, tf: TermFrequencies | None = None) -> Explanation:
        """Score and, field by field, what agrees and what does not (Russian, for staff)."""
        vector = compare(a, b)
        fields = []
        for comparison in COMPARISONS:
            level_key = vector[comparison.name]
            level = next(lv for lv in comparison.levels if lv.key == level_key)
            weight = self.level_weight(comparison.name, level_key, a, b, tf)
            shown = _shown_values(comparison.name, a, b)
            text = f"{comparison.label}: {level.label}"
            if comparison.name == "given" and level_key == "exact" and a.swapped != b.swapped:
                text += " (в одной из записей имя и отчество переставлены)"
            if shown:
                text += f" ({shown})"
            agrees = None if level_key == NULL else weight > 0
            fields.append(
                FieldExplanation(comparison.name, comparison.label, level_key, text, round(weight, 2), agrees)
            )
        total = self.prior_weight + sum(f.weight for f in fields)
        return Explanation(
            match_weight=round(total, 2),
            probability=probability(total),
            fields=tuple(fields),
            veto=vetoed(vector),
        )


def probability(match_weight: float) -> float:
    if match_weight > 60:
        return 1.0
    if match_weight < -60:
        return 0.0
    odds = 2.0**match_weight
    return odds / (1 + odds)


def _fmt_date(dob: str) -> str:
    return f"{dob[6:8]}.{dob[4:6]}.{dob[:4]}" if dob else "—"


def _shown_values(name: str, a: Record, b: Record) -> str:
    """The two values side by side, as written, for the fields where staff need to see them."""
    if name == "surname":
        x, y = a.raw[0], b.raw[0]
    elif name == "given":
        x, y = " ".join(p for p in a.raw[1:] if p), " ".join(p for p in b.raw[1:] if p)
    elif name == "dob":
        x, y = _fmt_date(a.dob), _fmt_date(b.dob)
    elif name == "sex":
        x, y = a.sex or "—", b.sex or "—"
        x, y = {"M": "М", "F": "Ж"}.get(x, x), {"M": "М", "F": "Ж"}.get(y, y)
    else:
        return ""
    return x if x == y else f"{x or '—'} / {y or '—'}"
