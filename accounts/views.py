"""Login in two steps, phone binding, recovery, the security page and the owner's journal."""

from __future__ import annotations

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from core import ratelimit
from core.http import client_ip
from core.models import AuditEntry

from . import services
from .forms import (
    CodeForm,
    ConfirmPasswordForm,
    LoginForm,
    PasswordChangeForm,
    PhoneForm,
    RecoverCodeForm,
    RecoverForm,
    SetNewPasswordForm,
)
from .journal import entry_summary
from .models import OneTimeCode, TotpDevice, User

NEXT_KEY = "accounts.next"
PHONE_KEY = "accounts.phone_to_confirm"
RESET_KEY = "accounts.reset_login"
TOTP_SECRET_KEY = "accounts.totp_secret"  # noqa: S105 - a session key name, not a secret


def _safe_next(request, candidate: str | None) -> str | None:
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return None


def _after_login(request, user: User):
    target = _safe_next(request, request.session.pop(NEXT_KEY, None))
    if target:
        return redirect(target)
    return redirect("admin:index" if user.is_staff else "portal:landing")


# --- Step 1 -------------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated:
        return _after_login(request, request.user)
    form = LoginForm(request.POST or None, request=request)
    # Per account the lockout applies; per address this stops one host trying many SNILS.
    wait = request.method == "POST" and ratelimit.hit(
        scope="login", ident=client_ip(request) or "", limit=100, period=900
    )
    if wait:
        form.add_error(None, f"Слишком много попыток входа с вашего адреса. Попробуйте через {wait // 60 + 1} мин.")
    elif request.method == "POST" and form.is_valid():
        user = form.user
        next_url = _safe_next(request, request.POST.get("next"))
        services.pending_begin(request=request, user=user)
        if next_url:
            request.session[NEXT_KEY] = next_url
        if not user.phone_confirmed:
            return redirect("accounts:login_phone")
        if not TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists():
            _send_login_code(request, user, announce=False)  # the next page says where it went
        return redirect("accounts:login_verify")
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": request.GET.get("next", ""), "locked": form.error_code == "locked"},
    )


def _send_login_code(request, user: User, *, announce: bool = True) -> None:
    try:
        sent = services.sms_code_send(user=user, purpose=OneTimeCode.Purpose.LOGIN, request=request)
        if announce:
            messages.info(request, f"Новый код отправлен на номер {sent.phone_masked}.")
    except services.AuthError as exc:
        messages.error(request, exc.message)


# --- Step 2 -------------------------------------------------------------------------------------


def _pending_or_restart(request):
    user = services.pending_user(request)
    if user is None:
        messages.error(request, "Время на ввод кода истекло или вход не начат. Введите СНИЛС и пароль ещё раз.")
    return user


