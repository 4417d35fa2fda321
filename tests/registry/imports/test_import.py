"""Import of exchange files: every validation error kind, idempotent re-import, all-or-nothing
batches, force sync, the command and the admin upload job."""

import csv
import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from django.utils import timezone
from openpyxl import Workbook

from core import validators
from registry.imports import engine, import_file
from registry.models import (
    AccreditationKind,
    AdmissionDocument,
    AdmissionStatus,
    DiscrepancyAlert,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    OrganizationLicense,
)
from tests.factories import (
    AdmissionDocumentFactory,
    OrganizationFactory,
    PositionFactory,
    RegionFactory,
    SpecialtyFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db

WORKER_HEADER = ["snils", "registry_number", "inn", "last_name", "first_name", "middle_name", "sex", "birth_date"]


def snils(n: int) -> str:
    return validators.snils_from_number(400_000_000 + n)


def regnum(n: int) -> str:
    return validators.registry_number_from_serial(5_000 + n)


def inn(n: int) -> str:
    return validators.inn_person_from_body(f"50{n:08d}")


def worker_row(n: int, **overrides) -> dict:
    row = {
        "snils": snils(n),
        "registry_number": regnum(n),
        "inn": inn(n),
        "last_name": "Иванова",
        "first_name": f"Анна{chr(0x430 + n % 30)}",
        "middle_name": "Петровна",
        "sex": "F",
        "birth_date": "1980-01-15",
    }
    row.update(overrides)
    return row


def write_csv(path, header, rows, delimiter=";"):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])
    return path


def test_workers_csv_import_creates_rows_with_search_name(tmp_path):
    path = write_csv(tmp_path / "w.csv", WORKER_HEADER, [worker_row(1), worker_row(2)])
    result = import_file(path, kind="workers")
    assert (result.created, result.updated, result.unchanged, result.invalid) == (2, 0, 0, 0)
    worker = MedicalWorker.objects.get(snils=snils(1))
    assert worker.registry_number == regnum(1)
    assert worker.search_name == validators.normalize_person_name(worker.full_name)
    assert worker.admission_status == AdmissionStatus.NONE
    assert worker.registered_on == timezone.localdate()


def test_reimport_of_the_same_file_changes_nothing_not_even_updated_at(tmp_path):
    path = write_csv(tmp_path / "w.csv", WORKER_HEADER, [worker_row(n) for n in range(5)])
    import_file(path, kind="workers")
    before = dict(MedicalWorker.objects.values_list("snils", "updated_at"))
    again = import_file(path, kind="workers")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert dict(MedicalWorker.objects.values_list("snils", "updated_at")) == before


def test_changed_row_updates_only_that_worker(tmp_path):
    path = write_csv(tmp_path / "w.csv", WORKER_HEADER, [worker_row(1), worker_row(2)])
    import_file(path, kind="workers")
    untouched = MedicalWorker.objects.get(snils=snils(2)).updated_at
    path = write_csv(tmp_path / "w2.csv", WORKER_HEADER, [worker_row(1, last_name="Петрова"), worker_row(2)])
    result = import_file(path, kind="workers")
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    changed = MedicalWorker.objects.get(snils=snils(1))
    assert changed.last_name == "Петрова"
    assert changed.search_name.startswith("петрова ")
    assert MedicalWorker.objects.get(snils=snils(2)).updated_at == untouched


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("snils", "112-233-445 96", "контрольное число"),
        ("snils", "12345", "11 цифр"),
        ("snils", "", "не заполнено"),
        ("registry_number", "1234567890", "контрольное число"),
        ("inn", "123456789037", "контрольное число"),
        ("inn", "ИНН", "недопустимый символ"),
        ("last_name", "", "не заполнено"),
        ("last_name", "Я" * 101, "длиннее 100"),
        ("first_name", "Анна\x07", "управляющие символы"),
        ("sex", "X", "допустимые значения"),
        ("birth_date", "31.02.1980", "такой даты нет"),
        ("birth_date", "1980/01/01", "ГГГГ-ММ-ДД"),
        ("birth_date", "2999-01-01", "ещё не наступила"),
        ("birth_date", "1850-01-01", "раньше 1900"),
    ],
)
def test_each_worker_validation_error_names_row_field_and_reason(tmp_path, field, value, reason):
    path = write_csv(tmp_path / "w.csv", WORKER_HEADER, [worker_row(1), worker_row(2, **{field: value})])
    result = import_file(path, kind="workers")
    assert result.created == 1 and result.invalid == 1
    (error,) = result.errors
    assert (error.row, error.field) == (3, field)
    assert reason in error.reason
    assert not MedicalWorker.objects.filter(snils=snils(2)).exists()


