"""Imports after merges (aliases reach the survivor), empty cells versus the clear marker, the new
kinds (educations, categories, НМО), probable duplicates by row, set-based derived columns and
bounded query counts."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import validators
from registry.imports import derived, import_file
from registry.models import (
    AdmissionDocument,
    CategoryAssignment,
    ContinuingEducation,
    DiscrepancyAlert,
    Education,
    EducationLevel,
    Employment,
    MedicalWorker,
    QualificationCategory,
    WorkerAlias,
)
from registry.quality import duplicates
from registry.services import worker_refresh_derived
from tests.factories import (
    AdmissionDocumentFactory,
    EmploymentFactory,
    OrganizationFactory,
    PositionFactory,
    RegionFactory,
    SpecialtyFactory,
    WorkerFactory,
)
from tests.registry.imports.test_import import WORKER_HEADER, inn, regnum, snils, worker_row, write_csv

pytestmark = pytest.mark.django_db

FULL_HEADER = [*WORKER_HEADER, "phone", "email"]


def _merged_pair(tmp_path, *, survivor_inn: bool = False):
    """Two records of one person imported from one file; the second merged into the first, which
    had no patronymic, phone or e-mail (the merge fills them), nor an INN unless ``survivor_inn`` (then
    the merged record's INN, one digit off, becomes an alias). Returns (file, survivor)."""
    rows = [
        worker_row(1, inn=inn(1) if survivor_inn else "", middle_name="", first_name="Анна"),
        worker_row(2, first_name="Анна", phone="+7 900 111-22-33", email="anna@example.ru", last_name="Иванова"),
    ]
    path = write_csv(tmp_path / "w.csv", FULL_HEADER, rows)
    import_file(path, kind="workers", check_duplicates=False)
    survivor, merged = MedicalWorker.objects.get(snils=snils(1)), MedicalWorker.objects.get(snils=snils(2))
    duplicates.worker_merge(survivor_id=survivor.id, merged_id=merged.id)
    survivor.refresh_from_db()
    assert survivor.inn == (inn(1) if survivor_inn else inn(2))
    assert (survivor.middle_name, survivor.phone) == ("Петровна", "+7 900 111-22-33")
    return path, survivor


def test_reimport_after_a_merge_recreates_nothing_and_clears_nothing_the_merge_filled(tmp_path):
    path, survivor = _merged_pair(tmp_path)
    before = MedicalWorker.objects.values().get(id=survivor.id)

    result = import_file(path, kind="workers")

    assert MedicalWorker.objects.count() == 1
    assert (result.created, result.updated, result.merged, result.invalid) == (0, 0, 1, 0)
    assert MedicalWorker.objects.values().get(id=survivor.id) == before  # not even updated_at
    note = {n.row: n.reason for n in result.notes}[3]
    assert f"объединена с {validators.format_registry_number(regnum(1))}" in note
    assert "объединённых записей 1" in result.summary()


def test_merged_away_identifiers_reach_the_survivor_and_never_create_a_record(tmp_path):
    _path, survivor = _merged_pair(tmp_path, survivor_inn=True)
    assert WorkerAlias.objects.filter(kind="inn", value=inn(2), worker=survivor).exists()
    other = WorkerFactory()
    number = validators.format_registry_number(survivor.registry_number)
    # Each case in a file of its own: one file may not carry one INN on two rows.
    cases = [
        (worker_row(1, inn=inn(2), last_name="Иванова"), "inn"),  # the survivor's SNILS, the merged-away INN
        (worker_row(10, inn=inn(2)), "snils"),  # a new SNILS with the merged-away INN
        (worker_row(11, inn="", registry_number=regnum(2)), "snils"),  # a new SNILS, the merged-away number
        (worker_row(2, last_name="Сидорова", birth_date="1990-01-01"), "snils"),  # the merged-away SNILS
    ]
    for n, (row, field) in enumerate(cases):
        result = import_file(write_csv(tmp_path / f"w{n}.csv", FULL_HEADER, [row]), kind="workers")
        assert [(note.row, note.field) for note in result.notes] == [(2, field)]
        assert f"объединена с {number}" in result.notes[0].reason
        assert result.created == 0 and not result.errors
    assert result.merged == 1
    stolen = worker_row(12, snils=other.snils, registry_number=other.registry_number, inn=inn(2))
    result = import_file(write_csv(tmp_path / "w9.csv", FULL_HEADER, [stolen]), kind="workers")
    assert f"ИНН принадлежал записи, объединённой с {number}" in {e.field: e.reason for e in result.errors}["inn"]
    assert MedicalWorker.objects.count() == 2
    survivor.refresh_from_db()
    assert (survivor.inn, survivor.last_name, survivor.birth_date) == (inn(1), "Иванова", dt.date(1980, 1, 15))


def test_records_of_a_merged_away_snils_are_written_for_the_survivor(tmp_path):
    _path, survivor = _merged_pair(tmp_path)
    org, position, specialty = OrganizationFactory(), PositionFactory(), SpecialtyFactory()
    header = ["snils", "ogrn", "position", "specialty", "rate", "started_on"]
    row = {"ogrn": org.ogrn, "position": position.code, "specialty": specialty.code, "rate": "1"}
    rows = [
        {**row, "snils": snils(2), "started_on": "2019-09-01"},
        {**row, "snils": snils(1), "started_on": "2019-09-01"},  # the same post through the survivor's SNILS
        {**row, "snils": snils(2), "started_on": "2015-01-01"},
    ]
    result = import_file(write_csv(tmp_path / "e.csv", header, rows), kind="employments")

    assert result.created == 2
    assert set(Employment.objects.values_list("worker_id", flat=True)) == {survivor.id}
    number = validators.format_registry_number(survivor.registry_number)
    assert {n.row for n in result.notes if f"объединена с {number}" in n.reason} == {2, 4}
    errors = {(e.row, e.field): e.reason for e in result.errors}
    assert "та же запись, что в строке 2" in errors[(3, "snils")]
    survivor.refresh_from_db()
    assert survivor.primary_specialty_id == specialty.id


def test_sync_counts_a_merged_away_snils_as_the_survivor(tmp_path):
    _path, survivor = _merged_pair(tmp_path)
    org, position = OrganizationFactory(), PositionFactory()
    EmploymentFactory(worker=survivor, organization=org, position=position, started_on=dt.date(2019, 9, 1))
    header = ["snils", "ogrn", "position", "rate", "started_on"]
    rows = [{"snils": snils(2), "ogrn": org.ogrn, "position": position.code, "rate": "1", "started_on": "2019-09-01"}]
    result = import_file(write_csv(tmp_path / "e.csv", header, rows), kind="employments", sync=True, dry_run=True)
    assert result.vanished == 0


def test_an_empty_cell_keeps_the_stored_value_and_a_dash_clears_it(tmp_path):
    full = worker_row(1, phone="+7 900 000-00-01", email="a@example.ru")
    import_file(write_csv(tmp_path / "a.csv", FULL_HEADER, [full]), kind="workers")
    empty = {**full, "inn": "", "middle_name": "", "phone": "", "email": ""}
    result = import_file(write_csv(tmp_path / "b.csv", FULL_HEADER, [empty]), kind="workers")
    assert (result.updated, result.unchanged) == (0, 1)
    worker = MedicalWorker.objects.get()
    assert (worker.inn, worker.middle_name, worker.phone, worker.email) == (
        inn(1),
        "Петровна",
        "+7 900 000-00-01",
        "a@example.ru",
    )
    renamed = {**empty, "last_name": "Смирнова"}  # a new surname with the patronymic kept
    import_file(write_csv(tmp_path / "c.csv", FULL_HEADER, [renamed]), kind="workers")
    worker.refresh_from_db()
    assert worker.search_name == validators.normalize_person_name(f"Смирнова {full['first_name']} Петровна")

    cleared = {**full, "inn": "-", "middle_name": "-", "phone": "-", "email": "-"}
    result = import_file(write_csv(tmp_path / "d.csv", FULL_HEADER, [cleared]), kind="workers")
    assert result.updated == 1
    worker.refresh_from_db()
    assert (worker.inn, worker.middle_name, worker.phone, worker.email) == (None, "", "", "")
    assert worker.search_name == validators.normalize_person_name(f"{full['last_name']} {full['first_name']}")

    refused = {**full, "last_name": "-", "birth_date": "-"}
    result = import_file(write_csv(tmp_path / "e.csv", FULL_HEADER, [refused]), kind="workers")
    errors = {(e.row, e.field): e.reason for e in result.errors}
    assert "очистить его («-») нельзя" in errors[(2, "last_name")]
    assert "очистить его («-») нельзя" in errors[(2, "birth_date")]


def test_empty_cells_of_an_employment_keep_and_a_dash_clears_with_the_reason(tmp_path):
    worker, org, position, specialty = WorkerFactory(), OrganizationFactory(), PositionFactory(), SpecialtyFactory()
    header = [
        "snils",
        "ogrn",
        "position",
        "specialty",
        "department",
        "rate",
        "kind",
        "started_on",
        "ended_on",
        "dismissal_reason",
    ]
    base = {"snils": worker.snils, "ogrn": org.ogrn, "position": position.code, "rate": "1", "started_on": "2019-09-01"}
    full = {
        **base,
        "specialty": specialty.code,
        "department": "Хирургия",
        "kind": "external",
        "ended_on": "2020-01-01",
        "dismissal_reason": "по собственному желанию",
    }
    import_file(write_csv(tmp_path / "a.csv", header, [full]), kind="employments")
    result = import_file(write_csv(tmp_path / "b.csv", header, [base]), kind="employments")
    assert (result.updated, result.unchanged) == (0, 1)
    emp = Employment.objects.get()
    assert (emp.specialty_id, emp.department, emp.kind, emp.ended_on) == (
        specialty.id,
        "Хирургия",
        "external",
        dt.date(2020, 1, 1),
    )
    half = {**base, "ended_on": "-"}  # the stored reason would stay without an end date
    result = import_file(write_csv(tmp_path / "c.csv", header, [half]), kind="employments")
    assert "очистите и причину увольнения" in {e.field: e.reason for e in result.errors}["dismissal_reason"]
    both = {**base, "ended_on": "-", "dismissal_reason": "-", "kind": "-", "specialty": "-"}
    result = import_file(write_csv(tmp_path / "d.csv", header, [both]), kind="employments")
    assert result.updated == 1
    emp.refresh_from_db()
    assert (emp.ended_on, emp.dismissal_reason, emp.kind, emp.specialty_id) == (None, "", "main", None)


@pytest.fixture
def directories():
    level = EducationLevel.objects.create(code="1", name="Высшее — специалитет")
    EducationLevel.objects.create(code="9", name="Старый уровень", is_active=False)
    first = QualificationCategory.objects.create(code="1", name="Первая", sort_order=2)
    QualificationCategory.objects.create(code="3", name="Высшая", sort_order=3)
    return level, first


EDU_HEADER = [
    "snils",
    "level",
    "institution",
    "diploma_series",
    "diploma_number",
    "issued_on",
    "specialty",
    "specialty_text",
    "qualification",
]


def test_educations_import_checks_each_column_and_updates_by_diploma(tmp_path, directories):
    worker, specialty = WorkerFactory(), SpecialtyFactory()
    good = {
        "snils": worker.snils,
        "level": "1",
        "institution": "Первый МГМУ",
        "diploma_series": "1077",
        "diploma_number": "12345",
        "issued_on": "2008-06-30",
        "specialty": specialty.code,
        "qualification": "Врач",
    }
    rows = [
        good,
        {**good, "diploma_number": "55", "level": "9"},
        {**good, "diploma_number": "56", "level": "7"},
        {**good, "diploma_number": "57", "issued_on": "2999-01-01"},
        {**good, "diploma_number": "58", "institution": ""},
        {**good, "diploma_number": "№ 5!"},
        {**good, "snils": snils(77)},
    ]
    result = import_file(write_csv(tmp_path / "ed.csv", EDU_HEADER, rows), kind="educations")
    errors = {(e.row, e.field): e.reason for e in result.errors}
    assert "больше не действует" in errors[(3, "level")]
    assert "нет в справочнике «уровни образования»" in errors[(4, "level")]
    assert "ещё не наступила" in errors[(5, "issued_on")]
    assert "не заполнено" in errors[(6, "institution")]
    assert "допустимы цифры" in errors[(7, "diploma_number")]
    assert "нет в регистре" in errors[(8, "snils")]
    assert result.created == 1
    education = Education.objects.get()
    assert (education.worker_id, education.diploma_series, education.qualification) == (worker.id, "1077", "Врач")

    again = import_file(write_csv(tmp_path / "ed2.csv", EDU_HEADER, [{**good, "qualification": ""}]), kind="educations")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    changed = import_file(
        write_csv(tmp_path / "ed3.csv", EDU_HEADER, [{**good, "institution": "Сеченовский"}]), kind="educations"
    )
    assert (changed.created, changed.updated) == (0, 1)
    assert Education.objects.get().institution == "Сеченовский"


CAT_HEADER = ["snils", "category", "specialty", "awarded_on", "valid_until", "order_number"]


def test_categories_import_sets_the_worker_category_and_checks_dates(tmp_path, directories):
    _level, first = directories
    worker, specialty = WorkerFactory(), SpecialtyFactory()
    today = timezone.localdate()
    awarded = today - dt.timedelta(days=400)
    good = {
        "snils": worker.snils,
        "category": "1",
        "specialty": specialty.code,
        "awarded_on": awarded.isoformat(),
        "valid_until": (awarded + dt.timedelta(days=5 * 365)).isoformat(),
        "order_number": "123-к",
    }
    rows = [
        good,
        {**good, "awarded_on": "2010-01-01", "valid_until": "2009-01-01"},
        {**good, "awarded_on": "2010-01-01", "valid_until": "2020-01-01"},
        {**good, "awarded_on": "2011-01-01", "category": "7"},
        {**good, "awarded_on": "2012-01-01", "specialty": ""},
    ]
    result = import_file(write_csv(tmp_path / "c.csv", CAT_HEADER, rows), kind="categories")
    errors = {(e.row, e.field): e.reason for e in result.errors}
    assert "позже даты присвоения" in errors[(3, "valid_until")]
    assert "категория присваивается на 5 лет" in errors[(4, "valid_until")]
    assert "нет в справочнике «квалификационные категории»" in errors[(5, "category")]
    assert "не заполнено" in errors[(6, "specialty")]
    assert result.created == 1
    worker.refresh_from_db()
    assert worker.category_id == first.id
    upgraded = import_file(
        write_csv(tmp_path / "c2.csv", CAT_HEADER, [{**good, "category": "3", "order_number": ""}]), kind="categories"
    )
    assert (upgraded.created, upgraded.updated) == (0, 1)
    assignment = CategoryAssignment.objects.get()
    assert (assignment.category.code, assignment.order_number) == ("3", "123-к")
    worker.refresh_from_db()
    assert worker.category_id == assignment.category_id


CME_HEADER = ["snils", "kind", "topic", "provider", "completed_on", "hours", "specialty"]


def test_cme_import_checks_hours_kind_and_dates(tmp_path):
    worker = WorkerFactory()
    good = {
        "snils": worker.snils,
        "kind": "мероприятие",
        "topic": "Сепсис",
        "provider": "РНИМУ",
        "completed_on": "2023-03-01",
        "hours": "36",
    }
    rows = [
        good,
        {**good, "topic": "A", "hours": "0"},
        {**good, "topic": "B", "hours": "1,5"},
        {**good, "topic": "C", "kind": "лекция"},
        {**good, "topic": "D", "completed_on": "01.13.2023"},
        {**good, "topic": "", "hours": "2"},
    ]
    result = import_file(write_csv(tmp_path / "m.csv", CME_HEADER, rows), kind="cme")
    errors = {(e.row, e.field): e.reason for e in result.errors}
    assert "от 1 до 1000" in errors[(3, "hours")]
    assert "целое число часов" in errors[(4, "hours")]
    assert "допустимые значения" in errors[(5, "kind")]
    assert "такой даты нет" in errors[(6, "completed_on")]
    assert "не заполнено" in errors[(7, "topic")]
    assert result.created == 1
    record = ContinuingEducation.objects.get()
    assert (record.kind, record.hours, record.provider) == ("activity", 36, "РНИМУ")
    fixed = import_file(write_csv(tmp_path / "m2.csv", CME_HEADER, [{**good, "hours": "18", "kind": ""}]), kind="cme")
    assert (fixed.created, fixed.updated) == (0, 1)
    record.refresh_from_db()
    assert (record.kind, record.hours) == ("activity", 18)
    dry = import_file(
        write_csv(tmp_path / "m3.csv", CME_HEADER, [{**good, "topic": "Новая"}]), kind="cme", dry_run=True
    )
    assert dry.created == 1 and ContinuingEducation.objects.count() == 1


def test_probable_duplicates_are_reported_by_row(tmp_path):
    existing = worker_row(
        1,
        last_name="Кузнецова",
        first_name="Мария",
        middle_name="Игоревна",
        birth_date="1979-04-12",
        phone="+7 900 555-44-33",
    )
    import_file(write_csv(tmp_path / "a.csv", FULL_HEADER, [existing]), kind="workers", check_duplicates=False)
    rows = [
        worker_row(5, last_name="Оленева", first_name="Ольга", middle_name="Павловна", birth_date="1990-02-02"),
        # One letter off in the surname, the same birth date, patronymic and phone: the same person twice.
        worker_row(
            6,
            last_name="Кузнецава",
            first_name="Мария",
            middle_name="Игоревна",
            birth_date="1979-04-12",
            phone="+7 900 555-44-33",
        ),
    ]
    result = import_file(write_csv(tmp_path / "b.csv", FULL_HEADER, rows), kind="workers")
    assert [(row, number) for row, number, _p in result.duplicates] == [(3, regnum(1))]
    assert result.duplicates[0][2] >= 0.5
    note = {n.row: n.reason for n in result.notes}[3]
    assert f"возможный дубликат: {validators.format_registry_number(regnum(1))}" in note
    unchanged = import_file(write_csv(tmp_path / "b.csv", FULL_HEADER, rows), kind="workers")
    assert unchanged.duplicates == []  # nothing written, nothing checked again


def _queries(tmp_path, kind, header, rows, name):
    path = write_csv(tmp_path / name, header, rows)
    with CaptureQueriesContext(connection) as captured:
        result = import_file(path, kind=kind)
    assert not result.errors, result.errors[:3]
    return len(captured)


def test_query_count_of_every_worker_record_kind_does_not_grow_with_rows(tmp_path, directories):
    _merged_pair(tmp_path)  # aliases exist: their lookups run too
    workers = [WorkerFactory() for _ in range(12)]
    org, position, specialty = OrganizationFactory(), PositionFactory(), SpecialtyFactory()

    def employments(n, year):
        return [
            {
                "snils": w.snils,
                "ogrn": org.ogrn,
                "position": position.code,
                "specialty": specialty.code,
                "rate": "1",
                "started_on": f"{year}-01-01",
            }
            for w in workers[:n]
        ]

    header = ["snils", "ogrn", "position", "specialty", "rate", "started_on"]
    few = _queries(tmp_path, "employments", header, employments(2, 2015), "e1.csv")
    many = _queries(tmp_path, "employments", header, employments(12, 2016), "e2.csv")
    assert many == few

    def documents(n, start):
        return [
            {
                "snils": w.snils,
                "kind": "certificate",
                "number": f"77{start + i:08d}",
                "specialty": specialty.code,
                "issued_on": "2021-01-01",
                "valid_until": "2025-12-31",
            }
            for i, w in enumerate(workers[:n])
        ]

    header = ["snils", "kind", "number", "specialty", "issued_on", "valid_until"]
    assert _queries(tmp_path, "admission_documents", header, documents(2, 0), "d1.csv") == _queries(
        tmp_path, "admission_documents", header, documents(12, 100), "d2.csv"
    )

    def educations(n, number):
        return [
            {
                "snils": w.snils,
                "level": "1",
                "institution": "МГМУ",
                "diploma_number": f"{number}{i}",
                "issued_on": "2001-06-30",
            }
            for i, w in enumerate(workers[:n])
        ]

    assert _queries(tmp_path, "educations", EDU_HEADER, educations(2, 1), "ed1.csv") == _queries(
        tmp_path, "educations", EDU_HEADER, educations(12, 2), "ed2.csv"
    )

    def categories(n, year):
        return [
            {
                "snils": w.snils,
                "category": "1",
                "specialty": specialty.code,
                "awarded_on": f"{year}-01-01",
                "valid_until": f"{year + 4}-01-01",
            }
            for w in workers[:n]
        ]

    assert _queries(tmp_path, "categories", CAT_HEADER, categories(2, 2019), "c1.csv") == _queries(
        tmp_path, "categories", CAT_HEADER, categories(12, 2020), "c2.csv"
    )

    def cme(n, topic):
        return [{"snils": w.snils, "topic": topic, "completed_on": "2023-01-01", "hours": "36"} for w in workers[:n]]

    assert _queries(tmp_path, "cme", CME_HEADER, cme(2, "A"), "m1.csv") == _queries(
        tmp_path, "cme", CME_HEADER, cme(12, "B"), "m2.csv"
    )
    few = _queries(tmp_path, "workers", FULL_HEADER, [worker_row(100 + n) for n in range(2)], "w1.csv")
    many = _queries(tmp_path, "workers", FULL_HEADER, [worker_row(200 + n) for n in range(12)], "w2.csv")
    assert many <= few + 2  # the duplicate check included: a scan limited to the file's workers


def test_set_based_derived_columns_match_worker_refresh_derived():
    if connection.vendor != "postgresql":
        pytest.skip("the set-based refresh is PostgreSQL's")
    today = timezone.localdate()
    region_a, region_b = RegionFactory(), RegionFactory(code="50", name="Московская область")
    spec_a, spec_b = SpecialtyFactory(), SpecialtyFactory()
    org_a, org_b = OrganizationFactory(region=region_a), OrganizationFactory(region=region_b)
    closed = OrganizationFactory(region=region_b)
    first = QualificationCategory.objects.create(code="1", name="Первая", sort_order=2)
    top = QualificationCategory.objects.create(code="3", name="Высшая", sort_order=3)
    workers = [WorkerFactory() for _ in range(6)]
    w0, w1, w2, w3, w4, _w5 = workers
    EmploymentFactory(worker=w0, organization=org_a, specialty=spec_a, rate=0.5, kind="external")
    EmploymentFactory(worker=w0, organization=org_b, specialty=spec_b, rate=0.25)  # main beats a larger rate
    EmploymentFactory(worker=w1, organization=closed, specialty=spec_a, ended_on=today - dt.timedelta(days=1))
    AdmissionDocumentFactory(worker=w1, specialty=spec_b)  # no current post: the document's specialty
    EmploymentFactory(worker=w2, organization=org_a, specialty=spec_a)
    AdmissionDocumentFactory(worker=w2, specialty=spec_b, valid_until=today + dt.timedelta(days=30))
    AdmissionDocumentFactory(worker=w2, specialty=spec_b, valid_until=today - dt.timedelta(days=30))
    EmploymentFactory(worker=w3, organization=org_a, specialty=spec_a)
    AdmissionDocumentFactory(worker=w3, specialty=spec_a, status="suspended")
    AdmissionDocumentFactory(worker=w3, specialty=spec_b)  # another specialty: not the one that counts
    for category, until in ((first, 900), (top, 500), (top, -1)):
        CategoryAssignment.objects.create(
            worker=w4,
            category=category,
            specialty=spec_a,
            awarded_on=today - dt.timedelta(days=1000),
            valid_until=today + dt.timedelta(days=until),
        )
    fields = ("id", "region_id", "primary_specialty_id", "admission_status", "admission_valid_until", "category_id")
    ids = [w.id for w in workers]
    with connection.cursor() as cursor:
        derived.workers_refresh(cursor, worker_ids=ids, today=today)
    set_based = list(MedicalWorker.objects.filter(id__in=ids).order_by("id").values(*fields))
    worker_refresh_derived(worker_ids=ids, today=today)
    assert list(MedicalWorker.objects.filter(id__in=ids).order_by("id").values(*fields)) == set_based
    assert set_based[0]["region_id"] == region_b.id and set_based[4]["category_id"] == top.id


def test_alerts_of_an_import_are_raised_once_in_a_few_queries(tmp_path):
    worker, specialty = WorkerFactory(), SpecialtyFactory()
    others = [WorkerFactory() for _ in range(5)]
    for i, other in enumerate(others):
        AdmissionDocumentFactory(worker=other, number=f"SH{i}", specialty=specialty)
    header = ["snils", "kind", "number", "specialty", "issued_on", "valid_until"]
    rows = [
        {
            "snils": worker.snils,
            "kind": "certificate",
            "number": f"SH{i}",
            "specialty": specialty.code,
            "issued_on": "2021-01-01",
            "valid_until": "2025-12-31",
        }
        for i in range(5)
    ]
    result = import_file(write_csv(tmp_path / "d.csv", header, rows), kind="admission_documents")
    assert result.invalid == 5
    assert DiscrepancyAlert.objects.filter(kind=DiscrepancyAlert.Kind.DOCUMENT_SHARED).count() == 5
    import_file(write_csv(tmp_path / "d.csv", header, rows), kind="admission_documents")
    assert DiscrepancyAlert.objects.count() == 5
    assert AdmissionDocument.objects.filter(worker=worker).count() == 0
    assert WorkerAlias.objects.count() == 0


def test_admin_upload_of_a_new_kind_reports_merged_rows(admin_client, tmp_path, settings, on_commit_immediate):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from registry.models import ImportJob

    _path, survivor = _merged_pair(tmp_path)
    settings.VAR_DIR = tmp_path
    header = ";".join(CME_HEADER)
    good = f"{snils(2)};program;Сепсис;РНИМУ;2023-03-01;36;"
    bad = f"{snils(1)};program;Сепсис;РНИМУ;2023-03-01;0;"
    upload = SimpleUploadedFile("cme.csv", f"{header}\n{good}\n{bad}\n".encode())
    response = admin_client.post(
        reverse("admin:registry_importjob_upload"), {"kind": "cme", "mode": "import", "file": upload}
    )
    job = ImportJob.objects.get()
    assert (job.status, job.created_count, job.invalid_count) == ("done", 1, 1)
    assert ContinuingEducation.objects.get().worker_id == survivor.id
    page = admin_client.get(response.url).content.decode()
    assert "объединена с" in page and "Записи НМО" in page
    report = admin_client.get(reverse("admin:registry_importjob_report", args=[job.pk]))
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert "3;hours;Часы (ЗЕТ);от 1 до 1000 часов (ЗЕТ);ошибка" in text
    assert f"2;snils;СНИЛС работника;объединена с {validators.format_registry_number(regnum(1))}" in text


def test_workers_missing_from_a_sync_raise_one_alert_each_and_reopen_it(tmp_path):
    path = write_csv(tmp_path / "w.csv", FULL_HEADER, [worker_row(n) for n in range(3)])
    import_file(path, kind="workers", check_duplicates=False)
    partial = write_csv(tmp_path / "p.csv", FULL_HEADER, [worker_row(0)])
    result = import_file(partial, kind="workers", sync=True)
    assert result.vanished == 2
    alerts = DiscrepancyAlert.objects.filter(kind=DiscrepancyAlert.Kind.VANISHED)
    assert alerts.count() == 2
    alerts.update(resolved_at=timezone.now())
    import_file(partial, kind="workers", sync=True)
    assert alerts.count() == 2 and not alerts.filter(resolved_at__isnull=False).exists()
