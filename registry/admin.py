from django.contrib import admin
from django.db.models import Q

from core import validators
from core.admin_mixins import LabelledTabularInline, ReadOnlyAdmin
from core.audit import audit_record
from core.models import AuditEntry
from core.paginator import EstimatedCountPaginator

from . import models, services
from .forms import WorkerAddForm

# Each topic package registers the admin of its own models; admin autodiscovery imports only this module.
from .imports import admin as imports_admin  # noqa: F401
from .quality import admin as quality_admin  # noqa: F401


class WorkerRecordsListMixin:
    """Lists of millions of worker records (employments, documents, education...): newest first by
    primary key, the one order an index serves without sorting the table. Sorting by a date column
    was a 10-second query per page at 3 million workers; staff find a worker's records by the
    worker's registry number (search) instead."""

    ordering = ("-id",)
    sortable_by = ()
    show_full_result_count = False
    paginator = EstimatedCountPaginator


class RefreshesWorkerMixin:
    """Admin edits of a worker's records go through the same recomputation as every other write,
    so the stored admission status and search fields never go stale."""

    def _refresh(self, worker_ids):
        services.worker_refresh_derived(worker_ids=[w for w in worker_ids if w])

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._refresh([obj.worker_id])

    def delete_model(self, request, obj):
        worker_id = obj.worker_id
        super().delete_model(request, obj)
        self._refresh([worker_id])

    def delete_queryset(self, request, queryset):
        worker_ids = list(queryset.values_list("worker_id", flat=True).distinct())
        super().delete_queryset(request, queryset)
        self._refresh(worker_ids)


class DirectoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "is_active", "sort_order")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    ordering = ("sort_order", "code")


for directory in models.DIRECTORY_MODELS:
    admin.site.register(directory, DirectoryAdmin)


class LicenseInline(LabelledTabularInline):
    model = models.OrganizationLicense
    extra = 0
    fields = ("number", "issued_on", "valid_until", "authority", "status")
    show_change_link = True


@admin.register(models.MedicalOrganization)
class MedicalOrganizationAdmin(admin.ModelAdmin):
    list_display = ("short_name", "ogrn", "inn", "region", "org_type", "status")
    list_filter = ("status", "org_type", "region")
    search_fields = ("short_name", "full_name", "=ogrn", "=inn")
    list_select_related = ("region", "org_type")
    readonly_fields = ("search_name", "created_at", "updated_at")
    autocomplete_fields = ("region", "org_type")
    inlines = [LicenseInline]
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(models.OrganizationLicense)
class OrganizationLicenseAdmin(admin.ModelAdmin):
    list_display = ("number", "organization", "issued_on", "valid_until", "status")
    list_filter = ("status",)
    search_fields = ("=number", "organization__short_name")
    list_select_related = ("organization",)
    autocomplete_fields = ("organization",)
    readonly_fields = ("updated_at",)


class EmploymentInline(LabelledTabularInline):
    model = models.Employment
    extra = 0
    # With the department, the dismissal reason and who entered the row: support fixes an entry a worker
    # disputed here (the organization cabinet's «Оспорить»).
    fields = (
        "organization", "position", "specialty", "department", "rate", "kind", "started_on", "ended_on",
        "dismissal_reason", "source",
    )  # fmt: skip
    readonly_fields = ("source",)
    autocomplete_fields = ("organization", "position", "specialty")


class AdmissionDocumentInline(LabelledTabularInline):
    model = models.AdmissionDocument
    extra = 0
    fields = ("kind", "accreditation_kind", "specialty", "number", "issued_on", "valid_until", "status")
    autocomplete_fields = ("specialty",)


class EducationInline(LabelledTabularInline):
    model = models.Education
    extra = 0
    autocomplete_fields = ("specialty",)


class CategoryInline(LabelledTabularInline):
    model = models.CategoryAssignment
    extra = 0
    autocomplete_fields = ("specialty",)


