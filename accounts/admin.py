from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from core.admin_mixins import ReadOnlyAdmin, ViewOnlyMixin
from core.audit import audit_record
from core.models import AuditEntry
from core.paginator import EstimatedCountPaginator

from . import services
from .journal import entry_summary
from .models import Consent, LoginThrottle, Notification, OneTimeCode, OutboundMessage, SmsOutbox, TotpDevice, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "full_name", "kind", "is_staff", "is_active", "phone_confirmed_at", "last_login")
    list_filter = ("kind", "is_staff", "is_active")
    search_fields = ("=username", "=snils", "last_name", "email")
    readonly_fields = ("last_login", "date_joined", "phone_confirmed_at")
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def user_change_password(self, request, id, form_url=""):
        """Staff setting someone's password is written to that user's journal."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            subject = User.objects.filter(pk=id).first()
            audit_record(
                event=AuditEntry.Event.PASSWORD_CHANGED, subject=subject, request=request, details={"by": "admin"}
            )
        return response

    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Медрег", {"fields": ("kind", "snils", "middle_name", "birth_date", "phone", "phone_confirmed_at")}),
    )


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event", "subject", "actor", "ip", "summary")
    list_filter = ("event",)
    search_fields = ("=subject__username", "=actor__username", "=ip")
    list_select_related = ("subject", "actor")
    date_hierarchy = "created_at"
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="подробности")
    def summary(self, entry: AuditEntry) -> str:
        return entry_summary(entry)


@admin.register(SmsOutbox)
class SmsOutboxAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "phone", "text")
    search_fields = ("=phone",)


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    """The e-mail and SMS outbox (accounts.outbox): what is waiting, sent, or failed for good."""

    list_display = ("created_at", "channel", "to", "subject", "state", "attempts", "sent_at")
    list_filter = ("state", "channel")
    search_fields = ("=to",)
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(LoginThrottle)
class LoginThrottleAdmin(admin.ModelAdmin):
    list_display = ("key", "failures", "locked_until", "lockouts", "last_lockout_at")
    readonly_fields = ("key", "failures", "window_started_at", "locked_until", "lockouts", "last_lockout_at")
    actions = ["unlock"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Снять блокировку входа")
    def unlock(self, request, queryset):
        for throttle in queryset:
            services.throttle_reset(key=throttle.key)
        messages.success(request, f"Блокировка снята: {queryset.count()}.")


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("user", "kind", "text_version", "given_at", "ip")
    list_filter = ("kind", "text_version")
    search_fields = ("=user__username",)
    list_select_related = ("user",)


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(ReadOnlyAdmin):
    """When codes were sent and used, for support; the code itself is stored only as a hash."""

    list_display = ("user", "purpose", "created_at", "expires_at", "attempts", "used_at")
    list_filter = ("purpose",)
    search_fields = ("=user__username",)
    list_select_related = ("user",)
    exclude = ("code_hash",)


@admin.register(TotpDevice)
class TotpDeviceAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Staff may remove a lost authenticator (the user then logs in by SMS); the secret is never shown."""

    list_display = ("user", "confirmed_at")
    search_fields = ("=user__username",)
    list_select_related = ("user",)
    exclude = ("secret", "last_used_step")
    readonly_fields = ("user", "confirmed_at")

    def delete_model(self, request, obj):
        services.totp_remove(user=obj.user, request=request)

    def delete_queryset(self, request, queryset):
        for device in queryset.select_related("user"):
            services.totp_remove(user=device.user, request=request)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """What each user was told in the cabinet (and by e-mail / SMS for the important ones)."""

    list_display = ("created_at", "user", "kind", "title", "important", "read_at")
    list_filter = ("kind", "important")
    search_fields = ("=user__username",)
    list_select_related = ("user",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
