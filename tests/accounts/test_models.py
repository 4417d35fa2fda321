"""The account model and its manager."""

import pytest


@pytest.mark.django_db
def test_createsuperuser_makes_a_staff_administrator():
    """`manage.py createsuperuser` must work on a fresh install: a worker account would need a SNILS."""
    from django.core.management import call_command

    from accounts.models import User

    call_command(
        "createsuperuser", "--noinput", username="root-admin", email="admin@example.org", phone="8 (916) 123-45-67"
    )
    admin = User.objects.get(username="root-admin")
    assert (admin.kind, admin.is_staff, admin.is_superuser) == (User.Kind.STAFF, True, True)
    assert admin.phone == "+79161234567"  # on file: the first login confirms it by SMS, then the code goes there


@pytest.mark.django_db
def test_createsuperuser_refuses_a_phone_that_is_not_a_mobile_number():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="мобильный номер"):
        call_command("createsuperuser", "--noinput", username="root-admin", email="a@example.org", phone="12")
