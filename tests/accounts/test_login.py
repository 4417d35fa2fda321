"""Login in two steps: password, then a one-time code (SMS or authenticator app)."""

import datetime as dt
import re
from unittest import mock
from urllib.parse import urlsplit

import pyotp
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services, sms
from accounts.models import LoginThrottle, OneTimeCode, TotpDevice
from core.audit import audit_record
from core.models import AuditEntry
from core.validators import format_snils, snils_from_number
from tests.factories import StaffFactory, UserFactory

PASSWORD = "correct-horse-battery-staple"
LOGIN = reverse("accounts:login")
VERIFY = reverse("accounts:login_verify")


@pytest.fixture(autouse=True)
def _sms_outbox(settings, on_commit_immediate):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def user(db):
    return UserFactory(phone="+79161234567", phone_confirmed_at=timezone.now(), email="owner@example.org")


def last_code() -> str:
    return re.search(r"\b(\d{6})\b", sms.outbox[-1].text).group(1)


def password_step(client, login, password=PASSWORD, kind="worker", **extra):
    return client.post(LOGIN, {"kind": kind, "username": login, "password": password}, **extra)


def full_login(client, user, password=PASSWORD):
    response = password_step(client, user.username, password, kind=user.kind)
    assert response.status_code == 302, response.content.decode()[:2000]
    return client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})


def logged_in_id(client):
    return client.session.get("_auth_user_id")


def expire_resend_cooldown(user):
    OneTimeCode.objects.filter(user=user).update(created_at=timezone.now() - dt.timedelta(seconds=61))


# --- Step 1 --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["digits", "dashed", "spaced"])
def test_password_step_accepts_snils_in_any_format_and_sends_a_code(client, user, fmt):
    s = user.snils
    login = {"digits": s, "dashed": format_snils(s), "spaced": f" {s[:3]} {s[3:6]} {s[6:]} "}[fmt]
    response = password_step(client, login)
    assert response.status_code == 302 and response["Location"] == VERIFY
    assert logged_in_id(client) is None  # not before the second factor
    assert sms.outbox[-1].phone == "+79161234567"


@pytest.mark.django_db
def test_unknown_snils_and_wrong_password_get_identical_answers(client, user):
    wrong = password_step(client, user.username, "not-the-password-at-all")
    unknown = password_step(Client(), snils_from_number(987_654_321))
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].errors == unknown.context["form"].errors
    assert "Неверный СНИЛС" in wrong.content.decode()


@pytest.mark.django_db
def test_unknown_snils_costs_one_password_hash_like_a_wrong_password(client, user):
    with mock.patch.object(
        PBKDF2PasswordHasher, "encode", autospec=True, side_effect=PBKDF2PasswordHasher.encode
    ) as encode:
        password_step(client, user.username, "not-the-password-at-all")
        wrong_calls = encode.call_count
        password_step(Client(), snils_from_number(987_654_321))
        unknown_calls = encode.call_count - wrong_calls
    assert wrong_calls == unknown_calls == 1


@pytest.mark.django_db
def test_snils_with_bad_checksum_is_named_in_the_error(client):
    response = password_step(client, "112-233-445 96")
    assert "СНИЛС" in response.context["form"].errors["username"][0]


@pytest.mark.django_db
def test_login_requires_csrf_token_and_explains_cookies(user):
    client = Client(enforce_csrf_checks=True)
    response = password_step(client, user.username)
    assert response.status_code == 403
    assert "cookie" in response.content.decode()
    assert logged_in_id(client) is None


# --- Step 2: SMS -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_right_sms_code_logs_in_with_a_new_session_id(client, user):
    password_step(client, user.username)
    before = client.session.session_key
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})
    assert response.status_code == 302
    assert logged_in_id(client) == str(user.pk)
    assert client.session.session_key != before
    entry = AuditEntry.objects.filter(subject=user, event=AuditEntry.Event.LOGIN).get()
    assert entry.details == {"method": "sms"}


