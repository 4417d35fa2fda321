"""The account model and its manager."""

import pytest


@pytest.mark.django_db
def test_createsuperuser_makes_a_staff_administrator():
    """`manage.py createsuperuser` must work on a fresh install: a worker account would need a SNILS."""
    from django.core.management import call_command

    from accounts.models import User

    call_command("createsuperuser", "--noinput", username="root-admin", email="admin@example.org")
    admin = User.objects.get(username="root-admin")
    assert (admin.kind, admin.is_staff, admin.is_superuser) == (User.Kind.STAFF, True, True)
