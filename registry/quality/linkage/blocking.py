"""Blocking keys: two records become a candidate pair only when they share a key.

Each rule catches the duplicate kinds the others miss, so that every kind in issue 15 is caught by
at least two rules (measured in bench/, see REPORT.md):

- ``sd``  part of surname (gender-neutral stem) + birth date: given names swapped or misspelt,
  double surname recorded as single, woman's surname in male form;
- ``gd``  first name and patronymic (in either order) + birth date: surname misspelt or changed;
- ``sgy`` part of surname + given names + birth year: a wrong digit in the day or month, day and
  month swapped;
- ``sgm`` part of surname + given names + day and month: a wrong digit in the year;
- ``ph``, ``em``, ``doc``, ``dip``: the same phone, e-mail, admission document or diploma number
  (cheap, and they catch records with two kinds of error at once).

The same keys serve the full scan (group records by key) and the incremental check (a key table
with a btree index in PostgreSQL, see `key_hash`).
"""

from __future__ import annotations

import hashlib

from .record import Record

NAME_RULES = ("sd", "gd", "sgy", "sgm")
ID_RULES = ("ph", "em", "doc", "dip")
RULES = NAME_RULES + ID_RULES


def blocking_keys(r: Record, rules: tuple[str, ...] = RULES) -> list[str]:
    """The keys of a record, each «rule:value»; records sharing any key are compared."""
    keys: list[str] = []
    given, dob = r.given_key, r.dob
    year, mmdd = dob[:4], dob[4:]
    if "sd" in rules and dob:
        keys += [f"sd:{p}:{dob}" for p in r.sn_parts]
    if "gd" in rules and dob and r.fn:
        keys.append(f"gd:{given}:{dob}")
    if "sgy" in rules and dob and r.fn:
        keys += [f"sgy:{p}:{given}:{year}" for p in r.sn_parts]
    if "sgm" in rules and dob and r.fn:
        keys += [f"sgm:{p}:{given}:{mmdd}" for p in r.sn_parts]
    if "ph" in rules and r.phone:
        keys.append(f"ph:{r.phone}")
    if "em" in rules and r.email:
        keys.append(f"em:{r.email}")
    if "doc" in rules:
        keys += [f"doc:{d}" for d in sorted(r.docs)]
    if "dip" in rules:
        keys += [f"dip:{d}" for d in sorted(r.dips)]
    return keys


def key_hash(key: str) -> int:
    """A signed 64-bit hash of a key, for a compact bigint key column (a collision only adds a
    candidate, which scoring then rejects)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def candidate_pairs(records: list[Record], rules: tuple[str, ...] = RULES, max_block: int | None = None):
    """Candidate pairs (i, j), i < j, as indexes into ``records``, and per-rule statistics.

    Returns (pairs, stats): pairs is a set of ints ``i << 32 | j``; stats maps rule ->
    {"blocks", "pairs", "largest", "skipped_blocks", "skipped_pairs"}. With ``max_block`` a block
    larger than that is skipped *and counted* (never silently).
    """
    blocks: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        for k in blocking_keys(r, rules):
            blocks.setdefault(k, []).append(i)
    pairs: set[int] = set()
    stats = {rule: {"blocks": 0, "pairs": 0, "largest": 0, "skipped_blocks": 0, "skipped_pairs": 0} for rule in rules}
    for key, members in blocks.items():
        n = len(members)
        if n < 2:
            continue
        s = stats[key.split(":", 1)[0]]
        s["blocks"] += 1
        s["largest"] = max(s["largest"], n)
        if max_block is not None and n > max_block:
            s["skipped_blocks"] += 1
            s["skipped_pairs"] += n * (n - 1) // 2
            continue
        s["pairs"] += n * (n - 1) // 2
        for x in range(n):
            a = members[x]
            for y in range(x + 1, n):
                b = members[y]
                pairs.add(a << 32 | b if a < b else b << 32 | a)
    return pairs, stats
