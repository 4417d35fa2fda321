"""bench_import's files: every kind's generated rows import cleanly into a generated register, the
floor's COPY rows fit the tables, and the set-based derived columns agree with the generator's."""

import datetime as dt
import random

import pytest
from django.db import connection

from perf import import_bench
from registry import models
from registry.imports import derived, import_file
from tests.perf.test_generate_registry import directories, generate  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_every_kind_of_bench_file_imports_without_errors(directories, tmp_path):  # noqa: F811
    if connection.vendor != "postgresql":
        pytest.skip("bench_import is PostgreSQL's, like every benchmark")
    generate(workers=200, organizations=20)
    rnd = random.Random(5)
    for kind in import_bench.KINDS:
        bench = import_bench.GENERATORS[kind](40, rnd, tmp_path)
        assert len(bench.floor) == bench.rows > 0
        assert import_bench.floor_copy(bench) > 0
        result = import_file(bench.path, kind=kind, check_duplicates=False)
        assert (result.invalid, result.created) == (0, bench.rows), (kind, result.errors[:3])
        assert import_file(bench.path, kind=kind, check_duplicates=False).unchanged == bench.rows


def test_set_based_refresh_rewrites_no_worker_whose_derived_columns_hold(directories):  # noqa: F811
    if connection.vendor != "postgresql":
        pytest.skip("the set-based refresh is PostgreSQL's")
    generate(workers=300, organizations=20)
    ids = list(models.MedicalWorker.objects.values_list("id", flat=True))
    stamps = dict(models.MedicalWorker.objects.values_list("id", "updated_at"))
    with connection.cursor() as cursor:
        assert derived.workers_refresh(cursor, worker_ids=ids, today=dt.date(2025, 6, 1)) == 0
    assert dict(models.MedicalWorker.objects.values_list("id", "updated_at")) == stamps
