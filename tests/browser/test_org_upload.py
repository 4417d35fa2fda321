"""An HR officer uploads the organization's staff file with one bad row (another organization's OGRN)
and reads the report: the good row is written, the bad one named with its reason; desktop and phone."""

import pytest
from django.test import Client

from registry.models import Employment, ImportJob
from tests.factories import OrganizationFactory, OrgMembershipFactory, PositionFactory, WorkerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_hr_officer_uploads_staff_file_and_sees_the_bad_row_in_the_report(
    _chromium, live_server, tmp_path, settings, screenshot_dir, device
):
    settings.VAR_DIR = tmp_path
    hr = OrgMembershipFactory()
    other = OrganizationFactory()
    worker, stranger, position = WorkerFactory(), WorkerFactory(), PositionFactory()
    staff_file = tmp_path / "staff.csv"
    staff_file.write_text(
        "snils;ogrn;position;rate;started_on\n"
        f"{worker.snils};{hr.organization.ogrn};{position.code};1;2021-03-01\n"
        f"{stranger.snils};{other.ogrn};{position.code};0,5;2021-03-01\n",
        encoding="utf-8",
    )
    client = Client()
    client.force_login(hr.user)
    context = _chromium.new_context(viewport=VIEWPORTS[device], locale="ru-RU")
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/org/")
        page.get_by_role("link", name="Загрузка файла сотрудников").click()
        page.wait_for_url("**/org/uploads/")
        page.get_by_label("Файл сотрудников (CSV, XLSX или JSON)").set_input_files(str(staff_file))
        page.get_by_role("button", name="Загрузить файл").click()
        page.wait_for_url("**/org/uploads/*-*/")
        status = page.locator("[data-job-status]")
        status.wait_for()
        page.wait_for_function("document.querySelector('[data-job-status]').dataset.jobStatus === 'done'")
        assert page.locator('[data-count="created"]').inner_text() == "1"
        assert page.locator('[data-count="invalid"]').inner_text() == "1"
        errors = page.locator(".upload-errors").inner_text()
        assert "строка 3, поле «ogrn»" in errors and "другой организации" in errors and other.ogrn in errors
        assert page.get_by_role("link", name="Скачать отчёт об ошибках (CSV)").is_visible()
        # Nothing wider than the screen (tables scroll inside their own box).
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[device]["width"]
        page.screenshot(path=str(screenshot_dir / f"org-upload-report-{device}.png"), full_page=True)
    finally:
        context.close()
    job = ImportJob.objects.get()
    assert job.organization == hr.organization and job.invalid_count == 1
    assert list(Employment.objects.values_list("worker_id", "organization_id")) == [(worker.pk, hr.organization_id)]
