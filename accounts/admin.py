from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "full_name", "kind", "snils", "is_staff", "is_active", "last_login")
    list_filter = ("kind", "is_staff", "is_active")
    search_fields = ("username", "snils", "last_name", "email")
    readonly_fields = ("last_login", "date_joined", "phone_confirmed_at")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Медрег", {"fields": ("kind", "snils", "middle_name", "phone", "phone_confirmed_at")}),
    )
