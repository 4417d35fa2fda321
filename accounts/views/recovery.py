"""Password recovery: a code by SMS or a link by e-mail."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.tokens import default_token_generator
from django.shortcuts import redirect, render
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from core import ratelimit
from core.http import client_ip

from .. import services
from ..forms.passwords import RecoverCodeForm, RecoverForm, SetNewPasswordForm
from ..models import OneTimeCode, User

RESET_KEY = "accounts.reset_login"


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