def test_in_file_duplicates_and_conflicts_with_the_register_are_reported(tmp_path):
    existing = WorkerFactory()
    rows = [
        worker_row(1),
        worker_row(1, first_name="Другая"),  # same SNILS again
        worker_row(2, inn=inn(1)),  # INN of row 2
        worker_row(3, registry_number=existing.registry_number),  # registry number of another worker
        worker_row(4, inn=existing.inn),
        {**worker_row(5), "snils": existing.snils},  # existing SNILS with another registry number
    ]
    result = import_file(write_csv(tmp_path / "w.csv", WORKER_HEADER, rows), kind="workers")
    reasons = {(e.row, e.field): e.reason for e in result.errors}
    assert "уже была в строке 2" in reasons[(3, "snils")]
    assert "строке 2" in reasons[(4, "inn")]
    assert "другому работнику" in reasons[(5, "registry_number")]
    assert "другому работнику" in reasons[(6, "inn")]
    assert "другой регистровый номер" in reasons[(7, "registry_number")]
    assert result.created == 1


def test_fast_path_stores_and_reports_exactly_what_the_cleaners_do(tmp_path, monkeypatch):
    """Canonical rows skip the per-cell cleaners (schema._fast_workers); every other row must
    come out the same, stored values and error report alike, as with the cleaners alone."""
    import dataclasses

    from registry.imports import schema

    header = [*WORKER_HEADER, "citizenship", "phone", "email"]
    rows = [
        worker_row(1, phone="+79001234567", email="anna@example.ru"),
        worker_row(2, snils=validators.format_snils(snils(2)), sex="ж", birth_date="15.01.1980"),
        worker_row(3, citizenship="rus", phone="8 (900) 123-45-67", inn=""),
        worker_row(4, citizenship="AB1"),
        worker_row(5, last_name="Анна\\Мария", middle_name=""),
        worker_row(6, phone="abc", email="нет"),
        worker_row(7, inn="123456789037"),
        worker_row(8, registry_number="1234567890"),  # bad check digit: the next row, same SNILS, is the valid one
        worker_row(8, first_name="Вторая"),
        worker_row(10, snils="00100199800"),  # below the checked range
        worker_row(11, birth_date="1980-02-30"),
        worker_row(12, birth_date="1899-12-31"),
        worker_row(13, birth_date="2999-01-01"),
        worker_row(14, last_name="  Петрова  ", sex="М"),
        worker_row(15, inn=inn(1)),  # INN of row 2
        worker_row(16, registry_number=regnum(1)),  # registry number of row 2
        worker_row(1),  # SNILS of row 2 again
        worker_row(17, first_name="Анна\x07"),
        worker_row(18, email="a\x01@b.ru"),
        worker_row(19, birth_date="1980-1-15"),
    ]
    path = write_csv(tmp_path / "w.csv", header, rows)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{snils(20)};{regnum(20)};{inn(20)};Короткая;Строка;;F;1980-01-15\n")  # cells missing

    def stored():
        fields = [f.name for f in MedicalWorker._meta.fields if f.name not in ("id", "created_at", "updated_at")]
        return sorted(MedicalWorker.objects.values_list(*fields))

    fast = import_file(path, kind="workers")
    fast_rows = stored()
    MedicalWorker.objects.all().delete()
    monkeypatch.setitem(schema.KINDS, "workers", dataclasses.replace(schema.KINDS["workers"], fast=None))
    slow = import_file(path, kind="workers")
    assert fast.errors == slow.errors and len(fast.errors) >= 12
    assert (fast.created, fast.invalid) == (slow.created, slow.invalid)
    assert fast_rows == stored()
    assert MedicalWorker.objects.get(snils=snils(5)).last_name == "Анна\\Мария"
    assert MedicalWorker.objects.filter(snils=snils(8), first_name="Вторая").exists()


