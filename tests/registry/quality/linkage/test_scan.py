"""The in-memory scan on a small generated register: every kind found, no namesake or twin flagged."""

import math
from collections import Counter
from pathlib import Path

import pytest

from perf import synthetic_duplicates as gen
from registry.quality.linkage import Model, prepare
from registry.quality.linkage.compare import compare
from registry.quality.linkage.scan import scan, term_frequencies

WEIGHTS = Path(__file__).parent / "fixtures" / "weights.json"


@pytest.fixture(scope="module")
def register():
    g = gen.Generator(8000, seed=7, dup_rate=0.1, share_scale=1.0, surnames="tail", namesake_rate=0.03, twin_rate=0.03)
    records, kinds, of, person = [], {}, {}, {}
    for r in g.build():
        d = dict(zip(gen.HEADER, r, strict=True))
        rid = int(d["id"])
        records.append(
            prepare(
                {
                    **d,
                    "id": rid,
                    "documents": d["documents"].split(";") if d["documents"] else (),
                    "diplomas": d["diplomas"].split(";") if d["diplomas"] else (),
                    "employers": d["employers"].split(";") if d["employers"] else (),
                }
            )
        )
        kinds[rid], of[rid], person[rid] = d["kind"], int(d["of"]) if d["of"] != "" else None, int(d["person"])
    return records, kinds, of, person


def test_every_kind_is_found_and_no_namesake_or_twin_is_flagged(register):
    records, kinds, of, person = register
    found, stats, _n = scan(records, Model.load(WEIGHTS), threshold=0.0)  # p >= 0.5
    total, hit = Counter(), Counter()
    for rid, kind in kinds.items():
        if kind in gen.KINDS:
            total[kind] += 1
            hit[kind] += (min(rid, of[rid]), max(rid, of[rid])) in found
    assert set(total) == set(gen.KINDS)
    for kind in gen.KINDS:
        assert hit[kind] / total[kind] >= 0.9, (kind, hit[kind], total[kind])
    by_id = {r.id: r for r in records}
    for a, b in found:
        if person[a] != person[b] and {"namesake", "twin"} & {kinds[a], kinds[b]}:
            # only a namesake whose random birth date fell one digit away may look like a duplicate
            assert compare(by_id[a], by_id[b])["dob"] in ("digit", "day_month"), (kinds[a], kinds[b])
    assert stats["sd"]["pairs"] > 0 and all(s["skipped_pairs"] == 0 for s in stats.values())


def test_fast_score_and_explanation_agree_with_term_frequencies(register):
    records, *_ = register
    tf = term_frequencies(records)
    model = Model.load(WEIGHTS).for_register_size(len(records))
    for a, b in zip(records[:300], records[-300:], strict=True):
        w = model.match_weight(a, b, tf)
        assert model.explain(a, b, tf).match_weight == pytest.approx(w, abs=0.05)
    assert math.isfinite(w)
