"""An organization's own upload (issue 20): the engine's scope refuses other organizations' rows, the
job carries the organization, and the upload is sniffed by its content."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.imports import import_file
from registry.imports import jobs as import_jobs
from registry.imports.schema import ImportFileError
from registry.models import Employment, ImportJob
from tests.factories import OrganizationFactory, PositionFactory, WorkerFactory
from tests.registry.imports.test_import import write_csv

pytestmark = pytest.mark.django_db

HEADER = ["snils", "ogrn", "position", "rate", "started_on"]


@pytest.fixture
def two_orgs():
    return OrganizationFactory(), OrganizationFactory()


def _rows(worker, own, other, position):
    return [
        {"snils": worker.snils, "ogrn": own.ogrn, "position": position.code, "rate": "1", "started_on": "2020-01-10"},
        {"snils": worker.snils, "ogrn": other.ogrn, "position": position.code, "rate": "1", "started_on": "2021-01-10"},
    ]


def test_scoped_import_writes_own_rows_and_refuses_another_organizations_row_with_reason(tmp_path, two_orgs):
    own, other = two_orgs
    worker, position = WorkerFactory(), PositionFactory()
    path = write_csv(tmp_path / "staff.csv", HEADER, _rows(worker, own, other, position))
    result = import_file(path, kind="employments", scope_ogrn=own.ogrn)
    assert result.created == 1 and result.invalid == 1
    [error] = result.errors
    assert (error.row, error.field) == (3, "ogrn")
    assert other.ogrn in error.reason and "другой организации" in error.reason
    assert list(Employment.objects.values_list("organization_id", flat=True)) == [own.pk]


def test_unscoped_import_still_writes_every_organization(tmp_path, two_orgs):
    own, other = two_orgs
    worker, position = WorkerFactory(), PositionFactory()
    path = write_csv(tmp_path / "staff.csv", HEADER, _rows(worker, own, other, position))
    assert import_file(path, kind="employments").created == 2
    assert set(Employment.objects.values_list("source", flat=True)) == {Employment.Source.REGISTER}


@pytest.mark.parametrize("kind, sync", [("workers", False), ("organizations", False), ("employments", True)])
def test_scope_refuses_kinds_without_organization_and_sync(tmp_path, two_orgs, kind, sync):
    path = write_csv(tmp_path / "x.csv", HEADER, [])
    with pytest.raises(ImportFileError, match="организация загружает только"):
        import_file(path, kind=kind, sync=sync, scope_ogrn=two_orgs[0].ogrn)


def test_job_of_an_organization_runs_scoped_and_keeps_the_organization(
    tmp_path, two_orgs, settings, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    own, other = two_orgs
    worker, position = WorkerFactory(), PositionFactory()
    content = write_csv(tmp_path / "src.csv", HEADER, _rows(worker, own, other, position)).read_bytes()
    source = import_jobs.upload_store(SimpleUploadedFile("staff.csv", content))
    with django_capture_on_commit_callbacks(execute=True):  # tasks run inline after commit
        job = import_jobs.import_job_create(
            kind="employments", source=source, original_name="staff.csv", mode=ImportJob.Mode.IMPORT, organization=own
        )
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.organization == own
    assert (job.created_count, job.invalid_count) == (1, 1)
    assert "другой организации" in job.summary["errors"][0]
    assert "другой организации" in import_jobs.report_path(job).read_text(encoding="utf-8-sig")


@pytest.mark.parametrize("mode", [ImportJob.Mode.SYNC_PREVIEW, ImportJob.Mode.SYNC_APPLY])
def test_job_of_an_organization_refuses_sync(two_orgs, mode):
    with pytest.raises(ImportFileError):
        import_jobs.import_job_create(
            kind="employments", source="x.csv", original_name="x.csv", mode=mode, organization=two_orgs[0]
        )
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("staff.xlsx", b"snils;ogrn\n", "не XLSX"),
        ("staff.csv", b"PK\x03\x04rest-of-a-zip", "не текстовый"),
        ("staff.csv", b"%PDF-1.7\n", "не текстовый"),
        ("staff.json", b'[{"a": 1}]\x00\x00', "не текстовый"),
        ("staff.csv", "snils;ogrn\nИванов".encode("cp1251"), "UTF-8"),
        ("staff.csv", b"", "пустой"),
    ],
)
def test_upload_is_sniffed_by_content(tmp_path, settings, name, content, message):
    settings.VAR_DIR = tmp_path
    with pytest.raises(ImportFileError, match=message):
        import_jobs.upload_store(SimpleUploadedFile(name, content))
    assert not list(tmp_path.glob("imports/*"))


def test_utf8_csv_with_bom_and_cut_multibyte_tail_is_accepted(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    text = ("\ufeffsnils;ogrn\n" + "Иванов;" * 2000).encode("utf-8")
    assert import_jobs.upload_store(SimpleUploadedFile("staff.csv", text)).endswith(".csv")
