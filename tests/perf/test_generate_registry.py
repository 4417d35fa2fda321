"""generate_registry: synthetic data that the rest of the registry accepts as its own.

Runs on whichever database the test settings use: SQLite locally (the bulk_create path) and
PostgreSQL in CI (the COPY path, worker processes, index drop and rebuild).
"""

import datetime as dt
import random
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from core import validators
from perf import synthetic
from registry import models, services
from tests.conftest import skip_or_fail
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db

TODAY = "2025-06-01"
DERIVED = (
    "search_name",
    "region_id",
    "primary_specialty_id",
    "admission_status",
    "admission_valid_until",
    "category_id",
    "has_confirmed_documents",
)
GENERATED_MODELS = (
    models.ContinuingEducation,
    models.CategoryAssignment,
    models.AdmissionDocument,
    models.Education,
    models.Employment,
    models.MedicalWorker,
    models.OrganizationLicense,
    models.MedicalOrganization,
)


@pytest.fixture
def directories():
    call_command("load_directories", stdout=StringIO())


def generate(**options) -> str:
    out = StringIO()
    options = {"today": TODAY, "no_progress": True, "seed": 11, **options}
    call_command("generate_registry", stdout=out, **options)
    return out.getvalue()


def wipe_generated() -> None:
    for model in GENERATED_MODELS:
        model.objects.all().delete()


def names_in_order() -> list[tuple[str, str, str]]:
    return list(models.MedicalWorker.objects.order_by("id").values_list("last_name", "first_name", "middle_name"))


def test_generates_the_requested_rows_with_valid_identifiers(directories):
    output = generate(workers=300, organizations=20)

    assert models.MedicalWorker.objects.count() == 300
    assert models.MedicalOrganization.objects.count() == 20
    assert models.OrganizationLicense.objects.count() == 20
    assert 300 <= models.Employment.objects.count() <= 600
    assert models.Education.objects.count() == 300
    assert "registry_medicalworker" in output and "строк/с" in output

    for worker in models.MedicalWorker.objects.all():
        validators.validate_snils(worker.snils)
        validators.validate_registry_number(worker.registry_number)
        if worker.inn is not None:
            validators.validate_inn_person(worker.inn)
        assert worker.sex in ("M", "F")
        assert dt.date(1950, 1, 1) <= worker.birth_date <= dt.date(2002, 12, 31)
    for org in models.MedicalOrganization.objects.all():
        validators.validate_ogrn(org.ogrn)
        validators.validate_inn_legal(org.inn)
        validators.validate_kpp(org.kpp)
        assert (org.status == "closed") == (org.closed_on is not None)
    for licence in models.OrganizationLicense.objects.all():
        validators.validate_license_number(licence.number)
    # Model validation covers field choices, lengths and every check constraint.
    for model in GENERATED_MODELS:
        for obj in model.objects.all()[:150]:
            obj.full_clean(validate_constraints=True)


def test_derived_search_fields_agree_with_worker_refresh_derived(directories):
    generate(workers=300, organizations=20)
    before = {w["id"]: w for w in models.MedicalWorker.objects.values("id", *DERIVED)}

    services.worker_refresh_derived(worker_ids=list(before), today=dt.date.fromisoformat(TODAY))

    after = {w["id"]: w for w in models.MedicalWorker.objects.values("id", *DERIVED)}
    changed = [(before[i], after[i]) for i in before if before[i] != after[i]]
    assert changed == []


def test_admission_statuses_are_spread_around_the_designed_shares(directories):
    generate(workers=300, organizations=20)
    statuses = list(models.MedicalWorker.objects.values_list("admission_status", flat=True))

    share = {s: statuses.count(s) / len(statuses) for s in models.AdmissionStatus.values}
    assert 0.6 < share["active"] < 0.85
    assert share["expiring"] > 0.02 and share["expired"] > 0.05 and share["none"] > 0.01
    kinds = set(models.AdmissionDocument.objects.values_list("kind", flat=True))
    assert kinds == {"certificate", "accreditation"}
    assert not models.AdmissionDocument.objects.filter(kind="accreditation", accreditation_kind__isnull=True).exists()