@admin.register(models.MedicalWorker)
class MedicalWorkerAdmin(admin.ModelAdmin):
    list_display = (
        "registry_number",
        "full_name",
        "primary_specialty",
        "region",
        "admission_status",
        "identity_status",
        "registered_on",
    )
    list_filter = ("admission_status", "identity_status", "category", "region")
    # One box for a registry number, SNILS, INN (any formatting) or the start of the full name; see
    # get_search_results. (Django's own "=field" is a case-insensitive UPPER(...) = UPPER(...), which no
    # index serves: a sequential scan of 3 million rows per search.)
    search_fields = ("registry_number",)  # shows the search box; the lookup is get_search_results
    search_help_text = "Регистровый номер, СНИЛС, ИНН или начало ФИО"
    list_select_related = ("primary_specialty", "region")
    autocomplete_fields = ("user", "region", "primary_specialty")
    # Derived and audit-sensitive fields are set by services, never by hand.
    readonly_fields = (
        "registry_number",
        "search_name",
        "admission_status",
        "admission_valid_until",
        "category",
        "has_confirmed_documents",
        "identity_status",
        "last_confirmed_at",
        "public_consent_at",
        "created_at",
        "updated_at",
    )
    inlines = [EmploymentInline, AdmissionDocumentInline, EducationInline, CategoryInline]
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    date_hierarchy = None

    def get_search_results(self, request, queryset, search_term):
        """Exact identifiers through their unique indexes, a name prefix through the prefix index."""
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q()
        # Identifiers as people copy them: «МР 000001000-8», «123-456-789 01», «5001 0073 2259».
        digits = "".join(term.split()).replace("-", "").upper().removeprefix("МР")
        if not validators.is_digits(digits, max_length=12):
            digits = ""
        if digits:
            condition |= Q(registry_number=digits) | Q(snils=digits) | Q(inn=digits)
            # A SNILS, INN or number of a record merged away finds the record that took it over.
            condition |= Q(id__in=models.WorkerAlias.objects.filter(value=digits).values("worker_id"))
        name = " ".join(validators.normalize_person_name(term).split())
        if name and not digits:
            # LIKE 'x%' alone is no index range outside the "C" collation; the range [x, x with its last
            # letter + 1) is one in any collation (a letter is never ignored), LIKE keeps it exact.
            following = name[:-1] + chr(ord(name[-1]) + 1)
            condition |= Q(search_name__gte=name, search_name__lt=following, search_name__startswith=name)
        if not condition:
            return queryset.none(), False
        return queryset.filter(condition), False

    # Staff add a worker through a short form: the registry number is issued on save and a probable
    # duplicate is flagged before anything is written (WorkerAddForm).
    add_form = WorkerAddForm

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": [*WorkerAddForm.Meta.fields, "confirm_not_duplicate"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else super().get_readonly_fields(request, obj)

    def get_inlines(self, request, obj):
        return [] if obj is None else super().get_inlines(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        services.worker_create(
            worker=obj,
            actor=request.user,
            request=request,
            duplicate_confirmed=bool(form.cleaned_data.get("confirm_not_duplicate")),
        )
        return None

    def delete_model(self, request, obj):
        # Through the service: the changes feed reports the deletion (a tombstone) and the journal records it.
        services.worker_delete(worker_id=obj.pk, actor=request.user, request=request)

    def delete_queryset(self, request, queryset):
        for worker_id in queryset.values_list("pk", flat=True):
            services.worker_delete(worker_id=worker_id, actor=request.user, request=request)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.worker_refresh_derived(worker_ids=[form.instance.pk])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            # 152-ФЗ access journal: every staff read of a worker's protected data is recorded.
            worker = models.MedicalWorker.objects.filter(pk=object_id).only("user_id", "registry_number").first()
            if worker is not None:
                audit_record(
                    event=AuditEntry.Event.DATA_VIEWED,
                    subject=worker.user,
                    actor=request.user,
                    request=request,
                    object_type="worker",
                    object_id=worker.registry_number,
                    details={"via": "admin"},
                )
        return response


@admin.register(models.Employment)
class EmploymentAdmin(WorkerRecordsListMixin, RefreshesWorkerMixin, admin.ModelAdmin):
    list_display = ("worker", "organization", "position", "rate", "kind", "started_on", "ended_on")
    list_filter = ("kind",)
    search_fields = ("=worker__registry_number", "=worker__snils", "organization__short_name")
    list_select_related = ("worker", "organization", "position")
    autocomplete_fields = ("worker", "organization", "position", "specialty")
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(models.Education)
class EducationAdmin(WorkerRecordsListMixin, admin.ModelAdmin):
    list_display = ("worker", "level", "institution", "diploma_number", "issued_on")
    list_filter = ("level",)
    search_fields = ("=worker__registry_number", "=diploma_number", "institution")
    list_select_related = ("worker", "level")
    autocomplete_fields = ("worker", "specialty")
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(models.AdmissionDocument)
class AdmissionDocumentAdmin(WorkerRecordsListMixin, RefreshesWorkerMixin, admin.ModelAdmin):
    list_display = ("number", "kind", "worker", "specialty", "issued_on", "valid_until", "status")
    list_filter = ("kind", "status", "accreditation_kind")
    search_fields = ("=number", "=worker__registry_number")
    list_select_related = ("worker", "specialty")
    autocomplete_fields = ("worker", "specialty")
    readonly_fields = ("updated_at",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(models.CategoryAssignment)
class CategoryAssignmentAdmin(WorkerRecordsListMixin, RefreshesWorkerMixin, admin.ModelAdmin):
    list_display = ("worker", "category", "specialty", "awarded_on", "valid_until")
    list_filter = ("category",)
    search_fields = ("=worker__registry_number",)
    list_select_related = ("worker", "category", "specialty")
    autocomplete_fields = ("worker", "specialty")
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(models.ContinuingEducation)
class ContinuingEducationAdmin(WorkerRecordsListMixin, admin.ModelAdmin):
    list_display = ("worker", "topic", "hours", "completed_on", "kind")
    list_filter = ("kind",)
    search_fields = ("=worker__registry_number", "topic")
    list_select_related = ("worker",)
    autocomplete_fields = ("worker", "specialty")
    show_full_result_count = False
    paginator = EstimatedCountPaginator


# Data quality and registry sync (issue 7): import, duplicates, alerts, dashboards.
@admin.register(models.ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    """Background exports of the public register: what was asked, how far it got, what failed."""

    list_display = ("created_at", "format", "status", "progress", "rows", "user", "finished_at")
    list_filter = ("status", "format")
    list_select_related = ("user",)
    readonly_fields = (
        "id",
        "created_at",
        "started_at",
        "finished_at",
        "params",
        "format",
        "status",
        "progress",
        "rows",
        "file_name",
        "error",
        "user",
    )
    exclude = ("session_key",)  # a session key is a credential
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
