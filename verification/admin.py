from django.contrib import admin

from portal.admin_mixins import ReadOnlyAdmin

from .models import StoredDocument


@admin.register(StoredDocument)
class StoredDocumentAdmin(ReadOnlyAdmin):
    """Metadata only; contents are opened through the views that check access and journal reads."""

    list_display = ("id", "kind", "owner", "content_type", "size", "created_at")
    list_filter = ("kind", "content_type")
    search_fields = ("=owner__username", "=sha256")
    list_select_related = ("owner",)
    exclude = ("storage_name", "key_fingerprint")
    show_full_result_count = False
