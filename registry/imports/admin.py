"""Admin for imports and force sync: upload with progress and an error report, a sync preview to apply."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from core.admin_mixins import ViewOnlyMixin

from .. import models
from . import jobs as import_jobs
from .schema import KINDS, ImportFileError


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label="Вид данных", choices=models.ImportKind.choices)
    mode = forms.ChoiceField(
        label="Режим",
        choices=[
            (models.ImportJob.Mode.IMPORT, "Импорт"),
            (models.ImportJob.Mode.DRY_RUN, "Только проверка, без записи"),
            (models.ImportJob.Mode.SYNC_PREVIEW, "Принудительная синхронизация: сначала сверка"),
        ],
        initial=models.ImportJob.Mode.IMPORT,
    )
    file = forms.FileField(label="Файл (CSV, XLSX или JSON)", required=False)
    url = forms.URLField(label="или адрес источника (для синхронизации)", required=False, assume_scheme="https")

    def clean(self):
        data = super().clean()
        if not data.get("file") and not data.get("url"):
            raise ValidationError("Выберите файл или укажите адрес источника.")
        if data.get("file") and data.get("url"):
            raise ValidationError("Укажите что-то одно: файл или адрес.")
        return data


@admin.register(models.ImportJob)
class ImportJobAdmin(ViewOnlyMixin, admin.ModelAdmin):
    # Uploads go through the upload page, not the add form.
    list_display = (
        "created_at",
        "kind",
        "mode",
        "original_name",
        "status",
        "progress",
        "created_count",
        "updated_count",
        "unchanged_count",
        "invalid_count",
        "vanished_count",
        "user",
        "organization",
    )
    list_filter = ("kind", "mode", "status")
    list_select_related = ("user", "organization")
    actions = ["force_sync"]
    change_list_template = "admin/registry/importjob/change_list.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="registry_importjob_upload"),
            path("<uuid:job_id>/status/", wrap(self.status_view), name="registry_importjob_status"),
            path("<uuid:job_id>/report/", wrap(self.report_view), name="registry_importjob_report"),
            path("<uuid:job_id>/apply/", wrap(self.apply_view), name="registry_importjob_apply"),
            *super().get_urls(),
        ]

    def _require(self, request):
        if not self.has_view_permission(request) or not request.user.has_perm("registry.add_medicalworker"):
            raise PermissionDenied

    def upload_view(self, request):
        self._require(request)
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["file"]:
                    source, original = import_jobs.upload_store(data["file"]), data["file"].name
                else:
                    source = original = data["url"]
                job = import_jobs.import_job_create(
                    kind=data["kind"],
                    source=source,
                    original_name=original,
                    mode=data["mode"],
                    user=request.user,
                    request=request,
                )
            except ImportFileError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("admin:registry_importjob_status", job_id=job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Загрузка файла обмена",
            "form": form,
            "opts": self.model._meta,
            "kinds": KINDS,
        }
        return render(request, "admin/registry/importjob/upload.html", context)

    def status_view(self, request, job_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(models.ImportJob, pk=job_id)
        context = {**self.admin_site.each_context(request), "title": str(job), "job": job, "opts": self.model._meta}
        if request.headers.get("HX-Request"):
            return render(request, "admin/registry/importjob/_status.html", context)
        return render(request, "admin/registry/importjob/status.html", context)

    def report_view(self, request, job_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(models.ImportJob, pk=job_id)
        report = import_jobs.report_path(job)
        if report is None or not report.exists():
            raise Http404
        return FileResponse(open(report, "rb"), as_attachment=True, filename=f"errors-{job.kind}-{job.pk}.csv")

    def apply_view(self, request, job_id):
        self._require(request)
        if request.method != "POST":
            raise Http404
        preview = get_object_or_404(
            models.ImportJob, pk=job_id, mode=models.ImportJob.Mode.SYNC_PREVIEW, status=models.ImportJob.Status.DONE
        )
        job = import_jobs.import_job_create(
            kind=preview.kind,
            source=preview.source,
            original_name=preview.original_name,
            mode=models.ImportJob.Mode.SYNC_APPLY,
            user=request.user,
            request=request,
            preview=preview,
        )
        messages.success(request, "Синхронизация запущена.")
        return redirect("admin:registry_importjob_status", job_id=job.pk)

    @admin.action(description="Принудительная синхронизация: перечитать источник и показать расхождения")
    def force_sync(self, request, queryset):
        self._require(request)
        started = []
        for job in queryset:
            job = import_jobs.import_job_create(
                kind=job.kind,
                source=job.source,
                original_name=job.original_name,
                mode=models.ImportJob.Mode.SYNC_PREVIEW,
                user=request.user,
                request=request,
            )
            started.append(job)
        if len(started) == 1:
            return HttpResponseRedirect(reverse("admin:registry_importjob_status", args=[started[0].pk]))
        messages.success(request, f"Запущено сверок: {len(started)}.")
        return None
