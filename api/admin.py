from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from core.admin_mixins import ReadOnlyAdmin

from . import services
from .models import Extract, PartnerToken


class PartnerTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label="Области доступа",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=PartnerToken.Scope.choices,
        help_text="Без отмеченных областей токен видит только общедоступные сведения (как страница поиска).",
    )

    class Meta:
        model = PartnerToken
        fields = ("name", "contact", "scopes", "organization", "rate_per_minute")

    def clean(self):
        data = super().clean()
        try:
            services.partner_token_check(scopes=data.get("scopes") or [], organization=data.get("organization"))
        except services.TokenError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(PartnerToken)
class PartnerTokenAdmin(admin.ModelAdmin):
    """Tokens are created here (the secret is shown once, in the message after saving) and revoked
    with the action; the hash and prefix are never editable, and a token is never deleted."""

    form = PartnerTokenForm
    list_display = (
        "name",
        "prefix",
        "scopes",
        "organization",
        "rate_per_minute",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_select_related = ("organization",)
    # Tens of thousands of organizations: picked by id with a search, never a full drop-down.
    raw_id_fields = ("organization",)
    list_filter = ("revoked_at",)
    search_fields = ("name", "=prefix")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # scopes and limits of an existing token may change; its secret may not
            return self.readonly_fields
        return ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "contact", "scopes", "organization", "rate_per_minute")
        return ("name", "contact", "scopes", "organization", "rate_per_minute", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            services.partner_token_changed(token=obj, actor=request.user, fields=form.changed_data)
            return
        token, raw = services.partner_token_create(
            name=form.cleaned_data["name"],
            contact=form.cleaned_data["contact"],
            scopes=form.cleaned_data["scopes"],
            rate_per_minute=form.cleaned_data["rate_per_minute"],
            created_by=request.user,
            organization=form.cleaned_data["organization"],
        )
        obj.pk = token.pk
        obj.prefix, obj.key_hash, obj.created_at = token.prefix, token.key_hash, token.created_at
        messages.warning(
            request,
            f"Токен для «{token.name}»: {raw} — скопируйте его сейчас: он показывается один раз и нигде не хранится.",
        )

    def response_add(self, request, obj, post_url_continue=None):
        obj.refresh_from_db()
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description="Отозвать выбранные токены")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.partner_token_revoke(token=token, actor=request.user)
        self.message_user(request, f"Отозвано на {timezone.localtime():%d.%m.%Y %H:%M}.", messages.SUCCESS)


@admin.register(Extract)
class ExtractAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "worker", "created_at", "key_id")
    list_filter = ("kind", "key_id")
    search_fields = ("=code",)
    list_select_related = ("worker",)
    readonly_fields = ("code", "kind", "worker", "user", "created_at", "payload", "key_id", "signature")
