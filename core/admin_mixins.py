"""Admin permission shapes shared by the apps."""

from django.contrib import admin


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
