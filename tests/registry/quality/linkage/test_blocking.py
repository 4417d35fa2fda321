import pytest

from registry.quality.linkage import blocking, prepare
from registry.quality.linkage.blocking import NAME_RULES, blocking_keys, candidate_pairs, key_hash
from tests.registry.quality.linkage.kinds import KINDS, pair


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_shares_a_name_key_with_its_original(kind):
    a, b = (prepare(r) for r in pair(kind))
    shared = set(blocking_keys(a, NAME_RULES)) & set(blocking_keys(b, NAME_RULES))
    assert shared, f"{kind}: no common blocking key"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_caught_by_two_name_rules_unless_it_breaks_two(kind):
    a, b = (prepare(r) for r in pair(kind))
    rules = {k.split(":")[0] for k in set(blocking_keys(a, NAME_RULES)) & set(blocking_keys(b, NAME_RULES))}
    # a wrong birth date leaves only the rules without the full date; a misspelt surname only «gd»
    assert len(rules) >= (1 if kind.startswith("dob") or kind == "surname_typo" else 2), (kind, rules)


def test_identifier_rules_pair_records_sharing_a_phone():
    a, b = (prepare(r) for r in pair("exact"))
    c = prepare({"id": 3, "last_name": "Другая", "first_name": "Анна", "phone": a.phone})
    assert set(blocking_keys(a)) & set(blocking_keys(c)) == {f"ph:{a.phone}"}
    assert not set(blocking_keys(b)) & set(blocking_keys(c))


def test_candidate_pairs_counts_each_pair_once_and_reports_rules():
    a, b = (prepare(r) for r in pair("exact"))
    pairs, stats = candidate_pairs([a, b, prepare({"id": 9, "last_name": "Никто"})])
    assert pairs == {0 << 32 | 1}
    assert stats["sd"]["pairs"] == 1 and stats["gd"]["pairs"] == 1


def test_oversized_blocks_are_skipped_and_counted_never_silently():
    records = [prepare({"id": i, "last_name": "Иванова", "first_name": "Анна", "middle_name": "Ивановна",
                        "birth_date": "1980-01-01"}) for i in range(6)]  # fmt: skip
    pairs, stats = candidate_pairs(records, ("sd",), max_block=5)
    assert not pairs
    assert stats["sd"]["skipped_blocks"] == 1 and stats["sd"]["skipped_pairs"] == 15


def test_key_hash_is_a_stable_signed_64_bit_integer():
    h = key_hash("sd:иванов:19800101")
    assert h == key_hash("sd:иванов:19800101") != key_hash("sd:иванов:19800102")
    assert -(2**63) <= h < 2**63
    assert blocking.key_hash("") == key_hash("")