def test_same_seed_gives_the_same_names_whatever_the_batch_size(directories):
    generate(workers=300, organizations=20, seed=5)
    first = names_in_order()
    wipe_generated()

    generate(workers=300, organizations=20, seed=5, batch=100, jobs=2)

    assert names_in_order() == first
    wipe_generated()
    generate(workers=300, organizations=20, seed=6)
    assert names_in_order() != first


def test_names_are_consistent_with_sex(directories):
    from faker.providers.person.ru_RU import Provider

    generate(workers=300, organizations=20)
    for last, first, middle, sex in models.MedicalWorker.objects.values_list(
        "last_name", "first_name", "middle_name", "sex"
    ):
        if sex == "M":
            assert last in Provider.last_names_male and first in Provider.first_names_male
            assert middle in Provider.middle_names_male or middle == ""
        else:
            assert last in Provider.last_names_female and first in Provider.first_names_female
            assert middle in Provider.middle_names_female or middle == ""


def test_second_run_is_refused_without_append(directories):
    generate(workers=50, organizations=5)

    with pytest.raises(CommandError, match="--append"):
        generate(workers=50, organizations=5, seed=12)
    assert models.MedicalWorker.objects.count() == 50


def test_append_continues_numbering_without_clashes(directories):
    generate(workers=300, organizations=20)
    first_max_id = models.MedicalWorker.objects.order_by("-id").values_list("id", flat=True)[0]

    generate(workers=300, organizations=20, seed=12, append=True)

    workers = models.MedicalWorker.objects.all()
    assert workers.count() == 600
    for column in ("snils", "registry_number", "inn"):
        values = [v for v in workers.values_list(column, flat=True) if v is not None]
        assert len(values) == len(set(values)), column
    assert models.MedicalWorker.objects.filter(id__gt=first_max_id).count() == 300
    assert models.MedicalOrganization.objects.count() == 40
    numbers = list(models.AdmissionDocument.objects.values_list("kind", "number"))
    assert len(numbers) == len(set(numbers))
    # The sequences moved past the generated ids, so the ORM keeps working.
    last_id = models.MedicalWorker.objects.order_by("-id").values_list("id", flat=True)[0]
    assert WorkerFactory().id > last_id


def test_append_without_organizations_employs_workers_at_the_stored_ones(directories):
    generate(workers=50, organizations=5)
    stored = set(models.MedicalOrganization.objects.values_list("id", flat=True))

    generate(workers=40, organizations=0, seed=12, append=True)

    assert models.MedicalWorker.objects.count() == 90
    assert set(models.Employment.objects.values_list("organization_id", flat=True)) <= stored


def test_append_steps_around_identifiers_entered_by_hand(directories):
    # A person registered by hand holds the SNILS and INN our counter would give the 6th new worker.
    hand = WorkerFactory(
        registry_number=validators.registry_number_from_serial(1),
        snils=synthetic.snils_for_key(7),
        inn=synthetic.inn_person_for_key(7, "77"),
    )

    generate(workers=50, organizations=5, append=True)

    snils = list(models.MedicalWorker.objects.values_list("snils", flat=True))
    assert len(snils) == len(set(snils)) == 51
    hand.refresh_from_db()
    assert hand.snils == synthetic.snils_for_key(7)


def test_missing_directories_ask_for_load_directories():
    with pytest.raises(CommandError, match="load_directories"):
        generate(workers=10, organizations=2)


