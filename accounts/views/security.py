"""The security page (password, authenticator app, sessions) and the owner's audit journal."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from core.models import AuditEntry

from .. import services
from ..forms.login import CodeForm
from ..forms.passwords import ConfirmPasswordForm, PasswordChangeForm
from ..journal import entry_summary
from ..models import TotpDevice

TOTP_SECRET_KEY = "accounts.totp_secret"  # noqa: S105 - a session key name, not a secret


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
                    user=user,
                    secret=request.session[TOTP_SECRET_KEY],
                    code=totp_form.cleaned_data["code"],
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
