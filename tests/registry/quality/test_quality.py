"""Data quality: duplicate detection and merge, discrepancy alerts and their digest, the audit
on a known dataset, workforce snapshots, and the admin pages built on them."""

import datetime as dt
import io

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from core.models import AuditEntry
from registry.models import (
    AccreditationKind,
    AdmissionDocument,
    AdmissionStatus,
    DiscrepancyAlert,
    DQAuditRun,
    DuplicateCandidate,
    Education,
    EducationLevel,
    Employment,
    ImportJob,
    MedicalWorker,
    OrganizationLicense,
    WatchedWorker,
    WorkerMerge,
    WorkforceSnapshot,
)
from registry.quality import audits, discrepancies, duplicates, monitoring, scan
from registry.services import worker_refresh_derived
from tests.factories import (
    AdmissionDocumentFactory,
    EmploymentFactory,
    OrganizationFactory,
    RegionFactory,
    StaffFactory,
    UserFactory,
    WorkerFactory,
)

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 1)


def twin_pair():
    """One person entered twice (the second time without an INN, so nothing conflicts)."""
    a = WorkerFactory(last_name="Смирнова", first_name="Ольга", middle_name="Ивановна", birth_date=dt.date(1980, 3, 1))
    b = WorkerFactory(
        last_name="Смирнова", first_name="Ольга", middle_name="Ивановна", birth_date=dt.date(1980, 3, 1), inn=None
    )
    return a, b


# --- Duplicates -----------------------------------------------------------------------------------


def test_probable_duplicates_by_name_and_birth_date_and_by_name_and_document():
    a, b = twin_pair()
    # A namesake: the same name, born years apart (not a typo of the date).
    WorkerFactory(last_name="Смирнова", first_name="Ольга", middle_name="Ивановна", birth_date=dt.date(1975, 7, 12))
    c = WorkerFactory(last_name="Кузнецов", first_name="Иван", middle_name="", birth_date=dt.date(1970, 1, 1))
    d = WorkerFactory(last_name="Кузнецов", first_name="Иван", middle_name="", birth_date=dt.date(1971, 1, 1))
    level = EducationLevel.objects.create(code="1", name="Высшее")
    for worker in (c, d):
        Education.objects.create(
            worker=worker,
            level=level,
            institution="МГМУ",
            diploma_number="107704 0012345",
            issued_on=dt.date(1995, 6, 30),
        )
    assert scan.duplicates_detect().new == 2
    pairs = {(p.worker_a_id, p.worker_b_id): p for p in DuplicateCandidate.objects.all()}
    # The namesake is never offered; the same name with another birth year but one diploma is one person.
    assert set(pairs) == {(a.id, b.id), (c.id, d.id)}
    for candidate in pairs.values():
        assert candidate.reason == DuplicateCandidate.Reason.LINKAGE and candidate.probability >= 0.5
    texts = [row["text"] for row in pairs[(c.id, d.id)].explanation]
    assert "Дипломы: есть общий номер" in texts
    assert "Дата рождения: отличается одной цифрой (01.01.1970 / 01.01.1971)" in texts
    assert scan.duplicates_detect().new == 0  # known pairs are not offered again