def test_first_import_into_an_empty_register_stores_what_the_upsert_would(tmp_path):
    """Into an empty worker table the rows are COPied straight into the register (PostgreSQL);
    a force sync takes the staging table and the upsert: both must store the same workers."""
    header = [*WORKER_HEADER, "citizenship", "phone", "email"]
    rows = [worker_row(n, phone=f"+7 900 000-00-0{n}", email=f"w{n}@example.ru", inn="") for n in range(1, 4)]
    rows += [worker_row(4, last_name="Тире\\Слэш", middle_name=""), worker_row(1, first_name="Повтор")]
    path = write_csv(tmp_path / "w.csv", header, rows)

    def stored():
        fields = [f.name for f in MedicalWorker._meta.fields if f.name not in ("id", "created_at", "updated_at")]
        return sorted(MedicalWorker.objects.values_list(*fields))

    direct = import_file(path, kind="workers")
    first = stored()
    assert (direct.created, direct.updated, direct.invalid) == (4, 0, 1)
    assert all(w.created_at == w.updated_at for w in MedicalWorker.objects.all())
    MedicalWorker.objects.all().delete()
    staged = import_file(path, kind="workers", sync=True)
    assert (staged.created, staged.updated, staged.invalid) == (4, 0, 1)
    assert staged.errors == direct.errors
    assert stored() == first


def test_file_level_errors_are_clear(tmp_path):
    from registry.imports import ImportFileError

    bad_header = write_csv(tmp_path / "a.csv", ["snils", "фамилия", "color"], [])
    with pytest.raises(ImportFileError, match=r"неизвестные столбцы.*color"):
        import_file(bad_header, kind="workers")
    missing = write_csv(tmp_path / "b.csv", ["snils"], [])
    with pytest.raises(ImportFileError, match="нет обязательных столбцов"):
        import_file(missing, kind="workers")
    cp1251 = tmp_path / "c.csv"
    cp1251.write_bytes("snils;фамилия\n1;Иванов\n".encode("cp1251"))
    with pytest.raises(ImportFileError, match="UTF-8"):
        import_file(cp1251, kind="workers")
    pdf = tmp_path / "d.csv"
    pdf.write_bytes(b"%PDF-1.4 hello")
    with pytest.raises(ImportFileError, match="PDF"):
        import_file(pdf, kind="workers")
    with pytest.raises(ImportFileError, match="не найден"):
        import_file(tmp_path / "missing.csv", kind="workers")
    broken = tmp_path / "e.json"
    broken.write_text("[{")
    with pytest.raises(ImportFileError, match="неверный JSON"):
        import_file(broken, kind="workers")


def test_russian_headers_json_and_xlsx_are_read(tmp_path):
    russian = write_csv(
        tmp_path / "ru.csv",
        ["СНИЛС", "Регистровый номер", "Фамилия", "Имя", "Пол", "Дата рождения"],
        [],
    )
    with open(russian, "a", encoding="utf-8") as handle:
        handle.write(
            f"{validators.format_snils(snils(1))};МР {regnum(1)[:9]}-{regnum(1)[9]};Сидорова;Ольга;Ж;15.01.1980\n"
        )
    assert import_file(russian, kind="workers").created == 1

    data = tmp_path / "w.json"
    data.write_text(json.dumps({"rows": [worker_row(2), "junk"]}, ensure_ascii=False), encoding="utf-8")
    result = import_file(data, kind="workers")
    assert result.created == 1
    assert [(e.row, e.field) for e in result.errors] == [(2, "—")]

    wb = Workbook()
    ws = wb.active
    ws.append(WORKER_HEADER)
    row = worker_row(3)
    row["birth_date"] = dt.date(1980, 1, 15)
    ws.append([row[name] for name in WORKER_HEADER])
    wb.save(tmp_path / "w.xlsx")
    assert import_file(tmp_path / "w.xlsx", kind="workers").created == 1
    assert MedicalWorker.objects.get(snils=snils(3)).birth_date == dt.date(1980, 1, 15)


def test_dry_run_writes_nothing_but_counts(tmp_path):
    path = write_csv(tmp_path / "w.csv", WORKER_HEADER, [worker_row(1), worker_row(2, snils="1")])
    result = import_file(path, kind="workers", dry_run=True)
    assert (result.created, result.invalid) == (1, 1)
    assert not MedicalWorker.objects.exists()


