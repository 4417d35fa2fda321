from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from core import ratelimit
from core.http import client_ip

from ..consent import CONSENT_PARAGRAPHS, CONSENT_TITLE, CURRENT_CONSENT_VERSION
from ..forms.registration import RegistrationForm
from ..registration import RegistrationError, account_register

REGISTER_LIMIT = {"limit": 10, "period": 3600}


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("admin:index" if request.user.is_staff else resolve_url(settings.LOGIN_REDIRECT_URL))

    form = RegistrationForm(request.POST if request.method == "POST" else None)
    if form.is_bound and (wait := ratelimit.hit(scope="register", ident=client_ip(request) or "", **REGISTER_LIMIT)):
        form.add_error(None, f"Слишком много регистраций с вашего адреса. Попробуйте через {wait // 60 + 1} мин.")
    elif form.is_bound and form.is_valid():
        try:
            account_register(**form.registration_data(), request=request)
        except RegistrationError as exc:
            # Someone registered the same SNILS between our check and the insert.
            form.add_error(exc.field, exc.message)
        else:
            messages.success(
                request,
                "Учётная запись создана. Войдите по СНИЛС и паролю — при первом входе подтвердите телефон "
                "кодом из SMS.",
            )
            return redirect("accounts:login")

    return render(
        request,
        "accounts/register.html",
        {
            "form": form,
            "consent_title": CONSENT_TITLE,
            "consent_paragraphs": CONSENT_PARAGRAPHS,
            "consent_version": CURRENT_CONSENT_VERSION,
        },
    )
