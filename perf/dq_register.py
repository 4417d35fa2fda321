"""A generated register with known duplicates (perf.synthetic_duplicates) loaded into the register's
tables with COPY, and the duplicate scan's result measured against what was injected.

`make bench-dq` (perf/management/commands/bench_dq.py) uses it; tests use it on small registers.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone
from rapidfuzz.distance import DamerauLevenshtein

from core import validators
from registry.models import (
    AccreditationKind,
    DuplicateCandidate,
    EducationLevel,
    OrganizationType,
    Position,
    Region,
    Specialty,
)

from . import synthetic_duplicates as gen

COLUMNS = {name: i for i, name in enumerate(gen.HEADER)}
NEGATIVE_KINDS = frozenset(gen.NEGATIVES)


def rows_of(generator: gen.Generator) -> list[dict]:
    """The generator's rows as dicts (lists split)."""
    result = []
    for row in generator.build():
        record = {name: row[i] for name, i in COLUMNS.items()}
        for name in ("documents", "diplomas", "employers"):
            record[name] = [v for v in str(record[name]).split(";") if v]
        result.append(record)
    return result


def _copy(table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
    """COPY on PostgreSQL; plain inserts elsewhere (the embedded SQLite of a test)."""
    n = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
            return n
        marks = ", ".join(["%s"] * len(columns))
        batch = list(rows)
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch)  # noqa: S608
        return len(batch)


def _directory_ids(model) -> list[int]:
    ids = list(model.objects.order_by("sort_order", "id").values_list("id", flat=True))
    if not ids:
        raise RuntimeError(f"{model._meta.verbose_name_plural}: справочник пуст (сначала load_directories)")
    return ids


def load_register(records: list[dict]) -> dict[str, int]:
    """Organizations, workers, admission documents, diplomas and employments of the generated rows.
    Worker ids are the generated ids + 1 (so the truth maps back); returns row counts by table."""
    now, today = timezone.now(), timezone.localdate()
    regions = {code: pk for code, pk in Region.objects.values_list("code", "id")}
    specialties = _directory_ids(Specialty)
    counts = {"organizations": _load_organizations({o for r in records for o in r["employers"]}, regions, now)}
    counts["workers"] = _copy(
        "registry_medicalworker",
        ("id", "registry_number", "snils", "inn", "last_name", "first_name", "middle_name", "sex", "birth_date",
         "citizenship", "phone", "email", "identity_status", "public_contacts_consent", "registered_on",
         "search_name", "admission_status", "has_confirmed_documents", "created_at", "updated_at", "region_id",
         "primary_specialty_id"),
        _worker_rows(records, regions, specialties, now, today),
    )  # fmt: skip
    counts["documents"] = _load_documents(records, specialties, now, today)
    level = _directory_ids(EducationLevel)[0]
    counts["diplomas"] = _copy(
        "registry_education",
        ("worker_id", "level_id", "institution", "diploma_series", "diploma_number", "issued_on", "specialty_text",
         "qualification"),
        ((r["id"] + 1, level, "Медицинский университет", "", number, dt.date(2005, 6, 30), "", "")
         for r in records for number in r["diplomas"]),
    )  # fmt: skip
    position = _directory_ids(Position)[0]
    counts["employments"] = _copy(
        "registry_employment",
        ("worker_id", "organization_id", "position_id", "department", "rate", "kind", "started_on",
         "dismissal_reason", "updated_at"),
        ((r["id"] + 1, int(o) + 1, position, "", 1, "main", dt.date(2015, 9, 1), "", now)
         for r in records for o in r["employers"]),
    )  # fmt: skip
    _reset_sequences()
    return counts


def _worker_rows(records, regions, specialties, now, today):
    inns: set[str] = set()
    for r in records:
        inn = r["inn"] or None
        if inn in inns:  # a near INN that hit another record's: dropped, as a register would refuse it
            inn = None
        if inn:
            inns.add(inn)
        name = validators.normalize_person_name(f"{r['last_name']} {r['first_name']} {r['middle_name']}")
        yield (
            r["id"] + 1, validators.registry_number_from_serial(r["id"] + 1), r["snils"], inn, r["last_name"],
            r["first_name"], r["middle_name"], r["sex"], r["birth_date"], "RUS", r["phone"], r["email"],
            "not_confirmed", False, today, name, "none", False, now, now, regions.get(r["region"]),
            specialties[int(r["specialty"]) % len(specialties)],
        )  # fmt: skip


def _load_organizations(ids: set[str], regions: dict[str, int], now) -> int:
    kind = _directory_ids(OrganizationType)[0]
    region = next(iter(regions.values()))
    return _copy(
        "registry_medicalorganization",
        ("id", "ogrn", "inn", "kpp", "full_name", "short_name", "address", "phone", "email", "website", "status",
         "search_name", "created_at", "updated_at", "region_id", "org_type_id"),
        ((int(o) + 1, validators.ogrn_from_body(f"1{int(o):011d}"), validators.inn_legal_from_body(f"{int(o):09d}"),
          "", f"Больница № {o}", f"Больница № {o}", "", "", "", "", "active", f"больница № {o}", now, now, region, kind)
         for o in sorted(ids, key=int)),
    )  # fmt: skip