def test_merge_moves_everything_to_the_survivor_and_keeps_the_trail():
    region = RegionFactory()
    survivor, merged = twin_pair()
    survivor.inn = None
    survivor.save()
    merged_inn = merged.inn
    EmploymentFactory(worker=merged, organization=OrganizationFactory(region=region))
    doc = AdmissionDocumentFactory(worker=merged)
    level = EducationLevel.objects.create(code="1", name="Высшее")
    for worker in (survivor, merged):  # the same diploma on both: cannot move, kept in the trail
        Education.objects.create(
            worker=worker, level=level, institution="МГМУ", diploma_number="1", issued_on=dt.date(2000, 6, 30)
        )
    watcher = UserFactory()
    WatchedWorker.objects.create(user=watcher, worker=merged, last_status=AdmissionStatus.NONE)
    scan.duplicates_detect()
    staff = StaffFactory()

    record = duplicates.worker_merge(survivor_id=survivor.id, merged_id=merged.id, actor=staff)

    assert not MedicalWorker.objects.filter(id=merged.id).exists()
    assert Employment.objects.get().worker_id == survivor.id
    assert AdmissionDocument.objects.get(id=doc.id).worker_id == survivor.id
    assert WatchedWorker.objects.get().worker_id == survivor.id
    assert Education.objects.filter(worker=survivor).count() == 1
    assert record.moved["moved"] == {"employment": 1, "admissiondocument": 1, "watchedworker": 1}
    assert record.moved["kept_in_trail"]["registry.Education"][0]["diploma_number"] == "1"
    assert record.merged_snapshot["snils"] == merged.snils
    survivor.refresh_from_db()
    assert survivor.inn == merged_inn  # an empty field filled from the merged record
    assert survivor.region_id == region.id  # derived columns refreshed
    assert survivor.admission_status == AdmissionStatus.ACTIVE
    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.Status.MERGED
    entry = AuditEntry.objects.get(object_type="worker_merge")
    assert entry.actor == staff and entry.details["merged"] == merged.registry_number
    assert WorkerMerge.objects.count() == 1


def test_merge_refuses_two_accounts_and_itself():
    a, b = twin_pair()
    a.user, b.user = UserFactory(), UserFactory()
    a.save()
    b.save()
    with pytest.raises(duplicates.MergeError, match="учётные записи"):
        duplicates.worker_merge(survivor_id=a.id, merged_id=b.id)
    with pytest.raises(duplicates.MergeError):
        duplicates.worker_merge(survivor_id=a.id, merged_id=a.id)
    assert MedicalWorker.objects.count() == 2


# --- Alerts ---------------------------------------------------------------------------------------


def conflicts(today=TODAY):
    region = RegionFactory()
    closed = OrganizationFactory(region=region, status="closed", closed_on=today - dt.timedelta(days=30))
    at_closed = WorkerFactory()
    EmploymentFactory(worker=at_closed, organization=closed)
    OrganizationLicense.objects.create(
        organization=closed,
        number="ЛО-77-01-012345",
        issued_on=dt.date(2008, 1, 1),
        valid_until=dt.date(2013, 1, 1),
        authority="Департамент",
    )
    stale = WorkerFactory(admission_status=AdmissionStatus.ACTIVE, admission_valid_until=today - dt.timedelta(days=1))
    one, two = WorkerFactory(), WorkerFactory()
    AdmissionDocumentFactory(worker=one, number="7700 1")
    kind = AccreditationKind.objects.create(code="1", name="Первичная")
    AdmissionDocumentFactory(
        worker=two, number="7700 1", kind=AdmissionDocument.Kind.ACCREDITATION, accreditation_kind=kind
    )
    return at_closed, stale


def test_discrepancy_checks_raise_each_alert_once_and_the_digest_sends_it_once(settings):
    settings.DQ_ALERT_EMAILS = ["dq@medreg.local"]
    conflicts()
    found = discrepancies.discrepancy_checks_run(today=TODAY)
    assert found == {
        DiscrepancyAlert.Kind.DOCUMENT_SHARED: 1,
        DiscrepancyAlert.Kind.CLOSED_ORGANIZATION: 1,
        DiscrepancyAlert.Kind.LICENSE_EXPIRED_ACTIVE: 1,
        DiscrepancyAlert.Kind.EXPIRED_ACTIVE: 1,
    }
    discrepancies.discrepancy_checks_run(today=TODAY)
    assert DiscrepancyAlert.objects.count() == 4

    assert discrepancies.alerts_digest_send() == 4
    assert discrepancies.alerts_digest_send() == 0
    # The test transaction never commits; the digest was scheduled on commit.
    assert DiscrepancyAlert.objects.filter(notified_at__isnull=True).count() == 0
    discrepancies.discrepancy_checks_run(today=TODAY)  # found again: still not re-sent
    assert discrepancies.alerts_digest_send() == 0


