from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class DeskConfig(AppConfig):
    name = "desk"
    verbose_name = "Рабочий стол сотрудника"


class DeskAdminConfig(AdminConfig):
    """django.contrib.admin with the staff desk as its home page (desk.sites.DeskAdminSite)."""

    default_site = "desk.sites.DeskAdminSite"
