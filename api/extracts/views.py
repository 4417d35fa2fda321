"""Extract downloads for the logged-in worker and the public verification page."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from core import ratelimit
from core.audit import audit_record
from core.http import client_ip
from core.models import AuditEntry
from registry.models import MedicalWorker

from .. import services
from ..models import Extract
from . import documents as extracts

# Verification is public: limits per client IP keep code guessing and PDF parsing cheap for us.
VERIFY_PER_MINUTE = 60
UPLOADS_PER_MINUTE = 10
PDF_NAMES = {Extract.Kind.REGISTRY: "vypiska-iz-registra", Extract.Kind.QUALIFICATION: "spravka-o-kvalifikacii"}


def _own_worker(request) -> MedicalWorker:
    # Only the worker's own record; an account without one gets a 404, like another user's object.
    worker = MedicalWorker.objects.filter(user=request.user).first()
    if worker is None:
        raise Http404("Запись регистра не привязана к учётной записи")
    return worker


def _pdf_response(extract: Extract) -> HttpResponse:
    response = HttpResponse(extracts.render_pdf(extract), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{PDF_NAMES[extract.kind]}-{extract.code}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def extract_list(request):
    worker = MedicalWorker.objects.filter(user=request.user).first()
    issued = Extract.objects.filter(worker=worker).order_by("-created_at", "-id")[:50] if worker else []
    return render(request, "api/extracts.html", {"worker": worker, "issued": issued})


def _download(request, kind: str):
    worker = _own_worker(request)
    extract = services.extract_issue(worker=worker, user=request.user, kind=kind, request=request)
    return _pdf_response(extract)


@login_required
@require_GET
def registry_pdf(request):
    return _download(request, Extract.Kind.REGISTRY)


@login_required
@require_GET
def qualification_pdf(request):
    return _download(request, Extract.Kind.QUALIFICATION)


@login_required
@require_GET
def extract_pdf(request, code: str):
    """A copy of an extract issued before (same code and facts); only its owner may have it."""
    extract = get_object_or_404(Extract, code=extracts.normalize_code(code) or "-", user=request.user)
    audit_record(
        event=AuditEntry.Event.EXPORT,
        subject=request.user,
        request=request,
        object_type="extract",
        object_id=extract.code,
        details={"kind": extract.kind, "copy": True},
    )
    return _pdf_response(extract)


class CodeForm(forms.Form):
    code = forms.CharField(label="Код проверки", max_length=20, help_text="12 знаков, например 7K3M-Q9XZ-4HTB")

    def clean_code(self):
        code = extracts.normalize_code(self.cleaned_data["code"])
        if not code:
            raise forms.ValidationError("Код проверки: 12 букв и цифр, как напечатано на выписке.")
        return code


class UploadForm(forms.Form):
    file = forms.FileField(label="Файл выписки (PDF)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > extracts.MAX_UPLOAD_BYTES:
            raise forms.ValidationError("Файл выписки: не более 2 МБ.")
        return upload


def _limited(request, *, scope: str, limit: int) -> bool:
    return ratelimit.hit(scope=scope, ident=client_ip(request) or "", limit=limit, period=60) is not None


def _too_many(request):
    context = {"code_form": CodeForm(), "upload_form": UploadForm(), "verdict": None, "limited": True}
    return render(request, "api/verify.html", context, status=429)


@require_http_methods(["GET", "POST"])
def verify_start(request):
    """Enter a code, or upload the PDF to check that the file itself was not altered."""
    if request.method == "POST" and _limited(request, scope="verify-upload", limit=UPLOADS_PER_MINUTE):
        return _too_many(request)
    code_form = CodeForm(request.GET or None)
    if request.GET and code_form.is_valid():
        return redirect("extracts:verify", code=code_form.cleaned_data["code"])
    upload_form = UploadForm(request.POST or None, request.FILES or None)
    verdict = None
    status = 200
    if request.method == "POST" and upload_form.is_valid():
        try:
            verdict = extracts.verify_pdf(upload_form.cleaned_data["file"].read())
        except extracts.PdfCheckError as exc:
            upload_form.add_error("file", str(exc))
            status = 400
    elif request.method == "POST":
        status = 400
    context = {"code_form": code_form, "upload_form": upload_form, "verdict": verdict, "uploaded": bool(verdict)}
    return render(request, "api/verify.html", context, status=status)


@require_GET
def verify(request, code: str):
    if _limited(request, scope="verify", limit=VERIFY_PER_MINUTE):
        return _too_many(request)
    verdict = extracts.verify_code(code)
    context = {"verdict": verdict, "code_form": CodeForm(), "upload_form": UploadForm()}
    return render(request, "api/verify.html", context, status=200 if verdict.found else 404)