@pytest.mark.django_db
def test_sms_code_cannot_be_reused(client, user):
    full_login(client, user)
    code = last_code()
    client.post(reverse("accounts:logout"))
    password_step(client, user.username)
    expire_resend_cooldown(user)
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": code})
    # The second password step sent a new code; the old one no longer works.
    assert logged_in_id(client) is None
    assert response.context["form"].errors["code"]


@pytest.mark.django_db
def test_sms_code_expires_after_five_minutes(client, user):
    password_step(client, user.username)
    OneTimeCode.objects.filter(user=user).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})
    assert "истёк" in response.context["form"].errors["code"][0]
    assert logged_in_id(client) is None


@pytest.mark.django_db
def test_code_allows_at_most_five_tries(user):
    with mock.patch.object(services, "throttle_fail", return_value=None):
        services.sms_code_send(user=user, purpose=OneTimeCode.Purpose.LOGIN)
        right = last_code()
        wrong = "000000" if right != "000000" else "111111"
        for _ in range(services.CODE_MAX_ATTEMPTS):
            with pytest.raises(services.CodeError):
                services.sms_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=wrong)
        with pytest.raises(services.CodeError, match="Превышено"):
            services.sms_code_verify(user=user, purpose=OneTimeCode.Purpose.LOGIN, code=right)


@pytest.mark.django_db
def test_at_most_five_code_sends_an_hour(user):
    for _ in range(services.CODE_SENDS_PER_HOUR):
        services.sms_code_send(user=user, purpose=OneTimeCode.Purpose.LOGIN)
        expire_resend_cooldown(user)
    with pytest.raises(services.RateLimited, match="5 раз в час"):
        services.sms_code_send(user=user, purpose=OneTimeCode.Purpose.LOGIN)
    assert len(sms.outbox) == services.CODE_SENDS_PER_HOUR


@pytest.mark.django_db
def test_resend_waits_a_minute_and_the_page_shows_the_countdown(client, user):
    password_step(client, user.username)
    response = client.post(VERIFY, {"action": "send"}, follow=True)
    assert "через" in response.content.decode()
    assert len(sms.outbox) == 1
    assert response.context["resend_wait"] > 0


@pytest.mark.django_db
def test_logging_in_again_within_a_minute_sends_a_fresh_code(client, user):
    full_login(client, user)
    client.post(reverse("accounts:logout"))
    password_step(client, user.username)
    # The first code was used, so it holds nothing back: a second SMS goes out at once.
    assert len(sms.outbox) == 2
    page = client.get(VERIFY).content.decode()
    assert "Мы отправили SMS" in page and "уже отправлен" not in page
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})
    assert response.status_code == 302 and logged_in_id(client) == str(user.pk)


@pytest.mark.django_db
def test_second_login_while_a_code_is_pending_says_when_it_was_sent(client, user):
    password_step(Client(), user.username)  # another tab or device: the code is still pending
    sent_at = timezone.localtime(OneTimeCode.objects.get(user=user).created_at)
    password_step(client, user.username)
    assert len(sms.outbox) == 1
    response = client.get(VERIFY)
    page = re.sub(r"<[^>]+>", "", response.content.decode())
    wait = response.context["resend_wait"]
    assert 0 < wait <= 60
    assert f"Код уже отправлен в {sent_at:%H:%M}" in page
    assert f"новый можно запросить через {wait} с" in page
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})
    assert response.status_code == 302 and logged_in_id(client) == str(user.pk)


@pytest.mark.django_db
def test_code_page_says_so_when_no_code_can_be_entered(client, user):
    password_step(client, user.username)
    OneTimeCode.objects.filter(user=user).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.get(VERIFY)
    assert "Действующего кода нет" in response.content.decode()
    assert response.context["resend_wait"] == 0


@pytest.mark.django_db
def test_code_with_no_tries_left_does_not_hold_back_a_new_one(user):
    with mock.patch.object(services, "throttle_fail", return_value=None):
        services.sms_code_send(user=user, purpose=OneTimeCode.Purpose.LOGIN)
        OneTimeCode.objects.filter(user=user).update(attempts=services.CODE_MAX_ATTEMPTS)
        services.sms_code_send(user=user, purpose=OneTimeCode.Purpose.LOGIN)
    assert len(sms.outbox) == 2


