"""The organization's staff file upload: the import engine with the organization as scope, the same
progress and report as the admin import, another organization's upload a 404."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import AuditEntry
from registry.models import Employment, ImportJob
from tests.factories import OrganizationFactory, OrgMembershipFactory, PositionFactory, WorkerFactory

pytestmark = pytest.mark.django_db

HEADER = "snils;ogrn;position;rate;started_on\n"


@pytest.fixture(autouse=True)
def _imports_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


@pytest.fixture
def hr():
    return OrgMembershipFactory()


@pytest.fixture
def hr_client(client, hr):
    client.force_login(hr.user)
    return client


def _staff_file(hr, *, bad_ogrn: str) -> SimpleUploadedFile:
    worker, other_worker, position = WorkerFactory(), WorkerFactory(), PositionFactory()
    text = (
        HEADER
        + f"{worker.snils};{hr.organization.ogrn};{position.code};1;2020-02-01\n"
        + f"{other_worker.snils};{bad_ogrn};{position.code};0,5;2020-02-01\n"
    )
    return SimpleUploadedFile("staff.csv", text.encode("utf-8"), content_type="text/csv")


def _upload(client, upload, mode="import", django_capture_on_commit_callbacks=None):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("orgs:uploads"), {"file": upload, "mode": mode})


def test_upload_writes_own_rows_and_reports_the_row_of_another_organization(
    hr_client, hr, django_capture_on_commit_callbacks
):
    other = OrganizationFactory()
    response = _upload(
        hr_client,
        _staff_file(hr, bad_ogrn=other.ogrn),
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("orgs:upload_detail", args=[job.pk])
    assert job.organization == hr.organization and job.status == ImportJob.Status.DONE
    assert (job.created_count, job.invalid_count) == (1, 1)
    assert list(Employment.objects.values_list("organization_id", "source")) == [(hr.organization_id, "organization")]

    page = hr_client.get(response["Location"])
    text = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert "строка 3, поле «ogrn»" in text and "другой организации" in text
    assert 'data-count="invalid">1<' in text

    report = hr_client.get(reverse("orgs:upload_report", args=[job.pk]))
    body = b"".join(report.streaming_content).decode("utf-8-sig")
    assert report.status_code == 200 and report["X-Content-Type-Options"] == "nosniff"
    assert "3;ogrn;" in body and other.ogrn in body
    assert AuditEntry.objects.filter(object_type="import_job", object_id=str(job.pk)).count() == 2


def test_htmx_poll_returns_the_status_fragment(hr_client, hr):
    job = ImportJob.objects.create(
        kind="employments", source="x.csv", organization=hr.organization, progress=40, status=ImportJob.Status.RUNNING
    )
    response = hr_client.get(reverse("orgs:upload_detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    text = response.content.decode()
    assert response.status_code == 200 and "<html" not in text
    assert 'hx-trigger="every 2s"' in text and 'value="40"' in text


def test_dry_run_writes_nothing(hr_client, hr, django_capture_on_commit_callbacks):
    _upload(
        hr_client,
        _staff_file(hr, bad_ogrn=OrganizationFactory().ogrn),
        mode="dry_run",
        django_capture_on_commit_callbacks=django_capture_on_commit_callbacks,
    )
    job = ImportJob.objects.get()
    assert job.mode == ImportJob.Mode.DRY_RUN and job.created_count == 1
    assert not Employment.objects.exists()


@pytest.mark.parametrize("view", ["orgs:upload_detail", "orgs:upload_report"])
def test_upload_of_another_organization_is_404(hr_client, view):
    other = ImportJob.objects.create(
        kind="employments", source="x.csv", organization=OrganizationFactory(), report_name="x-errors.csv"
    )
    admin_job = ImportJob.objects.create(kind="employments", source="y.csv")
    assert hr_client.get(reverse(view, args=[other.pk])).status_code == 404
    assert hr_client.get(reverse(view, args=[admin_job.pk])).status_code == 404


def test_list_shows_only_own_uploads_in_fixed_queries(hr_client, hr, django_assert_max_num_queries):
    for n in range(5):
        ImportJob.objects.create(
            kind="employments", source=f"{n}.csv", original_name=f"own-{n}.csv", organization=hr.organization
        )
    ImportJob.objects.create(
        kind="employments", source="z.csv", original_name="foreign.csv", organization=OrganizationFactory()
    )
    with django_assert_max_num_queries(8):
        response = hr_client.get(reverse("orgs:uploads"))
    text = response.content.decode()
    assert response.status_code == 200 and text.count("own-") == 5 and "foreign.csv" not in text


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("staff.xlsx", b"snils;ogrn\n", "не XLSX"),
        ("staff.csv", b"%PDF-1.4 junk", "не текстовый"),
        ("staff.exe", b"MZ", "допустимы CSV"),
    ],
)
def test_hostile_or_mislabelled_file_is_refused_with_field_error(hr_client, name, content, message):
    response = hr_client.post(reverse("orgs:uploads"), {"file": SimpleUploadedFile(name, content), "mode": "import"})
    assert response.status_code == 400 and message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_missing_file_and_bad_mode_name_the_fields(hr_client):
    response = hr_client.post(reverse("orgs:uploads"), {"mode": "sync_apply"})
    text = response.content.decode()
    assert response.status_code == 400 and "Файл: выберите файл" in text and "Режим:" in text


def test_head_of_organization_sees_uploads_but_cannot_upload(client, hr):
    head = OrgMembershipFactory(organization=hr.organization, role="head")
    client.force_login(head.user)
    assert client.get(reverse("orgs:uploads")).status_code == 200
    upload = SimpleUploadedFile("staff.csv", HEADER.encode())
    assert client.post(reverse("orgs:uploads"), {"file": upload, "mode": "import"}).status_code == 404


def test_user_without_membership_gets_404_and_anonymous_goes_to_login(client, worker_user):
    assert client.get(reverse("orgs:uploads")).status_code == 302
    client.force_login(worker_user)
    assert client.get(reverse("orgs:uploads")).status_code == 404


def test_uploads_are_rate_limited(hr_client, hr, settings, monkeypatch):
    from orgs import uploads

    monkeypatch.setattr(uploads, "UPLOADS_PER_HOUR", 1)
    files = [SimpleUploadedFile("a.csv", b"\x00bad"), SimpleUploadedFile("b.csv", b"\x00bad")]
    hr_client.post(reverse("orgs:uploads"), {"file": files[0], "mode": "import"})
    response = hr_client.post(reverse("orgs:uploads"), {"file": files[1], "mode": "import"})
    assert "Слишком много загрузок" in response.content.decode()