def _resend_wait(user: User) -> int:
    last = OneTimeCode.objects.filter(user=user, purpose=OneTimeCode.Purpose.LOGIN).order_by("-created_at").first()
    if last is None:
        return 0
    left = (last.created_at + services.CODE_RESEND_AFTER - timezone.now()).total_seconds()
    return max(0, int(left) + 1)


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_verify(request):
    user = _pending_or_restart(request)
    if user is None:
        return redirect("accounts:login")
    if not user.phone_confirmed:
        return redirect("accounts:login_phone")
    has_totp = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    method = request.POST.get("method") or request.GET.get("method") or ("totp" if has_totp else "sms")
    if method not in {"sms", "totp"} or (method == "totp" and not has_totp):
        method = "sms"
    form = CodeForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "send":
            _send_login_code(request, user)
            return redirect(f"{reverse('accounts:login_verify')}?method=sms")
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                if method == "totp":
                    services.totp_verify(user=user, code=form.cleaned_data["code"], request=request)
                else:
                    services.sms_code_verify(
                        user=user, purpose=OneTimeCode.Purpose.LOGIN, code=form.cleaned_data["code"], request=request
                    )
            except services.AccountLocked as exc:
                request.session.pop(services.PENDING_KEY, None)
                messages.error(request, exc.message)
                return redirect("accounts:login")
            except services.AuthError as exc:
                form.add_error("code", exc.message)
            else:
                services.login_complete(request=request, user=user, method=method)
                return _after_login(request, user)
    return render(
        request,
        "accounts/login_verify.html",
        {
            "form": form,
            "method": method,
            "has_totp": has_totp,
            "masked_phone": user.masked_phone,
            "resend_wait": _resend_wait(user) if method == "sms" else 0,
        },
    )


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_phone(request):
    """First login: confirm a mobile phone before anything else.

    A phone given at registration is the one confirmed: someone who learnt the password must not
    be able to bind their own phone instead. Only an account created without a phone (by staff or
    an import) gets to enter one here.
    """
    user = _pending_or_restart(request)
    if user is None:
        return redirect("accounts:login")
    phone_on_file = user.phone or None
    if phone_on_file is None:
        # With no phone on file, binding one here would rest on the password alone.
        request.session.pop(services.PENDING_KEY, None)
        messages.error(
            request,
            "К учётной записи не привязан номер телефона, поэтому войти нельзя: второй фактор некуда отправить. "
            f"Обратитесь в службу поддержки ({settings.SUPPORT_PHONE}), чтобы указать номер после проверки личности.",
        )
        return redirect("accounts:login")
    phone_form, code_form = PhoneForm(initial={"phone": user.phone}), CodeForm()
    phone = request.session.get(PHONE_KEY)
    if request.method == "POST" and request.POST.get("action") == "send":
        phone_form = PhoneForm({"phone": phone_on_file} if phone_on_file else request.POST)
        if phone_form.is_valid():
            phone = phone_form.cleaned_data["phone"]
            try:
                sent = services.sms_code_send(
                    user=user, purpose=OneTimeCode.Purpose.PHONE_CONFIRM, phone=phone, request=request
                )
            except services.AuthError as exc:
                phone_form.add_error("phone", exc.message)
            else:
                request.session[PHONE_KEY] = phone
                messages.info(request, f"Код отправлен на номер {sent.phone_masked}.")
                return redirect("accounts:login_phone")
    elif request.method == "POST" and request.POST.get("action") == "confirm" and phone:
        code_form = CodeForm(request.POST)
        if code_form.is_valid():
            try:
                services.phone_confirm(user=user, phone=phone, code=code_form.cleaned_data["code"], request=request)
            except services.AccountLocked as exc:
                request.session.pop(services.PENDING_KEY, None)
                messages.error(request, exc.message)
                return redirect("accounts:login")
            except services.AuthError as exc:
                code_form.add_error("code", exc.message)
            else:
                request.session.pop(PHONE_KEY, None)
                services.login_complete(request=request, user=user, method="sms")
                messages.success(request, "Телефон подтверждён. Теперь код для входа будет приходить на этот номер.")
                return _after_login(request, user)
    return render(
        request,
        "accounts/login_phone.html",
        {
            "phone_form": phone_form,
            "code_form": code_form,
            "phone_pending": phone,
            "phone_on_file": user.masked_phone if phone_on_file else "",
        },
    )


# --- Logout -------------------------------------------------------------------------------------


@require_POST
def logout_view(request):
    services.logout(request=request)
    messages.info(request, "Вы вышли из личного кабинета.")
    return redirect("portal:landing")


@login_required
@require_POST
def logout_everywhere_view(request):
    services.logout_everywhere(request=request)
    messages.success(request, "Все сеансы завершены, включая этот. Войдите снова.")
    return redirect("accounts:login")


# --- Recovery -----------------------------------------------------------------------------------

RECOVER_SENT = (
    "Если учётная запись с таким СНИЛС существует и к ней привязан выбранный способ связи, "
    "мы отправили код или ссылку для восстановления пароля."
)


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def recover(request):
    form = RecoverForm(request.POST or None)
    wait = request.method == "POST" and ratelimit.hit(
        scope="recover", ident=client_ip(request) or "", limit=20, period=3600
    )
    if wait:
        form.add_error(
            None, f"Слишком много запросов восстановления с вашего адреса. Попробуйте через {wait // 60 + 1} мин."
        )
    elif request.method == "POST" and form.is_valid():
        login, channel = form.cleaned_data["username"], form.cleaned_data["channel"]
        services.password_reset_request(request=request, login=login, channel=channel)
        messages.info(request, RECOVER_SENT)
        if channel == "sms":
            # Whatever the outcome, the same next page: it must not reveal whether the SNILS exists.
            request.session[RESET_KEY] = login
            return redirect("accounts:recover_code")
        return redirect("accounts:login")
    return render(request, "accounts/recover.html", {"form": form})


