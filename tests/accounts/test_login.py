import pytest
from django.test import Client
from django.urls import reverse

PASSWORD = "correct-horse-battery-staple"


def _login(client, login, password=PASSWORD, kind="worker"):
    return client.post(reverse("accounts:login"), {"kind": kind, "username": login, "password": password})


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["digits", "dashed", "spaced"])
def test_worker_logs_in_with_snils_in_any_common_format(client, worker_user, fmt):
    s = worker_user.snils
    login = {"digits": s, "dashed": f"{s[:3]}-{s[3:6]}-{s[6:9]} {s[9:]}", "spaced": f" {s[:3]} {s[3:6]} {s[6:]} "}[fmt]
    response = _login(client, login)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(worker_user.pk)


@pytest.mark.django_db
def test_unknown_snils_and_wrong_password_get_identical_answers(client, worker_user):
    from registry.validators import snils_from_number

    wrong_password = _login(client, worker_user.snils, "not-the-password-at-all")
    unknown = _login(Client(), snils_from_number(987_654_321))
    assert wrong_password.status_code == unknown.status_code == 200
    assert wrong_password.context["form"].errors == unknown.context["form"].errors
    assert "Неверный СНИЛС" in wrong_password.content.decode()


@pytest.mark.django_db
def test_snils_with_bad_checksum_is_named_in_the_error(client):
    response = _login(client, "112-233-445 96")
    assert "СНИЛС" in response.context["form"].errors["username"][0]


@pytest.mark.django_db
def test_staff_go_on_to_admin(client, support_agent):
    response = _login(client, support_agent.username, kind="staff")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


@pytest.mark.django_db
def test_staff_cannot_log_in_through_the_worker_choice(client, support_agent):
    assert _login(client, support_agent.username, kind="worker").status_code == 200


@pytest.mark.django_db
def test_login_requires_csrf_token(worker_user):
    client = Client(enforce_csrf_checks=True)
    response = _login(client, worker_user.snils)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_logout_requires_post_and_ends_session(client, worker_user):
    client.force_login(worker_user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session
