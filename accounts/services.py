"""Login, one-time codes, lockout, recovery and the audit journal.

Every state change here locks its row, checks the current state, saves with update_fields and
writes the audit journal; messages leave only after commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

import pyotp
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.audit import audit_record
from core.models import AuditEntry

from . import emails, outbox, sms
from .models import LoginThrottle, OneTimeCode, TotpDevice, User

logger = logging.getLogger(__name__)

LOCKOUT_THRESHOLD = 5
LOCKOUT_WINDOW = dt.timedelta(minutes=15)
LOCKOUT_BASE = dt.timedelta(minutes=15)
LOCKOUT_MAX = dt.timedelta(hours=24)
# A lockout more than a day after the previous one starts again from 15 minutes.
LOCKOUT_MEMORY = dt.timedelta(hours=24)

CODE_TTL = dt.timedelta(minutes=5)
CODE_MAX_ATTEMPTS = 5
CODE_SENDS_PER_HOUR = 5
CODE_RESEND_AFTER = dt.timedelta(seconds=60)

PENDING_KEY = "accounts.pending_login"
PENDING_TTL = dt.timedelta(minutes=10)
SESSION_AUTH_AT = "accounts.auth_at"
SESSION_LAST_SEEN = "accounts.last_seen"


# --- Errors ------------------------------------------------------------------------------------


class AuthError(Exception):
    """A refusal the user can act on; `message` is shown as is."""

    def __init__(self, message: str, *, code: str = "error"):
        super().__init__(message)
        self.message = message
        self.code = code


class InvalidCredentials(AuthError):
    def __init__(self):
        super().__init__(
            "Неверный СНИЛС (логин) или пароль. Проверьте раскладку клавиатуры и попробуйте ещё раз.",
            code="invalid_login",
        )


class AccountLocked(AuthError):
    def __init__(self, locked_until: dt.datetime):
        local = timezone.localtime(locked_until)
        super().__init__(
            f"Слишком много неудачных попыток: вход заблокирован до {local:%H:%M} ({local:%d.%m.%Y}, мск). "
            "Чтобы восстановить доступ раньше, воспользуйтесь восстановлением пароля по SMS или e-mail.",
            code="locked",
        )
        self.locked_until = locked_until


class CodeError(AuthError):
    pass


class RateLimited(AuthError):
    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message, code="rate_limited")
        self.retry_after = retry_after


class ResendTooSoon(RateLimited):
    """A code still pending was sent less than a minute ago: that code stands, nothing new is sent."""

    def __init__(self, *, sent_at: dt.datetime, retry_after: int):
        local = timezone.localtime(sent_at)
        super().__init__(
            f"Код уже отправлен в {local:%H:%M}; новый можно запросить через {retry_after} с.",
            retry_after=retry_after,
        )
        self.sent_at = sent_at


# --- Lockout ------------------------------------------------------------------------------------


def login_key(login: str) -> str:
    """Throttle key for what was typed as login; an HMAC so the table holds no SNILS."""
    return hmac.new(settings.SECRET_KEY.encode(), f"login:{login}".encode(), hashlib.sha256).hexdigest()


def _throttle_for_update(key: str) -> LoginThrottle:
    LoginThrottle.objects.get_or_create(key=key)
    return LoginThrottle.objects.select_for_update().get(key=key)


def throttle_check(*, key: str) -> None:
    throttle = LoginThrottle.objects.filter(key=key).first()
    if throttle is not None and throttle.locked_until is not None and throttle.is_locked():
        raise AccountLocked(throttle.locked_until)


def throttle_fail(*, key: str, user: User | None, request=None) -> dt.datetime | None:
    """Count a failed password or code; returns the lock end when this failure locks the login."""
    now = timezone.now()
    with transaction.atomic():
        throttle = _throttle_for_update(key)
        if throttle.window_started_at is None or now - throttle.window_started_at > LOCKOUT_WINDOW:
            throttle.window_started_at, throttle.failures = now, 0
        throttle.failures += 1
        locked_until = None
        if throttle.failures >= LOCKOUT_THRESHOLD:
            if throttle.last_lockout_at is None or now - throttle.last_lockout_at > LOCKOUT_MEMORY:
                throttle.lockouts = 0
            throttle.lockouts += 1
            locked_until = now + min(LOCKOUT_BASE * 2 ** (throttle.lockouts - 1), LOCKOUT_MAX)
            throttle.locked_until, throttle.last_lockout_at = locked_until, now
            throttle.failures, throttle.window_started_at = 0, None
        throttle.save()
        if locked_until is not None:
            audit_record(
                event=AuditEntry.Event.LOCKOUT,
                subject=user,
                request=request,
                details={"until": locked_until.isoformat(), "lockouts": throttle.lockouts},
            )
            if user is not None:
                transaction.on_commit(lambda: _notify_lockout(user, locked_until))
    return locked_until


def throttle_reset(*, key: str) -> None:
    LoginThrottle.objects.filter(key=key).update(failures=0, window_started_at=None, locked_until=None)


def _notify_lockout(user: User, locked_until: dt.datetime) -> None:
    _notify(user, template="accounts/emails/lockout", context={"locked_until": locked_until})


def _notify(user: User, *, template: str, context: dict | None = None, channels=("sms", "email")) -> None:
    """Tell the owner through every channel given, through the outbox (accounts.outbox): with the
    broker down the message waits in the database; the change it reports still happens. The texts are
    the templates `template` (_subject.txt, .txt, .html) and its `_sms.txt`."""
    context = context or {}
    if "sms" in channels and user.phone_confirmed:
        outbox.send_sms(to=user.phone, text=" ".join(emails.render_text(f"{template}_sms.txt", context).split()))
    if "email" in channels and user.email:
        emails.email_send(to=user.email, template=template, context=context, subject_suffix="")


# --- Step 1: password ---------------------------------------------------------------------------


def password_check(*, request, login: str, password: str, kind: str) -> User:
    """Check login + password under the lockout rules; the answer for an unknown login and a wrong
    password is the same exception, and costs the same password hashing."""
    key = login_key(login)
    user = User.objects.filter(username=login, kind=kind).first()
    try:
        throttle_check(key=key)
    except AccountLocked:
        audit_record(event=AuditEntry.Event.LOGIN_FAILED, subject=user, request=request, details={"reason": "locked"})
        raise
    if user is None or not user.is_active:
        # Hash anyway, so an unknown login takes as long as a wrong password.
        User().set_password(password)
        ok = False
    else:
        ok = user.check_password(password)
    if not ok:
        audit_record(event=AuditEntry.Event.LOGIN_FAILED, subject=user, request=request, details={"reason": "password"})
        locked_until = throttle_fail(key=key, user=user, request=request)
        if locked_until is not None:
            raise AccountLocked(locked_until)
        raise InvalidCredentials()
    assert user is not None  # ok is True only for an existing user
    return user


def pending_begin(*, request, user: User) -> None:
    """Password accepted: remember the user for the second step, not yet logged in."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user_id": user.pk,
        "at": timezone.now().isoformat(),
        # A password reset or "log out everywhere" meanwhile ends the half-finished login too.
        "auth_hash": user.get_session_auth_hash(),
    }


