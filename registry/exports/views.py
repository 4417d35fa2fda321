"""Export of the public register (CSV, XLSX): small results at once, large ones as a Celery job.

The parameters are those of the search page (plus repeated ``ids`` for ticked rows; see
registry.exports). Every export request is written to the audit journal. A job can be followed and
downloaded only from the session that asked for it (its id is kept there); anyone else gets 404.
"""

from __future__ import annotations

from django.core.exceptions import TooManyFieldsSent
from django.db import transaction
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from core import ratelimit, reconcile
from core.audit import audit_record
from core.http import client_ip
from core.models import AuditEntry

from ..models import ExportJob
from . import services as exports

EXPORT_LIMIT = {"limit": 10, "period": 60}  # per IP: an export reads far more than a search page


@require_GET
def export_csv(request):
    return _export(request, ExportJob.Format.CSV)


@require_GET
def export_xlsx(request):
    return _export(request, ExportJob.Format.XLSX)


def _export(request, fmt: str):
    retry_after = ratelimit.hit(scope="export", ident=client_ip(request) or "", **EXPORT_LIMIT)
    if retry_after:
        response = _error(request, "Слишком много выгрузок с вашего адреса. Подождите минуту.", status=429)
        response["Retry-After"] = str(retry_after)
        return response
    try:
        data = request.GET
    except TooManyFieldsSent:  # more than DATA_UPLOAD_MAX_NUMBER_FIELDS (1000) parameters
        return _error(request, f"Отмеченные строки: не больше {exports.MAX_IDS} за одну выгрузку.", status=400)
    try:
        cleaned, ids = exports.parse_params(data)
    except exports.ExportParamsError as exc:
        return _error(request, str(exc), status=400)
    qs = exports.export_queryset(cleaned, ids)
    threshold = exports.ASYNC_THRESHOLD
    count = qs[: threshold + 1].count()  # capped: an exact count over millions of rows is slow
    params = exports.params_for_storage(data)
    details = {"format": fmt, "params": params, "ticked": len(ids)}
    if count > threshold:
        return _start_job(request, fmt, params, details)
    audit_record(
        event=AuditEntry.Event.EXPORT, request=request, object_type="registry", details={**details, "rows": count}
    )
    if fmt == ExportJob.Format.CSV:
        response = StreamingHttpResponse(exports.csv_document(qs), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{exports.download_name("csv")}"'
        return response
    # FileResponse closes the anonymous temporary file when sent, which deletes it.
    return FileResponse(
        exports.xlsx_tempfile(qs),
        as_attachment=True,
        filename=exports.download_name("xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _start_job(request, fmt: str, params: dict, details: dict):
    if not request.session.session_key:
        request.session.save()  # an anonymous visitor needs a session to own the job
    user = request.user if request.user.is_authenticated else None
    with transaction.atomic():
        job = ExportJob.objects.create(
            format=fmt, params=params, session_key=request.session.session_key or "", user=user
        )
        audit_record(
            event=AuditEntry.Event.EXPORT,
            request=request,
            object_type="export_job",
            object_id=str(job.pk),
            details={**details, "rows": f">{exports.ASYNC_THRESHOLD}", "job": str(job.pk)},
        )
        # Never raises into the request: with Redis down the job stays queued for the reconciler.
        reconcile.enqueue_on_commit("registry.run_export", str(job.pk))
    exports.remember_job(request.session, job)
    return redirect("registry:export_job", job_id=job.pk)


def _error(request, message: str, *, status: int):
    return render(request, "registry/export_error.html", {"message": message}, status=status)


def _own_job(request, job_id) -> ExportJob:
    """The job if this session asked for it (or the same signed-in user); anyone else gets 404."""
    job = get_object_or_404(ExportJob, pk=job_id)
    mine = str(job.pk) in exports.job_ids_in_session(request.session)
    same_user = request.user.is_authenticated and job.user_id == request.user.pk
    if not (mine or same_user):
        raise Http404
    return job


@require_GET
def export_job(request, job_id):
    job = _own_job(request, job_id)
    # htmx polls the status block every 2 s until the job is done or failed.
    template = "registry/_export_job_status.html" if getattr(request, "htmx", False) else "registry/export_job.html"
    return render(request, template, {"job": job, "progress": exports.job_progress(job)})


@require_GET
def export_job_download(request, job_id):
    job = _own_job(request, job_id)
    path = exports.job_file_path(job)
    if job.status != ExportJob.Status.DONE or path is None or not path.exists():
        raise Http404
    return FileResponse(open(path, "rb"), as_attachment=True, filename=exports.download_name(job.format))
