"""Training with Splink on a small generated register gives a complete, sensible model."""

import pytest

from perf import synthetic_duplicates as gen
from registry.quality.linkage import Model, prepare
from registry.quality.linkage.compare import COMPARISONS, NULL
from registry.quality.linkage.train import train_weights
from tests.registry.quality.linkage.kinds import KINDS, NEGATIVES, pair


@pytest.fixture(scope="module")
def trained():
    g = gen.Generator(20_000, seed=21, dup_rate=0.05, share_scale=1.0, surnames="tail", namesake_rate=0.01,
                      twin_rate=0.005)  # fmt: skip
    records = []
    for r in g.build():
        d = dict(zip(gen.HEADER, r, strict=True))
        records.append(prepare({
            **d, "id": int(d["id"]), "documents": d["documents"].split(";") if d["documents"] else (),
            "diplomas": d["diplomas"].split(";") if d["diplomas"] else (),
            "employers": d["employers"].split(";") if d["employers"] else (),
        }))  # fmt: skip
    return train_weights(records, seed=3, u_pairs=3e5, note="test")


def test_every_level_gets_weights_and_the_run_is_recorded(trained):
    for c in COMPARISONS:
        for level in c.levels:
            if level.key != NULL:
                w = trained.weights[c.name][level.key]
                assert 0 < w.m <= 1 and 0 < w.u <= 1, (c.name, level.key)
    assert 19_000 < trained.meta["records"] <= 20_000 and trained.meta["splink"].startswith("4.")
    assert 0 < trained.prior < 1e-3


def test_agreement_counts_for_and_disagreement_against(trained):
    bf = {(c, k): w.bayes_factor for c, levels in trained.weights.items() for k, w in levels.items()}
    for agree in [("surname", "exact"), ("surname", "gender"), ("given", "exact"), ("dob", "exact"),
                  ("dob", "day_month"), ("phone", "exact"), ("snils", "near")]:  # fmt: skip
        assert bf[agree] > 10, agree
    for disagree in [("surname", "else"), ("given", "else"), ("given", "patronymic_only"), ("dob", "else")]:
        assert bf[disagree] < 0.1, disagree


def test_the_trained_model_finds_each_kind_and_leaves_negatives(trained):
    model = Model.from_dict(trained.to_dict())
    for kind in KINDS:
        a, b = (prepare(r) for r in pair(kind))
        assert model.probability(a, b) >= 0.5, (kind, model.explain(a, b).lines())
    for kind in NEGATIVES:
        a, b = (prepare(r) for r in pair(kind))
        assert model.match_weight(a, b, veto=True) < 0, (kind, model.explain(a, b).lines())
