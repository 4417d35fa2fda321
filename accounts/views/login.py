"""Login in two steps (password, then a one-time code), first-login phone binding, logout."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from core import ratelimit
from core.http import client_ip

from .. import services
from ..forms.login import CodeForm, LoginForm, PhoneForm
from ..models import OneTimeCode, TotpDevice, User

NEXT_KEY = "accounts.next"


PHONE_KEY = "accounts.phone_to_confirm"


def _safe_next(request, candidate: str | None) -> str | None:
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return None


def login_next_pop(request) -> str | None:
    """The page the login started from, if it is on this site; taken once."""
    return _safe_next(request, request.session.pop(NEXT_KEY, None))


def after_login_redirect(request, user: User):
    """Where a finished login goes is the wiring's decision (settings.LOGIN_LANDING): the landing
    knows the desks and cabinets of apps this one must not import."""
    return redirect(import_string(settings.LOGIN_LANDING)(request, user))


# --- Step 1 -------------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated:
        return after_login_redirect(request, request.user)
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
                return after_login_redirect(request, user)
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
    response = None
    if request.method == "POST" and request.POST.get("action") == "send":
        phone_form = PhoneForm({"phone": phone_on_file} if phone_on_file else request.POST)
        response = _phone_code_send(request, user, phone_form)
    elif request.method == "POST" and request.POST.get("action") == "confirm" and phone:
        code_form = CodeForm(request.POST)
        response = _phone_code_confirm(request, user, phone, code_form)
    if response is not None:
        return response
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


def _phone_code_send(request, user: User, phone_form: PhoneForm):
    """Send the confirmation code to the phone; a redirect when sent, else None (errors on the form)."""
    if not phone_form.is_valid():
        return None
    phone = phone_form.cleaned_data["phone"]
    try:
        sent = services.sms_code_send(
            user=user, purpose=OneTimeCode.Purpose.PHONE_CONFIRM, phone=phone, request=request
        )
    except services.AuthError as exc:
        phone_form.add_error("phone", exc.message)
        return None
    request.session[PHONE_KEY] = phone
    messages.info(request, f"Код отправлен на номер {sent.phone_masked}.")
    return redirect("accounts:login_phone")


def _phone_code_confirm(request, user: User, phone: str, code_form: CodeForm):
    """Check the code; the login completes with the phone confirmed, else None (errors on the form)."""
    if not code_form.is_valid():
        return None
    try:
        services.phone_confirm(user=user, phone=phone, code=code_form.cleaned_data["code"], request=request)
    except services.AccountLocked as exc:
        request.session.pop(services.PENDING_KEY, None)
        messages.error(request, exc.message)
        return redirect("accounts:login")
    except services.AuthError as exc:
        code_form.add_error("code", exc.message)
        return None
    request.session.pop(PHONE_KEY, None)
    services.login_complete(request=request, user=user, method="sms")
    messages.success(request, "Телефон подтверждён. Теперь код для входа будет приходить на этот номер.")
    return after_login_redirect(request, user)


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
