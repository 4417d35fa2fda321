"""Every registered model's admin list and add pages open for a superuser without errors."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import StaffFactory


@pytest.mark.django_db
@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_admin_changelist_opens(client, model):
    client.force_login(StaffFactory(is_superuser=True))
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200
