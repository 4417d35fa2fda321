"""Admin permission shapes shared by the apps."""

from django.contrib import admin
from django.http import HttpResponseRedirect


class NoAddDeleteMixin:
    """Rows created by services (which number, check and journal them) and kept as a record:
    staff may act on them, never add them by hand or delete them."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ViewOnlyMixin:
    """Rows that services create and change (imports, detected duplicates, alerts, audit runs): staff
    look and act through actions and pages of their own, never add or edit a row by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoAddDeleteMixin, admin.ModelAdmin):
    """Journals and stored records: staff read, nobody edits."""

    def has_change_permission(self, request, obj=None):
        return False


# Set on the request when a service refused a change made through the change form.
_SERVICE_FAILED = "_medreg_service_failed"


class ServiceFailureMixin:
    """When a service refuses in save_model, keep the user on the form: no "changed" log entry and no
    redirect to the list, as if nothing had been saved (nothing was). save_model calls
    `self.service_failed(request)` after showing the service's message."""

    def service_failed(self, request) -> None:
        setattr(request, _SERVICE_FAILED, True)

    def log_change(self, request, obj, message):
        if getattr(request, _SERVICE_FAILED, False):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        if getattr(request, _SERVICE_FAILED, False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


class LabelledTabularInline(admin.TabularInline):
    """A tabular inline whose fields are named for screen readers.

    Django's tabular inline puts the field names in the column headers only, so every input of a
    row has no label (axe-core: label, select-name). Each widget gets its column's name as
    aria-label.
    """

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None:
            field.widget.attrs.setdefault("aria-label", str(field.label))
        return field
