import json
import math
from pathlib import Path

import pytest

from registry.quality.linkage import Model, compare, prepare
from registry.quality.linkage.model import VETO_TEXT
from tests.registry.quality.linkage.kinds import KINDS, NEGATIVES, pair

WEIGHTS = Path(__file__).parent / "fixtures" / "weights.json"
REGISTER = 300_000
THRESHOLD = 0.5  # REPORT.md: candidates are stored from p >= 0.5


@pytest.fixture(scope="module")
def model():
    return Model.load(WEIGHTS).for_register_size(REGISTER)


EXPECTED_LEVEL = {
    "exact": ("surname", "exact"),
    "yo": ("given", "exact"),
    "case_space": ("surname", "exact"),
    "surname_typo": ("surname", "typo"),
    "swap": ("given", "exact"),
    "double_single": ("surname", "part"),
    "female_male": ("surname", "gender"),
    "dob_digit": ("dob", "digit"),
    "dob_daymonth": ("dob", "day_month"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_reaches_its_level(kind):
    a, b = (prepare(r) for r in pair(kind))
    name, level = EXPECTED_LEVEL[kind]
    assert compare(a, b)[name] == level


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_found_with_nothing_shared_but_name_birth_date_region_and_specialty(model, kind):
    a, b = (prepare(r) for r in pair(kind))
    assert model.probability(a, b) >= THRESHOLD, model.explain(a, b).lines()


@pytest.mark.parametrize("kind", sorted(NEGATIVES))
def test_namesakes_and_twins_are_not_flagged(model, kind):
    a, b = (prepare(r) for r in pair(kind))
    assert model.match_weight(a, b, veto=True) < math.log2(THRESHOLD / (1 - THRESHOLD)), model.explain(a, b).lines()


def test_twins_are_vetoed_even_when_their_score_is_high(model):
    a, b = (prepare(r) for r in pair("twin_sister"))
    assert model.match_weight(a, b, veto=True) == -math.inf
    assert model.explain(a, b).veto == VETO_TEXT["given"]


def test_a_namesake_with_a_rare_name_is_vetoed_but_a_shared_diploma_lifts_the_veto(model):
    a, b = (prepare(r) for r in pair("namesake"))
    rare = {"sn": {a.sn: 1e-7}, "given_key": {a.given_key: 1e-7}}
    assert model.match_weight(a, b, rare) > 0  # the name alone would make it a candidate
    assert model.match_weight(a, b, rare, veto=True) == -math.inf
    assert model.explain(a, b).veto == VETO_TEXT["dob"]
    c = prepare({**pair("namesake")[1], "diplomas": pair("namesake")[0]["diplomas"]})
    assert model.match_weight(a, c, rare, veto=True) > 0
    assert model.explain(a, c).veto == ""


def test_a_common_name_counts_for_less_than_a_rare_one(model):
    a, b = (prepare(r) for r in pair("dob_digit"))
    rare = {"sn": {a.sn: 1e-6}, "given_key": {a.given_key: 1e-5}}
    common = {"sn": {a.sn: 1e-2}, "given_key": {a.given_key: 2e-3}}
    assert model.match_weight(a, b, rare) > model.match_weight(a, b) > model.match_weight(a, b, common)


def test_a_larger_register_lowers_the_prior(model):
    a, b = (prepare(r) for r in pair("dob_digit"))
    bigger = Model.load(WEIGHTS).for_register_size(10 * REGISTER)
    assert bigger.match_weight(a, b) == pytest.approx(model.match_weight(a, b) - math.log2(10), abs=0.01)


def test_explanation_names_each_field_in_russian(model):
    a, b = (prepare(r) for r in pair("female_male"))
    e = model.explain(a, b)
    lines = e.lines()
    assert "Фамилия: совпадает с точностью до окончания рода (Сорокина / Сорокин)" in lines
    assert "Имя и отчество: совпадают (Светлана Олеговна)" in lines
    assert "Дата рождения: совпадает (17.03.1984)" in lines
    assert "СНИЛС: другой" in lines
    assert e.probability == pytest.approx(model.probability(a, b))
    by_field = {f.comparison: f for f in e.fields}
    assert by_field["surname"].agrees and by_field["dob"].agrees and by_field["snils"].agrees is False


def test_explanation_mentions_a_swap_and_unknown_fields(model):
    a, b = (prepare(r) for r in pair("swap"))
    b2 = prepare({**pair("swap")[1], "inn": ""})
    assert any("переставлены" in line for line in model.explain(a, b).lines())
    inn = next(f for f in model.explain(a, b2).fields if f.comparison == "inn")
    assert inn.agrees is None and inn.weight == 0 and inn.text == "ИНН: не указан в одной из записей"


def test_weights_round_trip_through_json(tmp_path):
    m = Model.load(WEIGHTS)
    m.save(tmp_path / "w.json")
    assert Model.load(tmp_path / "w.json").to_dict() == m.to_dict()


def test_weights_with_a_level_missing_are_refused(tmp_path):
    data = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    del data["comparisons"]["dob"]["digit"]
    with pytest.raises(ValueError, match=r"dob\.digit"):
        Model.from_dict(data)
