"""Train (or refresh) the weights with Splink 4 on DuckDB, and export them for `model.Model`.

Splink is imported here only: scoring, explanations and the incremental check need the JSON
weights and rapidfuzz, not Splink, DuckDB or pandas.

Training, the usual Splink recipe:

1. the prior (probability that two random records are one person) from deterministic rules
   (same surname, first name, patronymic and birth date; or a near SNILS with the same birth date),
   with an assumed recall of those rules;
2. u of every level from random pairs (`estimate_u_using_random_sampling`): random pairs are
   almost never one person, so level frequencies among them are u;
3. m by expectation maximisation in two sessions, on pairs that share a phone and on pairs that
   share an e-mail (each session trains every comparison but the one it blocks on).

Re-training: run `train_weights` on the current register (or a sample of a few hundred thousand
workers: the weights do not depend on the register's size) and save the model next to the old
one; `meta` records when, on how many records and with which Splink version.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

from .compare import COMPARISONS, NULL
from .model import LevelWeights, Model
from .record import Record, prepare

PREPARED_COLUMNS = ("unique_id", "sn", "sn_key", "sn_parts", "fn", "mn", "mn_stem", "given_key", "dob", "sex",
                    "snils", "inn", "phone", "email", "docs", "dips", "orgs", "region", "specialty")  # fmt: skip
LIST_COLUMNS = ("sn_parts", "docs", "dips", "orgs")


def write_prepared(records: Iterable[Record], path: str) -> int:
    """Prepared records as TSV (lists joined with «;»); `load_prepared` reads it into DuckDB."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        w.writerow(PREPARED_COLUMNS)
        for r in records:
            w.writerow((r.id, r.sn, r.sn_key, ";".join(r.sn_parts), r.fn, r.mn, r.mn_stem, r.given_key, r.dob,
                        r.sex, r.snils, r.inn, r.phone, r.email, ";".join(sorted(r.docs)), ";".join(sorted(r.dips)),
                        ";".join(sorted(r.orgs)), r.region, r.specialty))  # fmt: skip
            n += 1
    return n


def load_prepared(con: Any, path: str, table: str = "workers") -> None:
    """A DuckDB table of prepared records, empty strings as NULL, lists as LIST(VARCHAR)."""
    cols = []
    for c in PREPARED_COLUMNS:
        if c == "unique_id":
            cols.append("unique_id")
        elif c in LIST_COLUMNS:
            cols.append(f"CASE WHEN {c} IS NULL OR {c} = '' THEN NULL ELSE string_split({c}, ';') END AS {c}")
        else:
            cols.append(f"NULLIF({c}, '') AS {c}")
    types = ", ".join(f"'{c}': '{'BIGINT' if c == 'unique_id' else 'VARCHAR'}'" for c in PREPARED_COLUMNS)
    # Names from our own constants and a temp-file path we made, in a private in-memory DuckDB.
    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(cols)} FROM read_csv('{path}', delim='\t', "  # noqa: S608
        f"header=true, quote='', escape='', columns={{{types}}})"
    )


def splink_settings(blocking_rules: list | None = None) -> Any:
    from splink import SettingsCreator

    comparisons = []
    for c in COMPARISONS:
        levels = []
        for level in c.levels:
            d: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.key}
            if level.key == NULL:
                d["is_null_level"] = True
            if level.tf_column:
                d["tf_adjustment_column"] = level.tf_column
                d["tf_adjustment_weight"] = 1.0
            levels.append(d)
        comparisons.append({"output_column_name": c.name, "comparison_levels": levels})
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking_rules if blocking_rules is not None else prediction_rules(),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def prediction_rules() -> list:
    """The rules of `blocking.RULES` in Splink's terms (same candidate pairs)."""
    from splink import block_on

    parts = {"arrays_to_explode": ["sn_parts"]}
    return [
        block_on("sn_parts", "dob", **parts),
        block_on("given_key", "dob"),
        block_on("sn_parts", "given_key", "substr(dob, 1, 4)", **parts),
        block_on("sn_parts", "given_key", "substr(dob, 5, 4)", **parts),
        block_on("phone"),
        block_on("email"),
        block_on("docs", arrays_to_explode=["docs"]),
        block_on("dips", arrays_to_explode=["dips"]),
    ]


def linker_for(con: Any, table: str = "workers", blocking_rules: list | None = None) -> Any:
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(connection=con)
    return Linker(table, splink_settings(blocking_rules), db_api=db_api)