def pending_user(request) -> User | None:
    data = request.session.get(PENDING_KEY)
    if not data:
        return None
    started = dt.datetime.fromisoformat(data["at"])
    if timezone.now() - started > PENDING_TTL:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=data["user_id"], is_active=True).first()
    if user is None or not hmac.compare_digest(data.get("auth_hash", ""), user.get_session_auth_hash()):
        request.session.pop(PENDING_KEY, None)
        return None
    return user


# --- One-time codes -----------------------------------------------------------------------------


def _code_hash(code_id: int, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"otp:{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SentCode:
    phone_masked: str
    resend_after: int


@dataclass(frozen=True)
class CodeStatus:
    """The latest code of a purpose as the code page tells it: when it went out, until when it works
    (None: no code that can still be entered) and how many seconds before a new one may be asked."""

    sent_at: dt.datetime | None
    valid_until: dt.datetime | None
    resend_wait: int


def _pending_code(user: User, purpose: str, now: dt.datetime) -> OneTimeCode | None:
    """The latest code of the purpose if it can still be entered: not used, not expired, tries left.

    Only such a code holds back a new send for a minute. A code already used (the login it served
    is over) or dead must never make someone who logs in again wait with no code at all.
    """
    last = OneTimeCode.objects.filter(user=user, purpose=purpose).order_by("-created_at").first()
    if last is None or last.used_at is not None or last.expires_at <= now or last.attempts >= CODE_MAX_ATTEMPTS:
        return None
    return last


def _resend_wait(code: OneTimeCode | None, now: dt.datetime) -> int:
    if code is None or now - code.created_at >= CODE_RESEND_AFTER:
        return 0
    return int((code.created_at + CODE_RESEND_AFTER - now).total_seconds()) + 1


def sms_code_status(*, user: User, purpose: str) -> CodeStatus:
    now = timezone.now()
    pending = _pending_code(user, purpose, now)
    if pending is None:
        return CodeStatus(sent_at=None, valid_until=None, resend_wait=0)
    return CodeStatus(
        sent_at=pending.created_at, valid_until=pending.expires_at, resend_wait=_resend_wait(pending, now)
    )


def sms_code_send(*, user: User, purpose: str, request=None, phone: str | None = None) -> SentCode:
    """Send a fresh 6-digit code; earlier unused codes for the same purpose stop working."""
    phone = phone or user.phone
    if not phone:
        raise CodeError("К учётной записи не привязан телефон.", code="no_phone")
    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # serialises sends for this user
        # Recovery has its own quota: anyone can ask for a reset, and that must not use up the
        # owner's login codes.
        group = (
            [OneTimeCode.Purpose.PASSWORD_RESET]
            if purpose == OneTimeCode.Purpose.PASSWORD_RESET
            else [OneTimeCode.Purpose.LOGIN, OneTimeCode.Purpose.PHONE_CONFIRM]
        )
        recent = OneTimeCode.objects.filter(user=user, purpose__in=group, created_at__gt=now - dt.timedelta(hours=1))
        if recent.count() >= CODE_SENDS_PER_HOUR:
            oldest = recent.order_by("created_at").values_list("created_at", flat=True).first() or now
            wait = int((oldest + dt.timedelta(hours=1) - now).total_seconds()) + 1
            raise RateLimited(
                f"Код можно запросить не больше {CODE_SENDS_PER_HOUR} раз в час. "
                f"Попробуйте через {max(1, wait // 60)} мин.",
                retry_after=wait,
            )
        pending = _pending_code(user, purpose, now)
        wait = _resend_wait(pending, now)
        if pending is not None and wait:
            raise ResendTooSoon(sent_at=pending.created_at, retry_after=wait)
        OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(used_at=now)
        code = f"{secrets.randbelow(10**6):06d}"
        otp = OneTimeCode.objects.create(
            user=user, purpose=purpose, phone=phone, code_hash="", expires_at=now + CODE_TTL
        )
        otp.code_hash = _code_hash(otp.pk, code)
        otp.save(update_fields=["code_hash"])
        audit_record(event=AuditEntry.Event.CODE_SENT, subject=user, request=request, details={"purpose": purpose})
        text = f"Медрег: код {code}. Никому его не сообщайте. Действует 5 минут."
        transaction.on_commit(lambda: _send_code(phone=phone, text=text, user_id=user.pk))
    return SentCode(phone_masked=_mask(phone), resend_after=int(CODE_RESEND_AFTER.total_seconds()))


def _send_code(*, phone: str, text: str, user_id: int) -> None:
    # After commit: a gateway failure must not turn the page into a 500 (nor tell an anonymous
    # visitor that the account exists). The user asks for the code again.
    try:
        sms.send_sms(phone=phone, text=text)
    except sms.SmsDeliveryError:
        logger.warning("one-time code SMS for user %s was not delivered", user_id)


def sms_code_verify(*, user: User, purpose: str, code: str, request=None) -> OneTimeCode:
    """Accept the latest code for the purpose once; wrong codes count toward the lockout."""
    if purpose != OneTimeCode.Purpose.PASSWORD_RESET:
        # A locked login takes no codes either. Recovery is the way out of a lockout, so reset codes
        # are still checked; they have their own limits (5 tries a code, 5 codes an hour).
        throttle_check(key=login_key(user.username))
    code = "".join(ch for ch in (code or "") if "0" <= ch <= "9")
    now = timezone.now()
    failure: CodeError | None = None
    with transaction.atomic():
        otp = (
            OneTimeCode.objects.select_for_update()
            .filter(user=user, purpose=purpose, used_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if otp is None or otp.expires_at <= now:
            raise CodeError("Срок действия кода истёк или код не запрашивался. Запросите новый код.", code="expired")
        if otp.attempts >= CODE_MAX_ATTEMPTS:
            raise CodeError("Превышено число попыток ввода кода. Запросите новый код.", code="attempts")
        if len(code) == 6 and hmac.compare_digest(otp.code_hash, _code_hash(otp.pk, code)):
            otp.used_at = now
            otp.save(update_fields=["used_at"])
            return otp
        otp.attempts += 1
        otp.save(update_fields=["attempts"])
        left = CODE_MAX_ATTEMPTS - otp.attempts
        audit_record(event=AuditEntry.Event.CODE_FAILED, subject=user, request=request, details={"purpose": purpose})
        failure = CodeError(
            f"Неверный код. Осталось попыток: {left}." if left else "Неверный код. Запросите новый код.",
            code="wrong",
        )
    locked_until = throttle_fail(key=login_key(user.username), user=user, request=request)
    if locked_until is not None:
        raise AccountLocked(locked_until)
    raise failure


def _mask(phone: str) -> str:
    digits = "".join(c for c in phone if "0" <= c <= "9")
    return f"+7 *** ***-**-{digits[-2:]}" if len(digits) >= 4 else "***"


# --- Authenticator app (TOTP) -------------------------------------------------------------------

TOTP_ISSUER = "Медрег"


def totp_new_secret() -> str:
    return pyotp.random_base32()


def totp_provisioning_uri(*, user: User, secret: str) -> str:
    # The label shows in the app on the phone: a name, not the SNILS that serves as login.
    label = " ".join(p for p in (user.last_name, user.first_name) if p) or "учётная запись"
    return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=TOTP_ISSUER)


def _totp_matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step (±1 for clock drift) whose code matches, or None."""
    code = "".join(ch for ch in (code or "") if "0" <= ch <= "9")
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def totp_enrol(*, user: User, secret: str, code: str, request=None) -> TotpDevice:
    """Bind an authenticator app after the user proves it shows the right code."""
    step = _totp_matching_step(secret, code, timezone.now())
    if step is None:
        raise CodeError("Код из приложения не подошёл. Проверьте время на телефоне и введите новый код.")
    with transaction.atomic():
        device, _ = TotpDevice.objects.update_or_create(
            user=user, defaults={"secret": secret, "confirmed_at": timezone.now(), "last_used_step": step}
        )
        audit_record(event=AuditEntry.Event.TOTP_ENROLLED, subject=user, request=request)
    return device


def totp_remove(*, user: User, request=None) -> None:
    with transaction.atomic():
        deleted, _ = TotpDevice.objects.filter(user=user).delete()
        if deleted:
            audit_record(event=AuditEntry.Event.TOTP_REMOVED, subject=user, request=request)


def totp_verify(*, user: User, code: str, request=None) -> None:
    """Accept a code from the app once: a conditional UPDATE on the last used step makes two
    concurrent logins with the same code impossible."""
    throttle_check(key=login_key(user.username))
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        raise CodeError("Приложение-аутентификатор не подключено. Войдите с кодом из SMS.", code="no_device")
    step = _totp_matching_step(device.secret, code, timezone.now())
    if step is not None:
        claimed = TotpDevice.objects.filter(pk=device.pk, last_used_step__lt=step).update(last_used_step=step)
        if claimed:
            return
    audit_record(event=AuditEntry.Event.CODE_FAILED, subject=user, request=request, details={"purpose": "totp"})
    locked_until = throttle_fail(key=login_key(user.username), user=user, request=request)
    if locked_until is not None:
        raise AccountLocked(locked_until)
    raise CodeError(
        "Неверный или уже использованный код из приложения. Дождитесь следующего кода и введите его.", code="wrong"
    )


# --- Completing login, sessions ------------------------------------------------------------------


def login_complete(*, request, user: User, method: str) -> None:
    """Both factors passed: log in with a new session id, start the session clocks, write the journal."""
    request.session.pop(PENDING_KEY, None)
    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    now = timezone.now().timestamp()
    request.session[SESSION_AUTH_AT] = now
    request.session[SESSION_LAST_SEEN] = now
    throttle_reset(key=login_key(user.username))
    audit_record(event=AuditEntry.Event.LOGIN, subject=user, actor=user, request=request, details={"method": method})


def logout(*, request) -> None:
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        audit_record(event=AuditEntry.Event.LOGOUT, subject=user, actor=user, request=request)
    auth.logout(request)


def logout_everywhere(*, request) -> None:
    """End every session of the user, this one included, by rotating the session token."""
    user = request.user
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.session_token = secrets.token_hex(16)
        locked.save(update_fields=["session_token"])
        audit_record(event=AuditEntry.Event.LOGOUT_EVERYWHERE, subject=locked, actor=locked, request=request)
    auth.logout(request)


# --- Phone binding ------------------------------------------------------------------------------


def phone_confirm(*, user: User, phone: str, code: str, request=None) -> None:
    """Bind the phone the code was sent to."""
    otp = sms_code_verify(user=user, purpose=OneTimeCode.Purpose.PHONE_CONFIRM, code=code, request=request)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.phone, locked.phone_confirmed_at = otp.phone, timezone.now()
        locked.save(update_fields=["phone", "phone_confirmed_at"])
        audit_record(event=AuditEntry.Event.PHONE_CONFIRMED, subject=locked, request=request)
    user.phone, user.phone_confirmed_at = locked.phone, locked.phone_confirmed_at


# --- Password change and recovery ---------------------------------------------------------------


def current_password_check(*, request, user: User, password: str) -> bool:
    """Re-authentication on the security page; wrong answers count toward the lockout."""
    key = login_key(user.username)
    throttle_check(key=key)
    if user.check_password(password):
        return True
    audit_record(
        event=AuditEntry.Event.LOGIN_FAILED, subject=user, request=request, details={"reason": "current_password"}
    )
    locked_until = throttle_fail(key=key, user=user, request=request)
    if locked_until is not None:
        raise AccountLocked(locked_until)
    return False


def password_change(*, request, user: User, new_password: str) -> None:
    """Change the password; other sessions end (the session hash includes the password)."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(new_password)
        locked.save(update_fields=["password"])
        audit_record(event=AuditEntry.Event.PASSWORD_CHANGED, subject=locked, actor=locked, request=request)
    auth.update_session_auth_hash(request, locked)
    transaction.on_commit(lambda: _notify(locked, template="accounts/emails/password_changed"))


def password_reset_request(*, request, login: str, channel: str) -> User | None:
    """Start recovery. The caller shows the same answer whatever happens here, so the page does not
    reveal which SNILS have accounts; the user is returned for the SMS step only."""
    user = User.objects.filter(username=login, is_active=True).first()
    audit_record(
        event=AuditEntry.Event.PASSWORD_RESET_REQUESTED, subject=user, request=request, details={"channel": channel}
    )
    if user is None:
        return None
    if channel == "sms":
        if not user.phone_confirmed:
            return None
        try:
            sms_code_send(user=user, purpose=OneTimeCode.Purpose.PASSWORD_RESET, request=request)
        except RateLimited:
            return user  # an earlier code is still valid; do not say so to an anonymous visitor
        return user
    if channel == "email" and user.email:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        # From SITE_URL, never from the request: the Host header is the client's to choose, and a
        # forged one would mail the owner a working reset link to someone else's site.
        link = settings.SITE_URL.rstrip("/") + reverse("accounts:recover_email", args=[uid, token])
        emails.email_send(
            to=user.email,
            template="accounts/emails/password_reset",
            context={"link": link, "hours": settings.PASSWORD_RESET_TIMEOUT // 3600},
        )
    return None


def password_reset_complete(*, request, user: User, new_password: str, channel: str) -> None:
    """Set the new password and end every session; the owner is told through the other channel."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(new_password)
        locked.session_token = secrets.token_hex(16)
        locked.save(update_fields=["password", "session_token"])
        LoginThrottle.objects.filter(key=login_key(locked.username)).update(
            failures=0, window_started_at=None, locked_until=None
        )
        audit_record(
            event=AuditEntry.Event.PASSWORD_RESET, subject=locked, request=request, details={"channel": channel}
        )
    other = ("email",) if channel == "sms" else ("sms",)
    transaction.on_commit(lambda: _notify(locked, template="accounts/emails/password_restored", channels=other))