@pytest.mark.django_db
def test_worker_lands_in_the_cabinet(client, user):
    response = full_login(client, user)
    assert response["Location"] == reverse("verification:cabinet")


@pytest.mark.django_db
def test_worker_lands_on_the_page_asked_for(client, user):
    client.get(LOGIN + "?next=/support/")
    password_step_next = client.post(
        LOGIN, {"kind": "worker", "username": user.username, "password": PASSWORD, "next": "/support/"}
    )
    assert password_step_next.status_code == 302
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})
    assert response["Location"] == "/support/"


@pytest.mark.django_db
def test_signed_in_worker_opening_the_login_goes_straight_on(client, user):
    full_login(client, user)
    assert client.get(LOGIN)["Location"] == reverse("verification:cabinet")
    assert client.get(LOGIN + "?next=/support/")["Location"] == "/support/"
    assert client.get(LOGIN + "?next=https://evil.example/")["Location"] == reverse("verification:cabinet")


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_to_another_site_lands_in_the_cabinet(client, user, target):
    client.post(LOGIN, {"kind": "worker", "username": user.username, "password": PASSWORD, "next": target})
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})
    assert response["Location"] == reverse("verification:cabinet")


@pytest.mark.django_db
def test_verify_page_without_password_step_goes_back_to_login(client):
    assert client.get(VERIFY)["Location"] == LOGIN


@pytest.mark.django_db
def test_pending_login_expires_after_ten_minutes(client, user):
    password_step(client, user.username)
    session = client.session
    session[services.PENDING_KEY]["at"] = (timezone.now() - dt.timedelta(minutes=11)).isoformat()
    session.save()
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})
    assert response["Location"] == LOGIN
    assert logged_in_id(client) is None


# --- Lockout -----------------------------------------------------------------------------------------


def _fail_passwords(login, times, ip="10.0.0.1"):
    client = Client(REMOTE_ADDR=ip)
    for _ in range(times):
        password_step(client, login, "definitely-wrong-password")


@pytest.mark.django_db
def test_sixth_attempt_is_locked_even_with_the_right_password(client, user):
    _fail_passwords(user.username, 5)
    response = password_step(client, user.username)
    assert response.status_code == 200
    assert "заблокирован" in response.content.decode()
    assert "Восстановить доступ" in response.content.decode()
    assert logged_in_id(client) is None and not sms.outbox[1:]


@pytest.mark.django_db
def test_lockout_holds_when_the_ip_changes(user):
    _fail_passwords(user.username, 5, ip="10.0.0.1")
    response = password_step(Client(REMOTE_ADDR="192.0.2.77"), user.username)
    assert "заблокирован" in response.content.decode()


@pytest.mark.django_db
def test_unknown_snils_locks_exactly_like_a_known_one(user):
    unknown = snils_from_number(987_654_321)
    _fail_passwords(user.username, 5)
    _fail_passwords(unknown, 5)
    known_answer = password_step(Client(), user.username)
    unknown_answer = password_step(Client(), unknown)
    assert known_answer.context["form"].errors == unknown_answer.context["form"].errors


@pytest.mark.django_db
def test_lockout_doubles_on_repeat_and_notifies_owner(user):
    key = services.login_key(user.username)
    _fail_passwords(user.username, 5)
    first = LoginThrottle.objects.get(key=key)
    assert dt.timedelta(minutes=14) < first.locked_until - timezone.now() <= dt.timedelta(minutes=15)
    LoginThrottle.objects.filter(key=key).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    _fail_passwords(user.username, 5)
    second = LoginThrottle.objects.get(key=key)
    assert dt.timedelta(minutes=29) < second.locked_until - timezone.now() <= dt.timedelta(minutes=30)
    assert any("заблокирован" in m.text for m in sms.outbox)
    assert any("заблокирован" in m.subject for m in mail.outbox)
    assert AuditEntry.objects.filter(subject=user, event=AuditEntry.Event.LOCKOUT).count() == 2