def test_digest_email_lists_the_alerts(settings, on_commit_immediate):
    settings.DQ_ALERT_EMAILS = ["dq@medreg.local"]
    conflicts()
    discrepancies.discrepancy_checks_run(today=TODAY)
    discrepancies.alerts_digest_send()
    assert len(mail.outbox) == 1
    assert "(4)" in mail.outbox[0].subject
    assert "ЛО-77-01-012345" in mail.outbox[0].body
    discrepancies.alerts_digest_send()
    assert len(mail.outbox) == 1


def test_alert_is_resolved_when_the_conflict_is_gone():
    _at_closed, stale = conflicts()
    discrepancies.discrepancy_checks_run(today=TODAY)
    MedicalWorker.objects.filter(id=stale.id).update(admission_status=AdmissionStatus.EXPIRED)
    discrepancies.discrepancy_checks_run(today=TODAY)
    alert = DiscrepancyAlert.objects.get(kind=DiscrepancyAlert.Kind.EXPIRED_ACTIVE)
    assert alert.resolved_at is not None
    assert DiscrepancyAlert.objects.filter(resolved_at__isnull=True).count() == 3


# --- Audit ----------------------------------------------------------------------------------------


def test_audit_figures_on_a_known_dataset_and_the_trend():
    region = RegionFactory()
    at_closed, stale = conflicts()
    ok = WorkerFactory()
    EmploymentFactory(worker=ok, organization=OrganizationFactory(region=region))
    AdmissionDocumentFactory(worker=ok)
    _a, b = twin_pair()  # the second without an INN
    worker_refresh_derived(worker_ids=[at_closed.id, ok.id], today=TODAY)
    MedicalWorker.objects.filter(id=stale.id).update(
        admission_status=AdmissionStatus.ACTIVE, admission_valid_until=TODAY - dt.timedelta(days=1)
    )
    scan.duplicates_detect()

    run = audits.dq_audit_run(today=TODAY)

    # 7 workers: at_closed, stale, the two sharing a document number, ok, and the twin pair.
    assert run.total_workers == 7
    assert run.by_kind == {
        "duplicate": 2,
        "shared_document": 2,
        "closed_organization": 1,
        "status_stale": 1,
        # By the stored status: at_closed, the two sharing a number (not refreshed) and the twins.
        "no_document": 5,
        "no_workplace": 5,  # all but at_closed and ok
        "no_inn": 1,
        "license_expired_active": 1,
    }
    assert run.by_region["г. Москва"] == {"closed_organization": 1, "no_document": 1, "license_expired_active": 1}
    assert run.by_region["Регион не определён"]["no_workplace"] == 5
    # Duplicate (5) + no document (2) + no workplace (1) + no INN (1).
    assert (run.worst[0]["id"], run.worst[0]["score"]) == (b.id, 9)
    assert run.worst[0]["problems"] == [
        "Возможный дубликат",
        "Нет документа о допуске",
        "Нет текущего места работы",
        "Не указан ИНН",
    ]
    assert ok.id not in [row["id"] for row in run.worst]
    trend = audits.dq_trend(run)
    assert trend["duplicate"]["before"] is None

    DuplicateCandidate.objects.update(status=DuplicateCandidate.Status.DISMISSED)
    second = audits.dq_audit_run(today=TODAY)
    trend = audits.dq_trend(second)
    assert trend["duplicate"] == {"label": "Возможный дубликат", "now": 0, "before": 2, "delta": -2}
    buffer = io.BytesIO()
    audits.dq_audit_xlsx(second, buffer)
    sheets = load_workbook(io.BytesIO(buffer.getvalue())).sheetnames
    assert sheets == ["По видам", "По регионам", "Худшие записи"]


