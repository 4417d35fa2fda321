"""Login with an electronic-signature certificate: the page shows a one-time code, the client
signs it and sends the certificate with the signature; accounts.certificates does the checking."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from .. import certificates
from ..forms.certificate import CertificateLoginForm
from .login import after_login_redirect


# A pasted private key must not end up in an error report.
@sensitive_post_parameters("certificate")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def certificate_login(request):
    if request.user.is_authenticated:
        return after_login_redirect(request, request.user)
    form = CertificateLoginForm(request.POST if request.method == "POST" else None)
    error_code = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                user = certificates.certificate_login(
                    request=request,
                    certificate_pem=form.cleaned_data["certificate"],
                    signature_b64=form.cleaned_data["signature"],
                )
            except certificates.CertificateError as exc:
                error_code = exc.code
                form.add_error(None, exc.message)
            else:
                return after_login_redirect(request, user)
        else:
            certificates.certificate_login_refuse_input(request=request)
    # Every failed attempt has used up its code; the page always carries a fresh one.
    challenge = certificates.challenge_issue(session=request.session)
    return render(
        request,
        "accounts/certificate_login.html",
        {
            "form": form,
            "challenge": challenge,
            "challenge_minutes": int(certificates.CHALLENGE_TTL.total_seconds() // 60),
            "error_code": error_code,
            "show_developer_help": not settings.PRODUCTION,
        },
    )