@pytest.mark.django_db
def test_wrong_codes_count_toward_the_lockout(client, user):
    password_step(client, user.username)
    right = last_code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": wrong})
    assert response["Location"] == LOGIN
    assert LoginThrottle.objects.get(key=services.login_key(user.username)).is_locked()


@pytest.mark.django_db
def test_successful_login_clears_failures(client, user):
    _fail_passwords(user.username, 4)
    full_login(client, user)
    assert LoginThrottle.objects.get(key=services.login_key(user.username)).failures == 0


# --- First login: phone binding ----------------------------------------------------------------------


@pytest.mark.django_db
def test_first_login_confirms_phone_before_anything_else(client):
    user = UserFactory(phone="+79165554433", phone_confirmed_at=None)
    response = password_step(client, user.username)
    assert response["Location"] == reverse("accounts:login_phone")
    assert client.get(VERIFY)["Location"] == reverse("accounts:login_phone")
    assert client.get(reverse("accounts:security")).status_code == 302  # nothing else before it

    client.post(reverse("accounts:login_phone"), {"action": "send"})
    assert sms.outbox[-1].phone == "+79165554433"
    client.post(reverse("accounts:login_phone"), {"action": "confirm", "code": last_code()})

    user.refresh_from_db()
    assert user.phone_confirmed_at is not None
    assert logged_in_id(client) == str(user.pk)


@pytest.mark.django_db
def test_account_without_a_phone_cannot_bind_one_with_the_password_alone(client):
    staff = StaffFactory(phone="", phone_confirmed_at=None)
    password_step(client, staff.username, kind="staff")
    response = client.post(reverse("accounts:login_phone"), {"action": "send", "phone": "+79990000000"}, follow=True)
    assert "не привязан номер телефона" in response.content.decode()
    assert not sms.outbox and logged_in_id(client) is None


@pytest.mark.django_db
def test_locked_login_refuses_a_right_code_from_an_earlier_pending_session(user):
    early = Client()
    password_step(early, user.username)
    code = last_code()
    _fail_passwords(user.username, 5)
    response = early.post(VERIFY, {"action": "verify", "method": "sms", "code": code})
    assert response["Location"] == LOGIN and logged_in_id(early) is None


@pytest.mark.django_db
def test_recovery_code_page_answers_the_same_for_unknown_snils(user):
    known, unknown = Client(), Client()
    known.post(reverse("accounts:recover"), {"username": user.username, "channel": "sms"})
    unknown.post(reverse("accounts:recover"), {"username": snils_from_number(987_654_321), "channel": "sms"})
    data = {"code": "000000", "new_password1": user.email, "new_password2": user.email}
    if last_code() == "000000":
        data["code"] = "111111"
    a = known.post(reverse("accounts:recover_code"), data)
    b = unknown.post(reverse("accounts:recover_code"), data)
    assert a.context["form"].errors == b.context["form"].errors


@pytest.mark.django_db
def test_recovery_requests_do_not_use_up_login_codes(client, user):
    for _ in range(services.CODE_SENDS_PER_HOUR):
        Client().post(reverse("accounts:recover"), {"username": user.username, "channel": "sms"})
        expire_resend_cooldown(user)
    full_login(client, user)
    assert logged_in_id(client) == str(user.pk)


@pytest.mark.django_db
def test_sms_gateway_failure_is_not_a_500(client, user, settings):
    settings.SMS_BACKEND = "accounts.sms.HttpGatewayBackend"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/send"
    assert password_step(client, user.username).status_code == 302
    assert client.post(reverse("accounts:recover"), {"username": user.username, "channel": "sms"}).status_code == 302


@pytest.mark.django_db
def test_pending_login_ends_when_the_password_is_reset(client, user):
    password_step(client, user.username)
    user.set_password("another-long-passphrase")
    user.save()
    assert client.get(VERIFY)["Location"] == LOGIN