def test_dq_audit_command_prints_counts(capsys):
    twin_pair()
    from django.core.management import call_command

    call_command("dq_audit")
    out = capsys.readouterr().out
    assert "Новых возможных дубликатов: 1" in out and "Возможный дубликат: 2" in out
    assert DQAuditRun.objects.count() == 1


# --- Workforce ------------------------------------------------------------------------------------


def test_workforce_snapshot_counts_and_expiring_documents():
    region = RegionFactory()
    today = timezone.localdate()
    for _ in range(2):
        worker = WorkerFactory()
        EmploymentFactory(worker=worker, organization=OrganizationFactory(region=region))
        AdmissionDocumentFactory(
            worker=worker, valid_until=today + dt.timedelta(days=30), issued_on=today - dt.timedelta(days=1000)
        )
        worker_refresh_derived(worker_ids=[worker.id])
    WorkerFactory()
    snapshot = monitoring.workforce_snapshot_take()
    assert snapshot.total_workers == 3
    assert snapshot.by_region == {"г. Москва": 2, "Не указано": 1}
    assert snapshot.by_status == {"Истекает": 2, "Нет документа": 1}
    assert snapshot.expiring_90 == 2
    assert sum(snapshot.by_position.values()) == 2
    assert sum(snapshot.expiring_by_month.values()) == 2
    again = monitoring.workforce_snapshot_take()
    assert again.pk == snapshot.pk and WorkforceSnapshot.objects.count() == 1


# --- Admin ----------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_dashboards_render_from_stored_results_with_bounded_queries(admin_client, django_assert_max_num_queries):
    conflicts()
    twin_pair()
    scan.duplicates_detect()
    discrepancies.discrepancy_checks_run()
    audits.dq_audit_run()
    audits.dq_audit_run()
    monitoring.workforce_snapshot_take()
    with django_assert_max_num_queries(12):
        page = admin_client.get(reverse("admin:registry_dqauditrun_dashboard"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "vendor/chartjs/4.6.1/chart.umd.min.js" in text and 'id="dashboard-charts"' in text
    assert "Худшие записи" in text
    with django_assert_max_num_queries(8):
        page = admin_client.get(reverse("admin:registry_workforcesnapshot_dashboard"))
    assert page.status_code == 200 and 'id="wf-history"' in page.content.decode()
    run = DQAuditRun.objects.first()
    xlsx = admin_client.get(reverse("admin:registry_dqauditrun_xlsx", args=[run.pk]))
    assert xlsx.status_code == 200 and load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))
    xlsx = admin_client.get(reverse("admin:registry_workforcesnapshot_xlsx"))
    assert load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).sheetnames[0] == "По регионам"
    alerts = admin_client.get(reverse("admin:registry_discrepancyalert_changelist"))
    assert "Открытые расхождения" in alerts.content.decode()


