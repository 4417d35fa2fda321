"""Support staff give a person access to an organization's cabinet: by the organization's OGRN and the
person's SNILS, creating the account when the person has none. Through orgs.services, journaled."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from core.admin_mixins import ServiceFailureMixin

from . import services
from .models import OrgMembership


class MembershipAddForm(forms.ModelForm):
    ogrn = forms.CharField(label="ОГРН организации", max_length=32)
    snils = forms.CharField(label="СНИЛС сотрудника", max_length=32)
    last_name = forms.CharField(label="Фамилия", max_length=100, required=False)
    first_name = forms.CharField(label="Имя", max_length=100, required=False)
    middle_name = forms.CharField(label="Отчество", max_length=100, required=False)
    phone = forms.CharField(label="Мобильный телефон", max_length=32, required=False)
    email = forms.EmailField(label="E-mail", required=False)
    password = forms.CharField(
        label="Пароль для входа", required=False, strip=False, widget=forms.PasswordInput(render_value=False)
    )

    class Meta:
        model = OrgMembership
        fields = ("role",)
        help_texts = {"role": "Кадровик изменяет кадровые сведения; руководитель только просматривает."}

    NEW_USER_FIELDS = ("last_name", "first_name", "middle_name", "phone", "email", "password")

    def new_user(self) -> services.NewUserInput | None:
        data = self.cleaned_data
        if not any(data.get(f) for f in self.NEW_USER_FIELDS):
            return None
        return services.NewUserInput(**{f: data.get(f) or "" for f in self.NEW_USER_FIELDS})

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            services.membership_validate(
                ogrn=data["ogrn"], snils=data["snils"], role=data["role"], new_user=self.new_user()
            )
        except services.OrgError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(OrgMembership)
class OrgMembershipAdmin(ServiceFailureMixin, admin.ModelAdmin):
    list_display = ("user", "organization", "role", "is_active", "created_at")
    list_filter = ("role", "is_active")
    search_fields = ("organization__ogrn", "organization__short_name", "user__snils", "user__last_name")
    list_select_related = ("user", "organization")
    raw_id_fields = ("organization",)
    readonly_fields = ("user", "organization", "created_at", "created_by")
    fields = ("user", "organization", "role", "is_active", "created_at", "created_by")
    add_fieldsets = (
        (None, {"fields": ("ogrn", "snils", "role")}),
        (
            "Новый пользователь (если у человека ещё нет учётной записи с этим СНИЛС)",
            {"fields": MembershipAddForm.NEW_USER_FIELDS},
        ),
    )

    def has_delete_permission(self, request, obj=None):
        return False  # the journal points at memberships: withdraw access with «действует» instead

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = MembershipAddForm
            kwargs["fields"] = ("role",)
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        try:
            if change:
                saved = services.membership_set(
                    actor=request.user, membership=obj, role=obj.role, is_active=obj.is_active, request=request
                )
            else:
                data = form.cleaned_data
                saved = services.membership_create(
                    actor=request.user,
                    ogrn=data["ogrn"],
                    snils=data["snils"],
                    role=data["role"],
                    new_user=form.new_user(),
                    request=request,
                )
        except services.OrgError as exc:
            messages.error(request, exc.message)
            self.service_failed(request)
            return
        obj.pk, obj.user, obj.organization = saved.pk, saved.user, saved.organization

    def log_addition(self, request, obj, message):
        if obj.pk is None:
            return None
        return super().log_addition(request, obj, message)

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:  # the service refused (a concurrent change): stay on the form
            return self.response_change(request, obj)
        return super().response_add(request, obj, post_url_continue)