@pytest.mark.django_db
def test_wrong_current_password_counts_toward_lockout_and_is_journaled(client, user):
    full_login(client, user)
    for _ in range(5):
        client.post(reverse("accounts:security"), {"action": "totp_remove", "password": "wrong-guess-here"})
    assert LoginThrottle.objects.get(key=services.login_key(user.username)).is_locked()
    assert AuditEntry.objects.filter(subject=user, details__reason="current_password").count() == 5


# --- Authenticator app -------------------------------------------------------------------------------


def enrol_totp(client, user):
    full_login(client, user)
    client.get(reverse("accounts:security"))
    secret = client.session["accounts.totp_secret"]
    client.post(reverse("accounts:security"), {"action": "totp_confirm", "code": pyotp.TOTP(secret).now()})
    assert TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    client.post(reverse("accounts:logout"))
    return secret


@pytest.mark.django_db
def test_totp_login_accepts_a_code_once(client, user):
    secret = enrol_totp(client, user)
    TotpDevice.objects.filter(user=user).update(last_used_step=0)
    code = pyotp.TOTP(secret).now()

    password_step(client, user.username)
    client.post(VERIFY, {"action": "verify", "method": "totp", "code": code})
    assert logged_in_id(client) == str(user.pk)

    client.post(reverse("accounts:logout"))
    password_step(client, user.username)
    again = client.post(VERIFY, {"action": "verify", "method": "totp", "code": code})
    assert logged_in_id(client) is None
    assert "использованный" in again.context["form"].errors["code"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(("offset", "accepted"), [(-30, True), (30, True), (-60, False), (60, False)])
def test_totp_tolerates_one_step_of_drift(user, offset, accepted):
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    code = pyotp.TOTP(secret).at(timezone.now() + dt.timedelta(seconds=offset))
    if accepted:
        services.totp_verify(user=user, code=code)
    else:
        with pytest.raises(services.CodeError):
            services.totp_verify(user=user, code=code)


@pytest.mark.django_db
def test_security_page_shows_a_qr_code_for_enrolment(client, user):
    full_login(client, user)
    body = client.get(reverse("accounts:security")).content.decode()
    assert "<svg" in body and "data-totp-secret" in body


# --- Staff ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_pass_the_second_factor_and_go_on_to_admin(client):
    staff = StaffFactory(phone="+79160000099", phone_confirmed_at=timezone.now())
    response = full_login(client, staff)
    assert response["Location"] == reverse("admin:index")


@pytest.mark.django_db
def test_staff_sent_from_an_admin_page_go_back_to_it_and_elsewhere_to_the_desk(client):
    staff = StaffFactory(phone="+79160000099", phone_confirmed_at=timezone.now())
    page = reverse("admin:support_ticket_changelist")
    client.post(LOGIN, {"kind": "staff", "username": staff.username, "password": PASSWORD, "next": page})
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})
    assert response["Location"] == page
    client.post(reverse("accounts:logout"))
    client.post(LOGIN, {"kind": "staff", "username": staff.username, "password": PASSWORD, "next": "/cabinet/"})
    response = client.post(VERIFY, {"action": "verify", "method": "sms", "code": last_code()})
    assert response["Location"] == reverse("admin:index")


@pytest.mark.django_db
def test_staff_cannot_log_in_through_the_worker_choice(client):
    staff = StaffFactory(phone="+79160000099", phone_confirmed_at=timezone.now())
    assert password_step(client, staff.username, kind="worker").status_code == 200