@sensitive_post_parameters("new_password1", "new_password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def recover_code(request):
    login = request.session.get(RESET_KEY)
    if not login:
        return redirect("accounts:recover")
    user = User.objects.filter(username=login, is_active=True).first()
    if user is not None and not user.phone_confirmed:
        user = None  # no code could have been sent: behave exactly as for an unknown SNILS
    # The new password is not compared with the account's name and e-mail here: before the code is
    # checked, "too similar to your e-mail" would tell a stranger the owner's e-mail and name.
    form = RecoverCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        key = services.login_key(login)
        try:
            if user is None:
                raise services.CodeError("no code", code="expired")
            services.sms_code_verify(
                user=user, purpose=OneTimeCode.Purpose.PASSWORD_RESET, code=form.cleaned_data["code"], request=request
            )
        except services.AccountLocked as exc:
            form.add_error("code", exc.message)
        except services.AuthError as exc:
            locked_until = None
            if exc.code != "wrong":  # a wrong code has been counted already
                locked_until = services.throttle_fail(key=key, user=user, request=request)
            # One answer for every failure, whether or not the SNILS exists.
            form.add_error(
                "code",
                services.AccountLocked(locked_until).message
                if locked_until
                else "Неверный код или срок его действия истёк. Запросите новый код.",
            )
        else:
            services.password_reset_complete(
                request=request, user=user, new_password=form.cleaned_data["new_password1"], channel="sms"
            )
            request.session.pop(RESET_KEY, None)
            messages.success(request, "Пароль изменён, все сеансы завершены. Войдите с новым паролем.")
            return redirect("accounts:login")
    return render(request, "accounts/recover_code.html", {"form": form})


@sensitive_post_parameters("new_password1", "new_password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def recover_email(request, uidb64: str, token: str):
    try:
        user = User.objects.filter(pk=int(urlsafe_base64_decode(uidb64).decode()), is_active=True).first()
    except (ValueError, UnicodeDecodeError, OverflowError):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        return render(request, "accounts/recover_email.html", {"invalid": True}, status=400)
    form = SetNewPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        services.password_reset_complete(
            request=request, user=user, new_password=form.cleaned_data["new_password1"], channel="email"
        )
        messages.success(request, "Пароль изменён, все сеансы завершены. Войдите с новым паролем.")
        return redirect("accounts:login")
    return render(request, "accounts/recover_email.html", {"form": form})


# --- Security page and journal -----------------------------------------------------------------


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def security(request):
    user = request.user
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    password_form = PasswordChangeForm(user=user, request=request)
    totp_form = CodeForm()
    remove_form = ConfirmPasswordForm(user=user, request=request)
    action = request.POST.get("action") if request.method == "POST" else None

    if action == "password":
        password_form = PasswordChangeForm(request.POST, user=user, request=request)
        if password_form.is_valid():
            services.password_change(
                request=request, user=user, new_password=password_form.cleaned_data["new_password1"]
            )
            messages.success(request, "Пароль изменён. Другие сеансы завершены.")
            return redirect("accounts:security")
    elif action == "totp_confirm" and request.session.get(TOTP_SECRET_KEY):
        totp_form = CodeForm(request.POST)
        if totp_form.is_valid():
            try:
                services.totp_enrol(
                    user=user, secret=request.session[TOTP_SECRET_KEY], code=totp_form.cleaned_data["code"],
                    request=request,
                )
            except services.AuthError as exc:
                totp_form.add_error("code", exc.message)
            else:
                request.session.pop(TOTP_SECRET_KEY, None)
                messages.success(request, "Приложение-аутентификатор подключено.")
                return redirect("accounts:security")
    elif action == "totp_remove":
        remove_form = ConfirmPasswordForm(request.POST, user=user, request=request)
        if remove_form.is_valid():
            services.totp_remove(user=user, request=request)
            messages.info(request, "Приложение-аутентификатор отключено. Код для входа будет приходить по SMS.")
            return redirect("accounts:security")

    context = {"device": device, "password_form": password_form, "totp_form": totp_form, "remove_form": remove_form}
    if device is None:
        secret = request.session.get(TOTP_SECRET_KEY)
        if not secret:
            secret = request.session[TOTP_SECRET_KEY] = services.totp_new_secret()
        uri = services.totp_provisioning_uri(user=user, secret=secret)
        context.update(
            totp_secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            totp_qr=segno.make(uri, error="m").svg_inline(scale=5, title="QR-код для приложения-аутентификатора"),
        )
    return render(request, "accounts/security.html", context)


JOURNAL_PAGE_SIZE = 50


@login_required
@require_http_methods(["GET"])
def journal(request):
    """The owner's own audit journal: what was done with their account and data, by whom."""
    entries = AuditEntry.objects.filter(subject=request.user).select_related("actor").order_by("-created_at", "-id")
    page = Paginator(entries, JOURNAL_PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.summary = entry_summary(entry)
    return render(request, "accounts/journal.html", {"page": page})


@login_required
@require_http_methods(["GET"])
def journal_entry(request, pk: int):
    """One entry of the owner's journal in full; another user's entry is a 404."""
    entry = get_object_or_404(AuditEntry.objects.select_related("actor"), pk=pk, subject=request.user)
    entry.summary = entry_summary(entry)
    return render(request, "accounts/journal_entry.html", {"entry": entry})
