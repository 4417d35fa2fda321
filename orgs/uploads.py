"""The organization's staff file (issue 20): an upload of employments in the import format, run by the
register's import engine and jobs with the organization as scope, so a row of another organization is
refused with a reason in the same report and the page shows the same progress as the admin import.

Pages: /org/uploads/ (the form and the organization's uploads), /org/uploads/<id>/ (progress and
summary, polled by htmx), /org/uploads/<id>/report/ (the CSV report). An upload of another
organization is a 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from core import ratelimit
from core.audit import audit_record
from core.models import AuditEntry
from registry.imports import jobs as import_jobs
from registry.imports.schema import KINDS, ImportFileError
from registry.models import ImportJob

from .views import org_view

KIND = "employments"
LIST_LIMIT = 20
UPLOADS_PER_HOUR = 30
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # a hospital's whole staff is a few MB


class StaffFileForm(forms.Form):
    file = forms.FileField(
        label="Файл сотрудников (CSV, XLSX или JSON)",
        help_text="Столбцы — как в файле обмена мест работы: snils, ogrn, position, rate, started_on и другие.",
        error_messages={"required": "Файл: выберите файл для загрузки."},
    )
    mode = forms.ChoiceField(
        label="Режим",
        choices=[(ImportJob.Mode.IMPORT, "Загрузить"), (ImportJob.Mode.DRY_RUN, "Только проверить, без записи")],
        initial=ImportJob.Mode.IMPORT,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Режим: выберите «Загрузить» или «Только проверить»."},
    )

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"Файл: не больше {MAX_UPLOAD_BYTES // 2**20} МБ.")
        return uploaded


def _org_job(request, job_id) -> ImportJob:
    """An upload of the chosen organization; anyone else's (another organization's, the admin's) is a 404."""
    return get_object_or_404(ImportJob, pk=job_id, organization=request.membership.organization)


@org_view()
@require_http_methods(["GET", "POST"])
def upload_list(request):
    membership = request.membership
    form = StaffFileForm(request.POST, request.FILES) if request.method == "POST" else StaffFileForm()
    if request.method == "POST":
        if not membership.can_edit:
            raise Http404("Загружать файлы может только кадровик")
        if form.is_valid():
            job = _start(request, form)
            if job is not None:
                return redirect("orgs:upload_detail", job_id=job.pk)
    uploads = list(
        ImportJob.objects.filter(organization=membership.organization)
        .only("id", "created_at", "original_name", "mode", "status", "progress", "total_rows", "invalid_count")
        .order_by("-created_at")[:LIST_LIMIT]
    )
    context = {"form": form, "uploads": uploads, "membership": membership, "columns": KINDS[KIND].columns}
    return render(request, "orgs/uploads.html", context, status=400 if form.errors else 200)


def _start(request, form: StaffFileForm) -> ImportJob | None:
    wait = ratelimit.hit(scope="org_upload", ident=f"user:{request.user.pk}", limit=UPLOADS_PER_HOUR, period=3600)
    if wait is not None:
        form.add_error(None, f"Слишком много загрузок: повторите через {wait // 60 + 1} мин.")
        return None
    uploaded = form.cleaned_data["file"]
    try:
        source = import_jobs.upload_store(uploaded)
        job = import_jobs.import_job_create(
            kind=KIND,
            source=source,
            original_name=uploaded.name or "",
            mode=form.cleaned_data["mode"],
            user=request.user,
            request=request,
            organization=request.membership.organization,
        )
    except ImportFileError as exc:
        form.add_error("file", str(exc))
        return None
    messages.success(request, "Файл принят: идёт проверка и загрузка.")
    return job


@org_view()
@require_http_methods(["GET"])
def upload_detail(request, job_id):
    job = _org_job(request, job_id)
    context = {"job": job, "membership": request.membership}
    if request.headers.get("HX-Request"):
        return render(request, "orgs/_upload_status.html", context)
    return render(request, "orgs/upload_detail.html", context)


@org_view()
@require_http_methods(["GET"])
def upload_report(request, job_id):
    job = _org_job(request, job_id)
    report = import_jobs.report_path(job)
    if report is None or not report.exists():
        raise Http404
    # The report repeats the file's SNILS and reasons about the organization's workers.
    audit_record(
        event=AuditEntry.Event.DATA_VIEWED,
        actor=request.user,
        request=request,
        object_type="import_job",
        object_id=str(job.pk),
        details={"report": True, "organization": job.organization_id},
    )
    response = FileResponse(open(report, "rb"), as_attachment=True, filename=f"errors-{job.pk}.csv")
    response["X-Content-Type-Options"] = "nosniff"
    return response