# --- Sessions ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_logout_requires_post_and_ends_session(client, user):
    full_login(client, user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert logged_in_id(client) is None


@pytest.mark.django_db
def test_idle_session_ends_after_thirty_minutes(client, user):
    full_login(client, user)
    session = client.session
    session[services.SESSION_LAST_SEEN] -= 31 * 60
    session.save()
    response = client.get(reverse("accounts:security"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert logged_in_id(client) is None
    assert AuditEntry.objects.filter(subject=user, event=AuditEntry.Event.SESSION_EXPIRED).exists()


@pytest.mark.django_db
def test_session_ends_twelve_hours_after_login_even_when_active(client, user):
    full_login(client, user)
    session = client.session
    session[services.SESSION_AUTH_AT] -= 12 * 3600 + 1
    session.save()
    assert client.get(reverse("accounts:security")).status_code == 302


@pytest.mark.django_db
def test_log_out_everywhere_ends_other_sessions(user):
    phone, laptop = Client(), Client()
    full_login(phone, user)
    expire_resend_cooldown(user)
    full_login(laptop, user)
    laptop.post(reverse("accounts:logout_everywhere"))
    assert phone.get(reverse("accounts:security")).status_code == 302
    assert logged_in_id(laptop) is None


@pytest.mark.django_db
def test_session_cookie_is_httponly_and_samesite(client, user):
    full_login(client, user)
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


# --- Password change and recovery ---------------------------------------------------------------------


@pytest.mark.django_db
def test_password_change_keeps_this_session_and_ends_others(user):
    this, other = Client(), Client()
    full_login(this, user)
    expire_resend_cooldown(user)
    full_login(other, user)
    wrong = this.post(
        reverse("accounts:security"),
        {
            "action": "password",
            "old_password": "nope",
            "new_password1": "a-brand-new-passphrase",
            "new_password2": "a-brand-new-passphrase",
        },
    )
    assert "Текущий пароль" in wrong.context["password_form"].errors["old_password"][0]
    this.post(
        reverse("accounts:security"),
        {
            "action": "password",
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-passphrase",
            "new_password2": "a-brand-new-passphrase",
        },
    )
    assert this.get(reverse("accounts:security")).status_code == 200
    assert other.get(reverse("accounts:security")).status_code == 302
    assert AuditEntry.objects.filter(subject=user, event=AuditEntry.Event.PASSWORD_CHANGED).exists()


@pytest.mark.django_db
def test_recovery_answer_is_the_same_for_unknown_snils(client, user):
    known = client.post(reverse("accounts:recover"), {"username": user.username, "channel": "sms"}, follow=True)
    unknown = Client().post(
        reverse("accounts:recover"), {"username": snils_from_number(987_654_321), "channel": "sms"}, follow=True
    )
    assert known.redirect_chain == unknown.redirect_chain
    assert [str(m) for m in known.context["messages"]] == [str(m) for m in unknown.context["messages"]]


@pytest.mark.django_db
def test_sms_recovery_sets_password_ends_other_sessions_and_tells_by_email(user):
    other = Client()
    full_login(other, user)
    expire_resend_cooldown(user)
    client = Client()
    client.post(reverse("accounts:recover"), {"username": format_snils(user.username), "channel": "sms"})
    response = client.post(
        reverse("accounts:recover_code"),
        {
            "code": last_code(),
            "new_password1": "recovered-passphrase-2026",
            "new_password2": "recovered-passphrase-2026",
        },
    )
    assert response["Location"] == LOGIN
    user.refresh_from_db()
    assert user.check_password("recovered-passphrase-2026")
    assert other.get(reverse("accounts:security")).status_code == 302
    assert mail.outbox[-1].to == [user.email] and "восстановлен" in mail.outbox[-1].body


@pytest.mark.django_db
def test_email_recovery_link_sets_password_once_and_tells_by_sms(client, user):
    client.post(reverse("accounts:recover"), {"username": user.username, "channel": "email"})
    link = re.search(r"https?://\S+", mail.outbox[-1].body).group(0)
    path = urlsplit(link).path  # the link is on SITE_URL (tests/accounts/test_password_reset_link.py)
    response = client.post(
        path, {"new_password1": "emailed-passphrase-2026", "new_password2": "emailed-passphrase-2026"}
    )
    assert response["Location"] == LOGIN
    user.refresh_from_db()
    assert user.check_password("emailed-passphrase-2026")
    assert "восстановлен" in sms.outbox[-1].text
    assert client.get(path).status_code == 400  # the token is spent with the old password


@pytest.mark.django_db
def test_recovery_unlocks_a_locked_account(client, user):
    _fail_passwords(user.username, 5)
    client.post(reverse("accounts:recover"), {"username": user.username, "channel": "sms"})
    client.post(
        reverse("accounts:recover_code"),
        {
            "code": last_code(),
            "new_password1": "recovered-passphrase-2026",
            "new_password2": "recovered-passphrase-2026",
        },
    )
    assert not LoginThrottle.objects.get(key=services.login_key(user.username)).is_locked()


# --- Journal -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_owner_sees_own_journal_only(client, user, django_assert_max_num_queries):
    stranger = UserFactory()
    audit_record(event=AuditEntry.Event.LOGIN_FAILED, subject=stranger)
    full_login(client, user)
    for _ in range(20):
        audit_record(event=AuditEntry.Event.DATA_VIEWED, subject=user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("accounts:journal"))
    events = {e.event for e in response.context["page"].object_list}
    assert AuditEntry.Event.LOGIN in events and AuditEntry.Event.CODE_SENT in events
    assert all(e.subject_id == user.pk for e in response.context["page"].object_list)


@pytest.mark.django_db
def test_journal_needs_login(client):
    assert client.get(reverse("accounts:journal"))["Location"].startswith(LOGIN)


@pytest.mark.django_db
def test_audit_journal_refuses_updates_in_the_database(user):
    from django.db import DatabaseError, transaction

    entry = audit_record(event=AuditEntry.Event.LOGIN, subject=user)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(event=AuditEntry.Event.LOGOUT)


@pytest.mark.django_db
def test_audit_journal_is_read_only_in_admin(client):
    admin = StaffFactory(is_superuser=True)
    client.force_login(admin)
    entry = audit_record(event=AuditEntry.Event.LOGIN, subject=admin)
    assert client.get(reverse("admin:core_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:core_auditentry_add")).status_code == 403
    assert client.post(reverse("admin:core_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_admin_login_form_cannot_bypass_the_second_factor(client):
    staff = StaffFactory(phone="+79160000099", phone_confirmed_at=timezone.now())
    response = client.post("/admin/login/?next=/admin/", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert logged_in_id(client) is None
    assert client.get("/admin/", follow=True).redirect_chain[-1][0].startswith(LOGIN)


@pytest.mark.django_db
def test_one_address_trying_many_snils_is_slowed_down():
    client = Client(REMOTE_ADDR="198.51.100.9")
    for n in range(100):
        password_step(client, snils_from_number(500_000_000 + n), "wrong-password-here")
    response = password_step(client, snils_from_number(600_000_000), "wrong-password-here")
    assert "с вашего адреса" in response.content.decode()
    other = password_step(Client(REMOTE_ADDR="198.51.100.10"), snils_from_number(600_000_000))
    assert "с вашего адреса" not in other.content.decode()


@pytest.mark.django_db
def test_first_login_confirms_the_registered_phone_and_cannot_swap_it(client):
    user = UserFactory(phone="+79161112233", phone_confirmed_at=None)
    password_step(client, user.username)
    page = client.get(reverse("accounts:login_phone")).content.decode()
    assert "+7 *** ***-**-33" in page and 'name="phone"' not in page
    client.post(reverse("accounts:login_phone"), {"action": "send", "phone": "+79990000000"})
    assert sms.outbox[-1].phone == "+79161112233"  # the attacker's number is ignored
    client.post(reverse("accounts:login_phone"), {"action": "confirm", "code": last_code()})
    user.refresh_from_db()
    assert user.phone == "+79161112233" and user.phone_confirmed_at is not None


@pytest.mark.django_db
def test_staff_setting_a_password_in_admin_is_journaled(client):
    admin_user = StaffFactory(is_superuser=True)
    target = UserFactory()
    client.force_login(admin_user)
    url = f"/admin/accounts/user/{target.pk}/password/"
    client.post(
        url, {"password1": "a-new-long-passphrase-1", "password2": "a-new-long-passphrase-1", "usable_password": "true"}
    )
    assert AuditEntry.objects.filter(subject=target, event=AuditEntry.Event.PASSWORD_CHANGED).exists()
    assert client.get("/admin/password_change/")["Location"] == reverse("accounts:security")