def test_dashboards_are_staff_only(client, worker_user):
    client.force_login(worker_user)
    for name in (
        "admin:registry_dqauditrun_dashboard",
        "admin:registry_workforcesnapshot_dashboard",
        "admin:registry_importjob_upload",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login" in response.url


def test_admin_upload_runs_the_job_and_offers_the_error_report(admin_client, tmp_path, settings, on_commit_immediate):
    settings.VAR_DIR = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.registry.imports.test_import import WORKER_HEADER, worker_row

    header = ";".join(WORKER_HEADER)
    good = ";".join(worker_row(1)[k] for k in WORKER_HEADER)
    bad = ";".join(worker_row(2, birth_date="1980-13-01")[k] for k in WORKER_HEADER)
    upload = SimpleUploadedFile("workers.csv", f"{header}\n{good}\n{bad}\n".encode())
    response = admin_client.post(
        reverse("admin:registry_importjob_upload"), {"kind": "workers", "mode": "import", "file": upload}
    )
    job = ImportJob.objects.get()
    assert response.url == reverse("admin:registry_importjob_status", args=[job.pk])
    assert (job.status, job.created_count, job.invalid_count, job.progress) == ("done", 1, 1, 100)
    page = admin_client.get(response.url).content.decode()
    assert "Скачать отчёт об ошибках" in page
    report = admin_client.get(reverse("admin:registry_importjob_report", args=[job.pk]))
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert "3;birth_date;Дата рождения;такой даты нет" in text
    partial = admin_client.get(response.url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="import-job"' in partial and "hx-get" not in partial  # done: polling stops
    assert AuditEntry.objects.filter(object_type="import_job").count() == 1


def test_admin_upload_refuses_other_files(admin_client, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = admin_client.post(
        reverse("admin:registry_importjob_upload"),
        {"kind": "workers", "mode": "import", "file": SimpleUploadedFile("x.exe", b"MZ")},
    )
    assert response.status_code == 200 and "допустимы CSV, XLSX и JSON" in response.content.decode()
    response = admin_client.post(reverse("admin:registry_importjob_upload"), {"kind": "workers", "mode": "import"})
    assert "Выберите файл" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_admin_force_sync_previews_then_applies(admin_client, tmp_path, settings, on_commit_immediate):
    settings.VAR_DIR = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    from registry.models import MedicalOrganization
    from tests.registry.imports.test_import import ORG_HEADER, org_row

    RegionFactory()
    OrganizationFactory(ogrn=org_row(9)["ogrn"])
    lines = [";".join(ORG_HEADER)] + [";".join(org_row(n).get(k, "") for k in ORG_HEADER) for n in (1, 2)]
    upload = SimpleUploadedFile("orgs.csv", "\n".join(lines).encode())
    response = admin_client.post(
        reverse("admin:registry_importjob_upload"), {"kind": "organizations", "mode": "sync_preview", "file": upload}
    )
    preview = ImportJob.objects.get()
    assert (preview.created_count, preview.vanished_count) == (2, 1)
    assert MedicalOrganization.objects.count() == 1
    page = admin_client.get(response.url).content.decode()
    assert org_row(9)["ogrn"] in page and "Применить синхронизацию" in page
    # The admin action re-reads the same source into a new preview.
    admin_client.post(
        reverse("admin:registry_importjob_changelist"), {"action": "force_sync", "_selected_action": [str(preview.pk)]}
    )
    assert ImportJob.objects.filter(mode=ImportJob.Mode.SYNC_PREVIEW).count() == 2
    admin_client.post(reverse("admin:registry_importjob_apply", args=[preview.pk]))
    applied = ImportJob.objects.get(mode=ImportJob.Mode.SYNC_APPLY)
    assert applied.status == "done" and applied.preview_id == preview.pk
    assert MedicalOrganization.objects.filter(status="active").count() == 2
    assert MedicalOrganization.objects.get(ogrn=org_row(9)["ogrn"]).status == "closed"


def test_duplicate_review_list_and_merge_action(admin_client):
    a, b = twin_pair()
    scan.duplicates_detect()
    candidate = DuplicateCandidate.objects.get()
    page = admin_client.get(reverse("admin:registry_duplicatecandidate_changelist")).content.decode()
    assert a.registry_number_display in page and b.registry_number_display in page
    admin_client.post(
        reverse("admin:registry_duplicatecandidate_decide", args=[candidate.pk]), {"decision": "keep_second"}
    )
    assert list(MedicalWorker.objects.values_list("id", flat=True)) == [b.id]
    assert WorkerMerge.objects.get().merged_registry_number == a.registry_number


def test_adding_a_worker_in_admin_checks_snils_and_warns_of_a_probable_duplicate(admin_client):
    from core import validators

    existing = WorkerFactory(last_name="Орлова", first_name="Мария", middle_name="", birth_date=dt.date(1990, 2, 2))
    url = reverse("admin:registry_medicalworker_add")
    form = {
        "snils": existing.snils,
        "last_name": "Орлова",
        "first_name": "Мария",
        "middle_name": "",
        "sex": "F",
        "birth_date": "1990-02-02",
        "citizenship": "RUS",
        "phone": "",
        "email": "",
        "inn": "",
    }
    page = admin_client.post(url, form).content.decode()
    assert "Работник с таким СНИЛС уже есть в регистре" in page
    form["snils"] = validators.format_snils(validators.snils_from_number(123_456_789))
    page = admin_client.post(url, form).content.decode()
    assert "Возможный дубликат" in page and existing.registry_number_display in page
    assert MedicalWorker.objects.count() == 1
    response = admin_client.post(url, {**form, "confirm_not_duplicate": "on"})
    assert response.status_code == 302
    added = MedicalWorker.objects.exclude(id=existing.id).get()
    assert added.snils == validators.snils_from_number(123_456_789)
    validators.validate_registry_number(added.registry_number)
    assert added.search_name == "орлова мария"
    assert AuditEntry.objects.filter(object_type="worker", details__action="created").exists()


def test_reading_the_duplicate_review_and_a_merge_trail_is_journaled(admin_client):
    a, b = twin_pair()
    scan.duplicates_detect()
    admin_client.get(reverse("admin:registry_duplicatecandidate_changelist"))
    assert AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED, object_type="duplicate_review").count() == 1
    record = duplicates.worker_merge(survivor_id=a.id, merged_id=b.id)
    page = admin_client.get(reverse("admin:registry_workermerge_change", args=[record.pk]))
    assert page.status_code == 200
    assert AuditEntry.objects.filter(event=AuditEntry.Event.DATA_VIEWED, object_type="worker_merge").count() == 1


def test_import_pages_need_the_model_permission(client, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    staff = StaffFactory()  # staff, but without registry permissions
    client.force_login(staff)
    job = ImportJob.objects.create(kind="workers", source="x.csv", report_name="x-errors.csv")
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "x-errors.csv").write_text("secret")
    for name in ("admin:registry_importjob_status", "admin:registry_importjob_report"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 403
    assert client.get(reverse("admin:registry_importjob_upload")).status_code == 403


def test_a_record_that_absorbed_another_can_itself_be_merged_keeping_both_trails():
    a, b = twin_pair()
    c = WorkerFactory(
        last_name="Смирнова", first_name="Ольга", middle_name="Ивановна", birth_date=dt.date(1980, 3, 1), inn=None
    )
    duplicates.worker_merge(survivor_id=b.id, merged_id=a.id)
    duplicates.worker_merge(survivor_id=c.id, merged_id=b.id)
    assert list(MedicalWorker.objects.values_list("id", flat=True)) == [c.id]
    assert sorted(WorkerMerge.objects.values_list("merged_registry_number", flat=True)) == sorted(
        [a.registry_number, b.registry_number]
    )
    assert set(WorkerMerge.objects.values_list("survivor_id", flat=True)) == {c.id}


def test_count_charts_tick_whole_numbers_and_keep_their_tables(admin_client):
    conflicts()
    audits.dq_audit_run()
    monitoring.workforce_snapshot_take()
    for name in ("admin:registry_dqauditrun_dashboard", "admin:registry_workforcesnapshot_dashboard"):
        page = admin_client.get(reverse(name))
        charts = page.context["charts"]
        axis_charts = {key: spec for key, spec in charts.items() if spec["type"] != "doughnut"}
        assert axis_charts and all(spec.get("integer") is True for spec in axis_charts.values()), name
        text = page.content.decode()
        assert text.count("<canvas") == len(charts) and text.count("<table") >= 1, name
    script = (settings.BASE_DIR / "static/js/charts.js").read_text()
    assert "spec.integer" in script and "precision: 0" in script
