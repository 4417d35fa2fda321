"""Exchange files of every import kind for a filled register, and the same rows as register rows.

`make bench-import` imports each file into a register built by generate_registry and, in the same
run, times the floor: a plain COPY of the same rows (as the register stores them) into the same
table with the same indexes, rolled back afterwards. Each generator reads what it refers to from the
register (workers by SNILS, organizations by OGRN, directory codes) and makes new records: new
organizations and workers (identifiers not yet stored), and for existing workers new employments,
admission documents, diplomas, categories and НМО records.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import connection
from django.utils import timezone

from core import validators
from registry.imports.engine import _copy_line

KINDS = ("organizations", "workers", "employments", "admission_documents", "educations", "categories", "cme")


@dataclass
class BenchFile:
    kind: str
    path: Path
    rows: int
    table: str
    columns: list[str]
    floor: list[str]  # COPY text lines of the same rows as register rows


def _query(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _codes(table: str) -> list[tuple[int, str]]:
    return _query(f"SELECT id, code FROM {table} WHERE is_active ORDER BY id")  # noqa: S608 - our table names


def _sample_workers(n: int, rnd: random.Random) -> list[tuple[int, str]]:
    """n distinct workers spread over the register (a seeded random sample)."""
    _query("SELECT setseed(%s)", [rnd.random()])
    return _query("SELECT id, snils FROM registry_medicalworker ORDER BY random() LIMIT %s", [n])


def _free(values: list[str], table: str, column: str) -> list[str]:
    """The values not stored yet in ``table.column``."""
    taken = {r[0] for r in _query(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [values])}  # noqa: S608
    return [v for v in values if v not in taken]


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _date(rnd: random.Random, start: int, end: int) -> dt.date:
    return dt.date(rnd.randint(start, end), rnd.randint(1, 12), rnd.randint(1, 28))


def organizations(n: int, rnd: random.Random, directory: Path) -> BenchFile:
    regions = _query("SELECT id, code FROM registry_region ORDER BY id")
    candidates = [validators.ogrn_from_body(f"1{rnd.randint(10**9, 10**10 - 1)}{k % 10}") for k in range(n * 2)]
    ogrns = list(dict.fromkeys(_free(candidates, "registry_medicalorganization", "ogrn")))[:n]
    header = ["ogrn", "inn", "full_name", "short_name", "region", "address", "phone"]
    rows, floor, now = [], [], timezone.now()
    for k, ogrn in enumerate(ogrns):
        region_id, region = rnd.choice(regions)
        short = f"Поликлиника № {k} ({region})"
        inn = validators.inn_legal_from_body(f"{region[:2]:0>2}{k % 10**7:07d}")
        row = [ogrn, inn, f"ГБУЗ «{short}»", short, region, f"г. Город, ул. Лесная, д. {k % 200}", "+7 495 000-00-00"]
        rows.append(row)
        floor.append(
            _copy_line(
                (
                    ogrn,
                    inn,
                    "",
                    row[2],
                    short,
                    region_id,
                    row[5],
                    row[6],
                    "",
                    "",
                    "active",
                    validators.normalize_person_name(short),
                    now,
                    now,
                )
            )
        )
    path = directory / "organizations.csv"
    _write(path, header, rows)
    columns = [
        "ogrn",
        "inn",
        "kpp",
        "full_name",
        "short_name",
        "region_id",
        "address",
        "phone",
        "email",
        "website",
        "status",
        "search_name",
        "created_at",
        "updated_at",
    ]
    return BenchFile("organizations", path, len(rows), "registry_medicalorganization", columns, floor)


def workers(n: int, rnd: random.Random, directory: Path) -> BenchFile:
    from faker import Faker

    fake = Faker("ru_RU")
    fake.seed_instance(rnd.randint(0, 10**6))
    last = sorted({fake.last_name_female() for _ in range(2000)})
    first = sorted({fake.first_name_female() for _ in range(300)})
    middle = sorted({fake.middle_name_female() for _ in range(300)})
    snils = _free(
        [validators.snils_from_number(rnd.randint(2_000_000, 999_999_999)) for _ in range(n * 2)],
        "registry_medicalworker",
        "snils",
    )
    snils = list(dict.fromkeys(snils))[:n]
    top = _query("SELECT max(registry_number) FROM registry_medicalworker")[0][0] or "0000000000"
    serial = int(top[:9]) + 1
    today, now = timezone.localdate(), timezone.now()
    header = ["snils", "registry_number", "inn", "last_name", "first_name", "middle_name", "sex", "birth_date", "phone"]
    inns = _free(
        [validators.inn_person_from_body(f"99{rnd.randint(0, 10**8 - 1):08d}") for _ in snils],
        "registry_medicalworker",
        "inn",
    )
    inns = list(dict.fromkeys(inns))
    rows, floor = [], []
    for k, value in enumerate(snils):
        number = validators.registry_number_from_serial(serial + k)
        inn = inns[k] if k < len(inns) and k % 3 else ""
        names = (rnd.choice(last), rnd.choice(first), rnd.choice(middle))
        birth = _date(rnd, 1955, 2000)
        phone = f"+79{rnd.randint(0, 10**9 - 1):09d}"
        rows.append([value, number, inn, *names, "F", birth.isoformat(), phone])
        search = validators.normalize_person_name(" ".join(names))
        floor.append(
            _copy_line(
                (
                    value,
                    number,
                    inn or None,
                    *names,
                    "F",
                    birth,
                    "RUS",
                    phone,
                    "",
                    search,
                    "not_confirmed",
                    False,
                    today,
                    "none",
                    False,
                    now,
                    now,
                )
            )
        )
    path = directory / "workers.csv"
    _write(path, header, rows)
    columns = [
        "snils",
        "registry_number",
        "inn",
        "last_name",
        "first_name",
        "middle_name",
        "sex",
        "birth_date",
        "citizenship",
        "phone",
        "email",
        "search_name",
        "identity_status",
        "public_contacts_consent",
        "registered_on",
        "admission_status",
        "has_confirmed_documents",
        "created_at",
        "updated_at",
    ]
    return BenchFile("workers", path, len(rows), "registry_medicalworker", columns, floor)


def employments(n: int, rnd: random.Random, directory: Path) -> BenchFile:
    orgs = _query("SELECT id, ogrn FROM registry_medicalorganization WHERE status = 'active' ORDER BY id")
    positions, specialties = _codes("registry_position"), _codes("registry_specialty")
    header = ["snils", "ogrn", "position", "specialty", "department", "rate", "kind", "started_on"]
    rows, floor, now = [], [], timezone.now()
    for worker_id, snils in _sample_workers(n, rnd):
        org_id, ogrn = rnd.choice(orgs)
        (pos_id, pos), (spec_id, spec) = rnd.choice(positions), rnd.choice(specialties)
        started = _date(rnd, 2023, 2024)
        rows.append([snils, ogrn, pos, spec, "Терапевтическое отделение", "0,5", "external", started.isoformat()])
        floor.append(
            _copy_line(
                (worker_id, org_id, pos_id, spec_id, "Терапевтическое отделение", "0.50", "external", started, "", now)
            )
        )
    path = directory / "employments.csv"
    _write(path, header, rows)
    columns = [
        "worker_id",
        "organization_id",
        "position_id",
        "specialty_id",
        "department",
        "rate",
        "kind",
        "started_on",
        "dismissal_reason",
        "updated_at",
    ]
    return BenchFile("employments", path, len(rows), "registry_employment", columns, floor)


def admission_documents(n: int, rnd: random.Random, directory: Path) -> BenchFile:
    specialties = _codes("registry_specialty")
    header = ["snils", "kind", "number", "specialty", "issued_on", "valid_until"]
    rows, floor, now = [], [], timezone.now()
    base = rnd.randint(0, 10**6) * 10**5
    for k, (worker_id, snils) in enumerate(_sample_workers(n, rnd)):
        spec_id, spec = rnd.choice(specialties)
        issued = _date(rnd, 2021, 2024)
        until = issued.replace(year=issued.year + 5) - dt.timedelta(days=1)
        number = f"БЕНЧ{base + k:011d}"
        rows.append([snils, "certificate", number, spec, issued.isoformat(), until.isoformat()])
        floor.append(_copy_line((worker_id, "certificate", spec_id, number, issued, until, "valid", now)))
    path = directory / "admission_documents.csv"
    _write(path, header, rows)
    columns = ["worker_id", "kind", "specialty_id", "number", "issued_on", "valid_until", "status", "updated_at"]
    return BenchFile("admission_documents", path, len(rows), "registry_admissiondocument", columns, floor)


def educations(n: int, rnd: random.Random, directory: Path) -> BenchFile:
    levels, specialties = _codes("registry_educationlevel"), _codes("registry_specialty")
    header = [
        "snils",
        "level",
        "institution",
        "diploma_series",
        "diploma_number",
        "issued_on",
        "specialty",
        "qualification",
    ]
    rows, floor = [], []
    for k, (worker_id, snils) in enumerate(_sample_workers(n, rnd)):
        (level_id, level), (spec_id, spec) = rnd.choice(levels), rnd.choice(specialties)
        issued = _date(rnd, 1990, 2020)
        number = f"Б{rnd.randint(0, 10**6):06d}{k}"
        rows.append([snils, level, "Медицинский университет", "1077", number, issued.isoformat(), spec, "Врач"])
        floor.append(
            _copy_line((worker_id, level_id, "Медицинский университет", "1077", number, issued, spec_id, "", "Врач"))
        )
    path = directory / "educations.csv"
    _write(path, header, rows)
    columns = [
        "worker_id",
        "level_id",
        "institution",
        "diploma_series",
        "diploma_number",
        "issued_on",
        "specialty_id",
        "specialty_text",
        "qualification",
    ]
    return BenchFile("educations", path, len(rows), "registry_education", columns, floor)


def categories(n: int, rnd: random.Random, directory: Path) -> BenchFile:
    cats, specialties = _codes("registry_qualificationcategory"), _codes("registry_specialty")
    header = ["snils", "category", "specialty", "awarded_on", "valid_until", "order_number"]
    rows, floor = [], []
    for worker_id, snils in _sample_workers(n, rnd):
        (cat_id, cat), (spec_id, spec) = rnd.choice(cats), rnd.choice(specialties)
        awarded = _date(rnd, 2022, 2024)
        until = awarded.replace(year=awarded.year + 5) - dt.timedelta(days=1)
        rows.append([snils, cat, spec, awarded.isoformat(), until.isoformat(), "1234-к"])
        floor.append(_copy_line((worker_id, cat_id, spec_id, awarded, until, "1234-к")))
    path = directory / "categories.csv"
    _write(path, header, rows)
    columns = ["worker_id", "category_id", "specialty_id", "awarded_on", "valid_until", "order_number"]
    return BenchFile("categories", path, len(rows), "registry_categoryassignment", columns, floor)


def cme(n: int, rnd: random.Random, directory: Path) -> BenchFile:
    specialties = _codes("registry_specialty")
    header = ["snils", "kind", "topic", "provider", "completed_on", "hours", "specialty"]
    rows, floor = [], []
    for worker_id, snils in _sample_workers(n, rnd):
        spec_id, spec = rnd.choice(specialties)
        done = _date(rnd, 2023, 2024)
        topic = f"Неотложные состояния, модуль {rnd.randint(1, 400)}"
        hours = rnd.choice((6, 18, 36, 72))
        rows.append([snils, "program", topic, "РНИМУ", done.isoformat(), str(hours), spec])
        floor.append(_copy_line((worker_id, spec_id, "program", topic, "РНИМУ", done, hours)))
    path = directory / "cme.csv"
    _write(path, header, rows)
    columns = ["worker_id", "specialty_id", "kind", "topic", "provider", "completed_on", "hours"]
    return BenchFile("cme", path, len(rows), "registry_continuingeducation", columns, floor)


GENERATORS: dict[str, Callable[[int, random.Random, Path], BenchFile]] = {
    "organizations": organizations,
    "workers": workers,
    "employments": employments,
    "admission_documents": admission_documents,
    "educations": educations,
    "categories": categories,
    "cme": cme,
}


def floor_copy(bench: BenchFile) -> float:
    """Seconds to COPY the rows into their table (same indexes), in a transaction rolled back."""
    import time

    from django.db import transaction

    payload = "".join(bench.floor)
    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        with cursor.copy(f"COPY {bench.table} ({', '.join(bench.columns)}) FROM STDIN") as copy:
            copy.write(payload)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    if not connection.in_atomic_block:  # (a test's transaction)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {bench.table}")  # the rolled-back rows leave no dead entries for the import
    return elapsed