def test_a_failing_batch_is_rolled_back_whole_and_earlier_batches_stay(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "w.csv", WORKER_HEADER, [worker_row(n) for n in range(1, 7)])
    calls = []

    def fail_second(kind, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise DatabaseError("simulated failure")

    monkeypatch.setattr(engine, "_after_batch", fail_second)
    result = import_file(path, kind="workers", batch_size=3)
    assert calls == [
        3,
        3,
    ] or calls[:2] == [3, 3]
    assert set(MedicalWorker.objects.values_list("snils", flat=True)) == {snils(1), snils(2), snils(3)}
    assert result.created == 3
    assert sorted(e.row for e in result.errors) == [5, 6, 7]
    assert all("не записан целиком" in e.reason for e in result.errors)


# --- Organizations, employments, documents -------------------------------------------------------

ORG_HEADER = [
    "ogrn",
    "inn",
    "full_name",
    "short_name",
    "region",
    "status",
    "closed_on",
    "license_number",
    "license_issued_on",
    "license_valid_until",
    "license_authority",
    "license_status",
]


def org_row(n, **overrides):
    row = {
        "ogrn": validators.ogrn_from_body(f"10250{n:07d}"),
        "inn": validators.inn_legal_from_body(f"50{n:07d}"),
        "full_name": f"ГБУЗ «Больница {n}»",
        "short_name": f"Больница {n}",
        "region": "77",
        "status": "active",
    }
    row.update(overrides)
    return row


def test_organizations_with_licenses_and_their_errors(tmp_path):
    RegionFactory()
    rows = [
        org_row(
            1,
            license_number="Л041-01137-77/00368557",
            license_issued_on="2015-03-01",
            license_authority="Росздравнадзор",
        ),
        org_row(2, license_number="ЛИЦ-1", license_issued_on="2015-03-01", license_authority="X"),
        org_row(3, ogrn="1027700132196"),
        org_row(4, region="99"),
        org_row(5, status="closed"),
        org_row(
            6,
            license_number="ЛО-77-01-012345",
            license_issued_on="2009-01-01",
            license_valid_until="2014-01-01",
            license_authority="Департамент",
            license_status="active",
        ),
    ]
    result = import_file(write_csv(tmp_path / "o.csv", ORG_HEADER, rows), kind="organizations")
    reasons = {(e.row, e.field): e.reason for e in result.errors}
    assert "неверный формат" in reasons[(3, "license_number")]
    assert "контрольное число" in reasons[(4, "ogrn")]
    assert "нет в справочнике «регионы»" in reasons[(5, "region")]
    assert "дату закрытия" in reasons[(6, "closed_on")]
    assert result.created == 2
    assert OrganizationLicense.objects.get(number="Л041-01137-77/00368557").organization.short_name == "Больница 1"
    # An expired license still marked active is a discrepancy.
    alert = DiscrepancyAlert.objects.get(kind=DiscrepancyAlert.Kind.LICENSE_EXPIRED_ACTIVE)
    assert "ЛО-77-01-012345" in alert.message
    again = import_file(write_csv(tmp_path / "o.csv", ORG_HEADER, rows), kind="organizations")
    assert (again.created, again.updated) == (0, 0)
    assert DiscrepancyAlert.objects.count() == 1


EMP_HEADER = ["snils", "ogrn", "position", "specialty", "rate", "kind", "started_on", "ended_on", "dismissal_reason"]


def test_employments_import_refreshes_derived_columns_and_flags_closed_organizations(tmp_path):
    region = RegionFactory()
    worker = WorkerFactory()
    org = OrganizationFactory(region=region)
    closed = OrganizationFactory(region=region, status="closed", closed_on=dt.date(2020, 1, 1))
    position, specialty = PositionFactory(), SpecialtyFactory()
    rows = [
        {
            "snils": worker.snils,
            "ogrn": org.ogrn,
            "position": position.code,
            "specialty": specialty.code,
            "rate": "1",
            "started_on": "2019-09-01",
        },
        {
            "snils": worker.snils,
            "ogrn": closed.ogrn,
            "position": position.code,
            "rate": "0,5",
            "kind": "external",
            "started_on": "2018-01-01",
        },
        {"snils": snils(99), "ogrn": org.ogrn, "position": position.code, "rate": "1", "started_on": "2019-09-01"},
        {
            "snils": worker.snils,
            "ogrn": validators.ogrn_from_body("102777777777"),
            "position": position.code,
            "rate": "1",
            "started_on": "2019-09-01",
        },
        {"snils": worker.snils, "ogrn": org.ogrn, "position": "nope", "rate": "2", "started_on": "2019-09-01"},
        {
            "snils": worker.snils,
            "ogrn": org.ogrn,
            "position": position.code,
            "rate": "1",
            "started_on": "2019-09-01",
            "ended_on": "2010-01-01",
            "dismissal_reason": "x",
        },
    ]
    path = write_csv(tmp_path / "e.csv", EMP_HEADER, rows)
    result = import_file(path, kind="employments")
    reasons = {(e.row, e.field): e.reason for e in result.errors}
    assert "нет в регистре" in reasons[(4, "snils")]
    assert "нет в регистре" in reasons[(5, "ogrn")]
    assert "нет в справочнике «должности»" in reasons[(6, "position")]
    assert "от 0,25 до 1,5" in reasons[(6, "rate")]
    assert "раньше даты начала" in reasons[(7, "ended_on")]
    assert result.created == 2
    worker.refresh_from_db()
    assert worker.region_id == region.id and worker.primary_specialty_id == specialty.id
    assert DiscrepancyAlert.objects.filter(kind=DiscrepancyAlert.Kind.CLOSED_ORGANIZATION).count() == 1
    before = dict(Employment.objects.values_list("id", "updated_at"))
    again = import_file(path, kind="employments")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert dict(Employment.objects.values_list("id", "updated_at")) == before
    assert DiscrepancyAlert.objects.count() == 1  # the same conflict is not raised twice


DOC_HEADER = ["snils", "kind", "number", "specialty", "accreditation_kind", "issued_on", "valid_until", "status"]


def test_admission_documents_import_checks_dates_kinds_and_shared_numbers(tmp_path):
    worker, other = WorkerFactory(), WorkerFactory()
    specialty = SpecialtyFactory()
    AccreditationKind.objects.create(code="1", name="Первичная")
    taken = AdmissionDocumentFactory(worker=other, number="0177000000001")
    today = timezone.localdate()
    issued = (today - dt.timedelta(days=365)).isoformat()
    until = (today + dt.timedelta(days=365 * 3)).isoformat()
    rows = [
        {
            "snils": worker.snils,
            "kind": "accreditation",
            "number": "2277 000001",
            "specialty": specialty.code,
            "accreditation_kind": "1",
            "issued_on": issued,
            "valid_until": until,
        },
        {
            "snils": worker.snils,
            "kind": "certificate",
            "number": taken.number,
            "specialty": specialty.code,
            "issued_on": issued,
            "valid_until": until,
        },
        {
            "snils": worker.snils,
            "kind": "accreditation",
            "number": "2277 000002",
            "specialty": specialty.code,
            "issued_on": issued,
            "valid_until": until,
        },
        {
            "snils": worker.snils,
            "kind": "certificate",
            "number": "0177 5",
            "specialty": specialty.code,
            "issued_on": issued,
            "valid_until": (today + dt.timedelta(days=365 * 7)).isoformat(),
        },
        {
            "snils": worker.snils,
            "kind": "certificate",
            "number": "0177 6",
            "specialty": "999",
            "issued_on": issued,
            "valid_until": issued,
        },
    ]
    result = import_file(write_csv(tmp_path / "d.csv", DOC_HEADER, rows), kind="admission_documents")
    reasons = {(e.row, e.field): e.reason for e in result.errors}
    assert "за другим работником" in reasons[(3, "number")]
    assert "укажите вид аккредитации" in reasons[(4, "accreditation_kind")]
    assert "действует 5 лет" in reasons[(5, "valid_until")]
    assert "нет в справочнике «специальности»" in reasons[(6, "specialty")]
    assert result.created == 1
    assert AdmissionDocument.objects.get(number="2277 000001").worker == worker
    assert AdmissionDocument.objects.get(number=taken.number).worker == other  # never moved silently
    worker.refresh_from_db()
    assert worker.admission_status == AdmissionStatus.ACTIVE
    shared = DiscrepancyAlert.objects.get(kind=DiscrepancyAlert.Kind.DOCUMENT_SHARED)
    assert taken.number in shared.message
    import_file(write_csv(tmp_path / "d.csv", DOC_HEADER, rows), kind="admission_documents")
    assert DiscrepancyAlert.objects.filter(kind=DiscrepancyAlert.Kind.DOCUMENT_SHARED).count() == 1


# --- Force sync -----------------------------------------------------------------------------------


def test_force_sync_lists_new_changed_vanished_and_applies_only_when_asked(tmp_path):
    RegionFactory()
    first = write_csv(tmp_path / "o1.csv", ORG_HEADER, [org_row(1), org_row(2), org_row(3)])
    import_file(first, kind="organizations")
    source = write_csv(tmp_path / "o2.csv", ORG_HEADER, [org_row(1), org_row(2, short_name="Новое имя"), org_row(4)])
    preview = import_file(source, kind="organizations", sync=True, dry_run=True)
    assert (preview.created, preview.updated, preview.vanished) == (1, 1, 1)
    assert preview.new_keys == [org_row(4)["ogrn"]]
    assert preview.changed_keys == [org_row(2)["ogrn"]]
    assert preview.vanished_keys == [org_row(3)["ogrn"]]
    assert MedicalOrganization.objects.count() == 3  # nothing applied yet
    applied = import_file(source, kind="organizations", sync=True)
    assert (applied.created, applied.updated, applied.vanished) == (1, 1, 1)
    gone = MedicalOrganization.objects.get(ogrn=org_row(3)["ogrn"])
    assert gone.status == "closed" and gone.closed_on == timezone.localdate()
    assert import_file(source, kind="organizations", sync=True, dry_run=True).vanished == 0


def test_sync_command_prints_the_reconciliation(tmp_path, capsys):
    RegionFactory()
    import_file(write_csv(tmp_path / "o1.csv", ORG_HEADER, [org_row(1), org_row(2)]), kind="organizations")
    source = write_csv(tmp_path / "o2.csv", ORG_HEADER, [org_row(1), org_row(5)])
    call_command("sync_registry", str(source), kind="organizations")
    out = capsys.readouterr().out
    assert "Сверка" in out and "новых: 1" in out and "исчезнувших: 1" in out
    assert MedicalOrganization.objects.filter(status="active").count() == 2
    call_command("sync_registry", str(source), kind="organizations", apply=True)
    assert MedicalOrganization.objects.filter(status="closed").count() == 1


def test_import_command_reports_errors_and_writes_the_report(tmp_path, capsys):
    path = write_csv(tmp_path / "w.csv", WORKER_HEADER, [worker_row(1), worker_row(2, sex="?")])
    report = tmp_path / "errors.csv"
    call_command("import_registry", str(path), kind="workers", report=str(report))
    out = capsys.readouterr().out
    assert "добавлено 1" in out and "строка 3, поле «sex»" in out
    text = report.read_text(encoding="utf-8-sig")
    assert "Строка;Поле;Название поля;Причина" in text and "3;sex;Пол;" in text
    call_command("import_registry", str(path), kind="workers", dry_run=True)
    assert "без изменений 1" in capsys.readouterr().out


# --- Bulk mode (PostgreSQL): a large file into an empty table -------------------------------------


def _worker_indexes():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'registry_medicalworker'")
        names = sorted(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT obj_description('registry_importjob'::regclass, 'pg_class')")
        return names, cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_bulk_import_into_an_empty_table_rebuilds_every_index_even_after_a_failure(tmp_path, monkeypatch):
    from django.db import connection

    from tests.conftest import skip_or_fail

    if connection.vendor != "postgresql":
        skip_or_fail("bulk mode (index drop and rebuild) runs on PostgreSQL only")
    monkeypatch.setattr(engine, "BULK_MIN_BYTES", 0)
    before, note = _worker_indexes()
    assert note is None and "worker_search_name_trgm" in before
    path = write_csv(tmp_path / "w.csv", WORKER_HEADER, [worker_row(n) for n in range(1, 6)])

    def fail(kind, rows):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(engine, "_after_batch", fail)
    with pytest.raises(RuntimeError):
        import_file(path, kind="workers", batch_size=2)
    assert _worker_indexes() == (before, None)
    assert not MedicalWorker.objects.exists()

    monkeypatch.setattr(engine, "_after_batch", lambda kind, rows: None)
    result = import_file(path, kind="workers", batch_size=2)
    assert result.created == 5 and result.bulk_indexes >= 10
    assert _worker_indexes() == (before, None)
    again = import_file(path, kind="workers", batch_size=2)  # the table is no longer empty: no bulk mode
    assert (again.unchanged, again.bulk_indexes) == (5, 0)


@pytest.mark.django_db
def test_imported_workers_are_found_by_name_at_once(tmp_path, client):
    """Their words go into the search dictionary with the import, not only at the nightly rebuild."""
    from registry.models import SearchWord

    path = write_csv(tmp_path / "w.csv", WORKER_HEADER, [worker_row(1, last_name="Щукарёва", first_name="Зоя")])
    import_file(path, kind="workers")
    assert SearchWord.objects.filter(word="щукарева", position=1).exists()
    body = client.get("/registry/", {"q": "щукарева зо"}).content.decode()
    assert "Щукарёва Зоя Петровна" in body
