"""The SQL Splink runs and the Python scorer give every pair the same comparison vector."""

import duckdb

from registry.quality.linkage import prepare
from registry.quality.linkage.blocking import candidate_pairs
from registry.quality.linkage.compare import COMPARISONS, compare
from registry.quality.linkage.train import load_prepared, write_prepared
from tests.registry.quality.linkage.kinds import KINDS, NEGATIVES, pair


def _sql_vectors(records, pairs, tmp_path):
    con = duckdb.connect()
    path = str(tmp_path / "prepared.tsv")
    write_prepared(records, path)
    load_prepared(con, path)
    con.execute("CREATE TABLE pairs (l BIGINT, r BIGINT)")
    con.executemany("INSERT INTO pairs VALUES (?, ?)", [(records[i].id, records[j].id) for i, j in pairs])
    cols = [c for c in con.execute("SELECT * FROM workers LIMIT 0").description]
    names = [c[0] for c in cols]
    select = ", ".join(f"a.{n} AS {n}_l, b.{n} AS {n}_r" for n in names)
    cases = []
    for c in COMPARISONS:
        whens = " ".join(f"WHEN {lv.sql} THEN '{lv.key}'" for lv in c.levels if lv.sql != "ELSE")
        cases.append(f"CASE {whens} ELSE 'else' END AS {c.name}")
    sql = (
        f"SELECT unique_id_l, unique_id_r, {', '.join(cases)} FROM (SELECT {select} FROM pairs "  # noqa: S608
        "JOIN workers a ON a.unique_id = pairs.l JOIN workers b ON b.unique_id = pairs.r)"
    )
    return {
        (row[0], row[1]): dict(zip([c.name for c in COMPARISONS], row[2:], strict=True))
        for row in con.execute(sql).fetchall()
    }


def test_sql_and_python_levels_agree_on_every_kind_and_negative(tmp_path):
    records, pairs = [], []
    for n, kind in enumerate(sorted(KINDS) + sorted(NEGATIVES)):
        a, b = pair(kind)
        records += [prepare({**a, "id": 2 * n + 1}), prepare({**b, "id": 2 * n + 2})]
        pairs.append((2 * n, 2 * n + 1))
    sql = _sql_vectors(records, pairs, tmp_path)
    for i, j in pairs:
        assert sql[(records[i].id, records[j].id)] == compare(records[i], records[j])


def test_sql_and_python_levels_agree_on_a_generated_register(tmp_path):
    from perf import synthetic_duplicates as gen

    g = gen.Generator(
        4000, seed=11, dup_rate=0.1, share_scale=1.0, surnames="faker", namesake_rate=0.05, twin_rate=0.05
    )
    rows = g.build()
    header = gen.HEADER
    records = []
    for r in rows:
        d = dict(zip(header, r, strict=True))
        records.append(prepare({
            **d, "id": int(d["id"]), "documents": d["documents"].split(";") if d["documents"] else (),
            "diplomas": d["diplomas"].split(";") if d["diplomas"] else (),
            "employers": d["employers"].split(";") if d["employers"] else (),
        }))  # fmt: skip
    found, _stats = candidate_pairs(records)
    pairs = [(p >> 32, p & 0xFFFFFFFF) for p in found]
    assert len(pairs) > 300
    sql = _sql_vectors(records, pairs, tmp_path)
    differing = [(i, j) for i, j in pairs if sql[(records[i].id, records[j].id)] != compare(records[i], records[j])]
    assert not differing, [
        (compare(records[i], records[j]), sql[(records[i].id, records[j].id)]) for i, j in differing[:3]
    ]