def train_linker(linker: Any, *, seed: int = 1, u_pairs: float = 5e6, prior_recall: float = 0.7) -> None:
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("sn", "fn", "mn", "dob")], recall=prior_recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    # m by EM on pairs that share a phone, then an e-mail: among them the two classes separate
    # cleanly. Blocking on the birth date or on the names instead lets EM take relatives for
    # matches (twins share surname, patronymic and birth date; namesakes the whole name) and it
    # learned «patronymic agrees, first name differs» as evidence *for* a match (measured: REPORT.md).
    for rule in (block_on("phone"), block_on("email")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)


# Levels that training may not observe at all, and what they get then (documented in REPORT.md):
# - u of agreement on an identifier (near SNILS/INN, same phone, e-mail, document, diploma): random
#   pairs practically never agree, so random sampling sees none; U_FLOOR is a deliberately
#   conservative «one pair in ten thousand» (families share a phone, clerks reuse an e-mail), so
#   one shared identifier is worth about 2^11 and never decides alone against the names; a
#   shared employer gets 1e-3 (a large hospital employs thousands: relatives and namesakes share one);
# - m of a level no duplicate showed in the training data (a wholly different birth date, a missing
#   patronymic): M_FLOOR. (An entirely different first name, what twins have, is a veto in
#   `model.VETOES`, whatever the weights say: measured twins reached p = 0.67 on a rare surname,
#   the same birth date, employer, region and specialty.)
U_FLOOR = 1e-4
U_FLOORS = {"orgs": 1e-3}
M_FLOOR = 1e-4
M_FLOORS: dict[str, float] = {}
IDENTIFIER_COMPARISONS = ("snils", "inn", "phone", "email", "docs", "dips", "orgs")


def export_model(linker: Any, *, records: int, note: str = "") -> Model:
    """The trained Splink model as a `Model` (levels matched by their labels; untrained m or u
    get M_FLOOR / U_FLOOR and are listed in ``meta["floored"]``)."""
    import splink

    data = linker.misc.save_model_to_json()
    weights: dict[str, dict[str, LevelWeights]] = {}
    floored: list[str] = []
    for comp in data["comparisons"]:
        levels = {}
        for level in comp["comparison_levels"]:
            key = level["label_for_charts"]
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            name = comp["output_column_name"]
            m_floor = M_FLOORS.get(name, M_FLOOR)
            if m is None or m < m_floor:
                floored.append(f"{name}.{key}.m")
                m = m_floor if m is None else max(m, m_floor)
            floor = U_FLOORS.get(name, U_FLOOR)
            if u is None or (u < floor and name in IDENTIFIER_COMPARISONS and key != "else"):
                # agreement on an identifier that random pairs almost never reach: floor its u
                floored.append(f"{comp['output_column_name']}.{key}.u")
                u = floor if u is None else max(u, floor)
            levels[key] = LevelWeights(
                m=float(m),
                u=float(u),
                tf_weight=float(level.get("tf_adjustment_weight", 0.0)) if level.get("tf_adjustment_column") else 0.0,
                tf_min_u=float(level.get("tf_minimum_u_value", 0.0)),
            )
        weights[comp["output_column_name"]] = levels
    meta = {
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "records": records,
        "splink": splink.__version__,
        "note": note,
        "floored": floored,
    }
    return Model(prior=float(data["probability_two_random_records_match"]), weights=weights, meta=meta)


def train_weights_from_rows(rows: Iterable[Mapping[str, Any]], **kwargs: Any) -> Model:
    """`train_weights` on raw worker rows (mappings as `record.prepare` takes them, e.g. a
    ``.values()`` queryset with the numbers aggregated)."""
    return train_weights((prepare(r) for r in rows), **kwargs)


def train_weights(records: Iterable[Record], *, seed: int = 1, u_pairs: float = 5e6, note: str = "") -> Model:
    """Train the weights with Splink on these records and return them as a `Model`.

    ``records`` are prepared workers (`record.prepare`); a sample of a few hundred thousand is
    enough. Needs splink (which brings duckdb and pandas).
    """
    import duckdb

    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prepared.tsv")
        n = write_prepared(records, path)
        load_prepared(con, path)
    linker = linker_for(con)
    train_linker(linker, seed=seed, u_pairs=u_pairs)
    return export_model(linker, records=n, note=note)


def splink_model_json(splink_json: dict[str, Any], model: Model, *, register_size: int | None = None) -> dict[str, Any]:
    """Splink's saved model with m, u and prior replaced by ``model``'s (floors included, prior scaled
    to ``register_size``), so Splink's predict() scores exactly what `Model` scores."""
    import copy

    if register_size:
        model = model.for_register_size(register_size)
    data = copy.deepcopy(splink_json)
    data["probability_two_random_records_match"] = model.prior
    for comp in data["comparisons"]:
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            w = model.weights[comp["output_column_name"]][level["label_for_charts"]]
            level["m_probability"], level["u_probability"] = w.m, w.u
    return data
