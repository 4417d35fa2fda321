"""Login with an electronic-signature certificate: the page shows a one-time code, the client
signs it and sends the certificate with the signature; accounts.certificates does the checking."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from . import certificates


class _PasteArea(forms.Textarea):
    """A textarea that does not echo back what cannot be useful: oversized input (megabytes of
    garbage would go straight back into the page), a pasted private key, or a signature that is
    void anyway because a failed attempt always gets a new code."""

    def __init__(self, *, limit: int, echo: bool = True, attrs=None):
        super().__init__(attrs={"rows": 8, "spellcheck": "false", "autocomplete": "off", **(attrs or {})})
        self.limit, self.echo = limit, echo

    def format_value(self, value):
        if not self.echo or value is None:
            return None
        text = str(value)
        if len(text) > self.limit or "PRIVATE KEY" in text:
            return None
        return super().format_value(text)


class CertificateLoginForm(forms.Form):
    certificate = forms.CharField(
        label="Сертификат",
        max_length=certificates.MAX_CERTIFICATE_CHARS,
        widget=_PasteArea(limit=certificates.MAX_CERTIFICATE_CHARS, attrs={"rows": 10}),
        help_text="Текст файла сертификата (формат PEM), начиная со строки «-----BEGIN CERTIFICATE-----». "
        "Сертификаты промежуточных удостоверяющих центров можно добавить следом.",
        error_messages={
            "required": "Вставьте сертификат.",
            "max_length": "Сертификат слишком длинный: допускается не больше %(limit_value)s символов.",
        },
    )
    signature = forms.CharField(
        label="Подпись",
        max_length=certificates.MAX_SIGNATURE_CHARS,
        widget=_PasteArea(limit=certificates.MAX_SIGNATURE_CHARS, echo=False, attrs={"rows": 4}),
        help_text="Подпись кода в кодировке base64.",
        error_messages={
            "required": "Вставьте подпись кода.",
            "max_length": "Подпись слишком длинная: допускается не больше %(limit_value)s символов.",
        },
    )


# A pasted private key must not end up in an error report.
@sensitive_post_parameters("certificate")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def certificate_login(request):
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = CertificateLoginForm(request.POST if request.method == "POST" else None)
    error_code = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                certificates.certificate_login(
                    request=request,
                    certificate_pem=form.cleaned_data["certificate"],
                    signature_b64=form.cleaned_data["signature"],
                )
            except certificates.CertificateError as exc:
                error_code = exc.code
                form.add_error(None, exc.message)
            else:
                return redirect(settings.LOGIN_REDIRECT_URL)
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