def _load_documents(records, specialties, now, today) -> int:
    accreditation = _directory_ids(AccreditationKind)[0]
    seen: Counter = Counter()

    def rows():
        for r in records:
            for number in r["documents"]:
                # A number shared with the original (one document, entered twice) takes the other kind:
                # (kind, number) is unique in the register. A third record of one person sharing it too
                # (two duplicates of one original) has no kind left and goes without that document.
                seen[number] += 1
                if seen[number] > 2:
                    continue
                kind = "certificate" if seen[number] == 1 else "accreditation"
                yield (r["id"] + 1, kind, number, accreditation if kind == "accreditation" else None,
                       specialties[int(r["specialty"]) % len(specialties)], today - dt.timedelta(days=400),
                       today + dt.timedelta(days=1400), "valid", now)  # fmt: skip

    return _copy(
        "registry_admissiondocument",
        ("worker_id", "kind", "number", "accreditation_kind_id", "specialty_id", "issued_on", "valid_until",
         "status", "updated_at"),
        rows(),
    )  # fmt: skip


def _reset_sequences() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in ("registry_medicalworker", "registry_medicalorganization"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")  # noqa: S608


# --- Measuring the scan against the truth ---------------------------------------------------------------


@dataclass
class Quality:
    injected: Counter = field(default_factory=Counter)  # duplicates injected, by kind
    found: Counter = field(default_factory=Counter)  # of those, found (the pair with its original)
    candidates: int = 0
    true_candidates: int = 0
    negatives_flagged: Counter = field(default_factory=Counter)  # namesake / twin pairs stored
    # Namesakes whose random birth date fell one digit (or a day/month swap) away: by content a typo.
    negatives_near_date: int = 0
    chance: int = 0  # false pairs with the same name and birth date: two generated people, by chance

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / max(sum(self.injected.values()), 1)

    @property
    def precision(self) -> float:
        return self.true_candidates / max(self.candidates, 1)

    def recall_of(self, kind: str) -> float:
        return self.found[kind] / max(self.injected[kind], 1)


def measure(records: list[dict]) -> Quality:
    """Recall per kind, precision, namesakes and twins flagged, from the stored candidates."""
    by_id = {r["id"] + 1: r for r in records}
    quality = Quality()
    for r in records:
        if r["kind"] not in ("base", *NEGATIVE_KINDS):
            quality.injected[r["kind"]] += 1
    found_kinds: dict[int, str] = {}
    for a, b in DuplicateCandidate.objects.values_list("worker_a_id", "worker_b_id").iterator():
        ra, rb = by_id.get(a), by_id.get(b)
        if ra is None or rb is None:
            continue
        quality.candidates += 1
        if ra["person"] == rb["person"]:
            quality.true_candidates += 1
            for x, y in ((ra, rb), (rb, ra)):
                if x["kind"] not in ("base", *NEGATIVE_KINDS) and str(x["of"]) == str(y["id"]):
                    found_kinds[x["id"]] = x["kind"]
            continue
        for x, y in ((ra, rb), (rb, ra)):
            if x["kind"] in NEGATIVE_KINDS and str(x["of"]) == str(y["id"]):
                if x["kind"] == "namesake" and _typo_apart(x["birth_date"], y["birth_date"]):
                    quality.negatives_near_date += 1
                else:
                    quality.negatives_flagged[x["kind"]] += 1
        if (ra["last_name"], ra["first_name"], ra["middle_name"], ra["birth_date"]) == (
            rb["last_name"], rb["first_name"], rb["middle_name"], rb["birth_date"]
        ):  # fmt: skip
            quality.chance += 1
    quality.found.update(found_kinds.values())
    return quality


def _typo_apart(a: str, b: str) -> bool:
    """Two ISO dates one digit apart, or with day and month swapped (what a typo makes)."""
    x, y = a.replace("-", ""), b.replace("-", "")
    if x[:4] == y[:4] and x[4:6] == y[6:8] and x[6:8] == y[4:6]:
        return True
    return DamerauLevenshtein.distance(x, y) <= 1


def probes(records: list[dict], count: int, seed: int) -> list[tuple[dict, int | None]]:
    """Records to check one at a time: half new duplicates of stored workers (with that worker's id: their
    identifiers are all new), half people the register does not hold (None)."""
    generator = gen.Generator(count * 2, seed=seed, dup_rate=0.0, share_scale=1.0, surnames="tail",
                              namesake_rate=0.0, twin_rate=0.0)  # fmt: skip
    strangers = rows_of(generator)[: count - count // 2]
    rng = random.Random(seed)  # noqa: S311 - a seeded benchmark sample, not a secret
    originals = [r for r in records if r["kind"] == "base"]
    kinds = [k for k in gen.KINDS if k != "double_single"]  # that kind rewrites the stored original
    result: list[tuple[dict, int | None]] = []
    while len(result) < count // 2:
        src = rng.choice(originals)
        made = generator.variant(rng.choice(kinds), _as_row(src))
        if not made:
            continue
        who, _ = made
        probe = {**src, "last_name": who["last"], "first_name": who["first"], "middle_name": who["middle"],
                 "birth_date": who["dob"], "phone": "", "email": "", "documents": [], "diplomas": [],
                 "employers": [], "snils": "", "inn": ""}  # fmt: skip
        result.append((probe, src["id"] + 1))
    result += [({**s, "snils": "", "inn": ""}, None) for s in strangers]
    return result


def _as_row(record: dict) -> list:
    return [record[name] if not isinstance(record[name], list) else ";".join(record[name]) for name in gen.HEADER]


def by_kind_table(quality: Quality) -> list[tuple[str, int, int, float]]:
    return [(kind, quality.injected[kind], quality.found[kind], quality.recall_of(kind)) for kind in gen.KINDS]


def worker_ids(records: list[dict]) -> Iterable[int]:
    return (r["id"] + 1 for r in records)


def negatives_by_kind(records: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        if r["kind"] in NEGATIVE_KINDS:
            counts[r["kind"]] += 1
    return counts