def test_failure_midway_keeps_only_whole_batches(directories, monkeypatch):
    real = synthetic.generate_worker_block

    def failing(plan, block):
        if block == 1:
            raise RuntimeError("disk full")
        return real(plan, block)

    monkeypatch.setattr(synthetic, "generate_worker_block", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(workers=300, organizations=20, batch=100, jobs=0)

    assert models.MedicalWorker.objects.count() == 100
    worker_ids = set(models.MedicalWorker.objects.values_list("id", flat=True))
    for model in (models.Employment, models.Education, models.AdmissionDocument, models.ContinuingEducation):
        assert set(model.objects.values_list("worker_id", flat=True)) <= worker_ids
    assert models.Education.objects.count() == 100
    if connection.vendor == "postgresql":
        assert_indexes_restored()


def assert_indexes_restored():
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description('registry_medicalworker'::regclass, 'pg_class')")
        assert cursor.fetchone()[0] is None
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'worker_search_name_trgm'")
        assert cursor.fetchone()[0] == 1


def test_postgres_load_puts_back_every_index_and_foreign_key(directories):
    if connection.vendor != "postgresql":
        skip_or_fail("the COPY path and index rebuild run on PostgreSQL only")
    query = """
        SELECT indexname FROM pg_indexes WHERE tablename LIKE 'registry_%%'
        UNION ALL SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text LIKE 'registry_%%'
    """
    with connection.cursor() as cursor:
        cursor.execute(query)
        before = sorted(r[0] for r in cursor.fetchall())

    generate(workers=300, organizations=20, jobs=2, batch=100)

    with connection.cursor() as cursor:
        cursor.execute(query)
        assert sorted(r[0] for r in cursor.fetchall()) == before
    assert_indexes_restored()


def test_identifier_counters_are_permutations_and_invertible():
    for mult, space in (
        (synthetic.SNILS_MULT, synthetic.SNILS_SPACE),
        (synthetic.INN_PERSON_MULT, synthetic.INN_PERSON_SPACE),
        (synthetic.ORG_MULT, synthetic.ORG_SPACE),
    ):
        synthetic.assert_permutation(mult, space)
    keys = range(1, 50_001)
    snils = [synthetic.snils_for_key(k) for k in keys]
    assert len(set(snils)) == len(snils)
    assert all(synthetic.snils_key(s) == k for s, k in zip(snils, keys, strict=True))
    inns = [synthetic.inn_person_for_key(k, "50") for k in keys]
    assert len(set(inns)) == len(inns)
    assert all(synthetic.inn_person_key(i) == k for i, k in zip(inns, keys, strict=True))
    with pytest.raises(ValueError):
        synthetic.assert_permutation(2, 10**8)


def test_fast_check_digits_match_the_validators():
    fast = synthetic._Fast.get(5)
    rng = random.Random(3)
    for _ in range(20_000):
        k = rng.randrange(1, synthetic.SNILS_SPACE // 2)
        assert fast.snils(k) == validators.snils_from_number(int(synthetic.snils_for_key(k)[:9]))
        region = f"{rng.randrange(1, 96):02d}"
        body = f"{region}{synthetic.permute(k, synthetic.INN_PERSON_MULT, synthetic.INN_PERSON_SPACE):08d}"
        assert fast.inn_person(k, region) == validators.inn_person_from_body(body)
        serial = rng.randrange(1, validators.REGISTRY_SERIAL_MAX)
        assert fast.registry_number(serial) == validators.registry_number_from_serial(serial)


def test_spare_keys_skip_taken_ones():
    taken = {5, 7, 99, 98}
    spares = synthetic.spare_keys(taken, range(1, 11), 100)
    assert spares == {5: 97, 7: 96}


def test_copy_encoder_writes_nulls_booleans_and_dates():
    encode = synthetic.make_copy_encoder(
        (("id", "int"), ("name", "str"), ("on", "date?"), ("flag", "bool")), extra_values=(None, "x")
    )
    rows = [(1, "Иванов", dt.date(2024, 2, 29), True), (2, "Петров", None, False)]
    assert encode(rows).decode() == "1\tИванов\t2024-02-29\tt\t\\N\tx\n2\tПетров\t\\N\tf\t\\N\tx\n"


def test_next_run_repairs_indexes_left_dropped_by_an_interrupted_one(directories):
    if connection.vendor != "postgresql":
        skip_or_fail("indexes are dropped on PostgreSQL only")
    from perf.management.commands.generate_registry import Command

    dropped = Command()._drop_secondary()  # what a run killed during the load leaves behind
    assert any(obj["name"] == "worker_search_name_trgm" for obj in dropped)

    generate(workers=0)

    assert_indexes_restored()


def test_a_second_concurrent_run_is_refused(directories):
    if connection.vendor != "postgresql":
        skip_or_fail("the run lock is a PostgreSQL advisory lock")
    import psycopg

    from perf.management.commands.generate_registry import ADVISORY_LOCK

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK])
        with pytest.raises(CommandError, match="another run"):
            generate(workers=10, organizations=2)


@pytest.mark.django_db
@pytest.mark.parametrize("day", ["1850-01-01", "2100-01-01"])
def test_today_outside_the_generators_range_is_a_clear_error(day):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--today"):
        call_command("generate_registry", "--workers", "1", "--organizations", "1", "--today", day)
