"""The personal cabinet: the worker's record, identity and qualification confirmation,
profile corrections, documents and notifications. Thin views over verification.services;
every object is fetched through an ownership check, so another user's object is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import Notification
from accounts.notifications import notifications_mark_read

from . import selectors, services
from .documents import document_response
from .forms import CorrectionForm, DisputeForm, IdentityForm, QualificationForm
from .models import ApplicationHistory, ChangeRequest, IdentityApplication, QualificationApplication
from .services import VerificationError


def _worker_or_none(request):
    worker = selectors.worker_of(user=request.user)
    if worker is None:
        return None, render(request, "verification/no_record.html", status=200)
    return worker, None


def _form_error(form, exc: VerificationError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
@never_cache
@require_GET
def cabinet(request):
    worker, response = _worker_or_none(request)
    if response:
        return response
    context = selectors.cabinet_context(worker=worker, user=request.user)
    return render(request, "verification/cabinet.html", context)


# --- Identity -------------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def identity(request):
    worker, response = _worker_or_none(request)
    if response:
        return response
    current = selectors.identity_application_current(worker=worker)
    if current is not None and current.is_open:
        return redirect("verification:identity_detail", pk=current.pk)
    fixing = current if current is not None and current.can_fix() else None
    if fixing is not None:
        initial = {
            f: getattr(fixing, f) for f in ("snils", "inn", "last_name", "first_name", "middle_name", "birth_date")
        }
    else:
        initial = {
            "snils": worker.snils_display,
            "inn": worker.inn or "",
            "last_name": worker.last_name,
            "first_name": worker.first_name,
            "middle_name": worker.middle_name,
            "birth_date": worker.birth_date,
        }
    form = IdentityForm(request.POST or None, request.FILES or None, initial=initial, resubmit=fixing is not None)
    if request.method == "POST" and form.is_valid():
        data = services.IdentityInput(
            **{
                f: form.cleaned_data[f]
                for f in ("snils", "inn", "last_name", "first_name", "middle_name", "birth_date")
            }
        )
        files = {f: form.cleaned_data.get(f) for f in services.IDENTITY_FILES}
        try:
            if fixing is not None:
                application = services.identity_application_resubmit(
                    application=fixing, user=request.user, data=data, files=files, request=request
                )
            else:
                application = services.identity_application_submit(
                    user=request.user, data=data, files=files, request=request
                )
        except VerificationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Заявление отправлено на проверку.")
            return redirect("verification:identity_detail", pk=application.pk)
    return render(request, "verification/identity_form.html", {"form": form, "fixing": fixing, "worker": worker})


@login_required
@never_cache
@require_GET
def identity_detail(request, pk: int):
    application = selectors.owned_or_404(model=IdentityApplication, user=request.user, pk=pk)
    return render(
        request,
        "verification/identity_detail.html",
        {
            "application": application,
            "history": selectors.application_history(
                kind=ApplicationHistory.Kind.IDENTITY, application_id=application.pk
            ),
        },
    )


# --- Qualification --------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def qualification(request):
    worker, response = _worker_or_none(request)
    if response:
        return response
    current = selectors.qualification_application_current(worker=worker)
    if current is not None and current.is_open:
        return redirect("verification:qualification_detail", pk=current.pk)
    fixing = current if current is not None and current.can_fix() else None
    initial = {"diploma_number": fixing.diploma_number, "admission_number": fixing.admission_number} if fixing else {}
    form = QualificationForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = services.QualificationInput(
            diploma_number=form.cleaned_data["diploma_number"], admission_number=form.cleaned_data["admission_number"]
        )
        files = {f: form.cleaned_data.get(f) for f in services.QUALIFICATION_FILES}
        try:
            if fixing is not None:
                application = services.qualification_application_resubmit(
                    application=fixing, user=request.user, data=data, files=files, request=request
                )
            else:
                application = services.qualification_application_submit(
                    user=request.user, data=data, files=files, request=request
                )
        except VerificationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Документы отправлены на проверку. Результат — в течение 24 часов.")
            return redirect("verification:qualification_detail", pk=application.pk)
    return render(request, "verification/qualification_form.html", {"form": form, "fixing": fixing, "worker": worker})


@login_required
@never_cache
@require_GET
def qualification_detail(request, pk: int):
    application = selectors.owned_or_404(model=QualificationApplication, user=request.user, pk=pk)
    return render(
        request,
        "verification/qualification_detail.html",
        {
            "application": application,
            "history": selectors.application_history(
                kind=ApplicationHistory.Kind.QUALIFICATION, application_id=application.pk
            ),
        },
    )


# --- Corrections ----------------------------------------------------------------------------------


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def correction(request):
    """Two steps: edit and «Показать изменения» (the difference, nothing saved), then attach proof
    and «Отправить на проверку»."""
    worker, response = _worker_or_none(request)
    if response:
        return response
    if worker.identity_status != worker.IdentityStatus.CONFIRMED:
        messages.info(request, "Исправлять сведения можно после подтверждения личности.")
        return redirect("verification:identity")
    current = selectors.worker_editable_values(worker=worker)
    initial = {**current, "registry_number": worker.registry_number_display}
    step = request.POST.get("step") if request.method == "POST" else None
    form = CorrectionForm(request.POST or None, request.FILES or None, initial=initial)
    if step == "preview":
        form.fields["proof"].required = False
    diff = None
    if step in ("preview", "submit") and form.is_valid():
        diff = selectors.change_diff(worker=worker, new_values=form.new_values())
        if not diff:
            form.add_error(None, "Вы ничего не изменили: исправьте хотя бы одно поле.")
        elif step == "submit":
            try:
                change = services.change_request_submit(
                    user=request.user,
                    new_values=form.new_values(),
                    proof=form.cleaned_data["proof"],
                    comment=form.cleaned_data["comment"],
                    request=request,
                )
            except VerificationError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, "Заявка на исправление отправлена на проверку.")
                return redirect("verification:correction_detail", pk=change.pk)
    return render(
        request,
        "verification/correction_form.html",
        {
            "form": form,
            "diff": diff,
            "worker": worker,
            "pending": ChangeRequest.objects.filter(worker=worker, status=ChangeRequest.Status.PENDING).first(),
        },
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def employment_dispute(request, pk: int):
    """«Оспорить» an employment row an employer entered: a correction request for support."""
    worker = selectors.worker_of(user=request.user)
    if worker is None:
        raise Http404("Место работы не найдено")
    employment = selectors.employment_of_worker_or_404(worker=worker, pk=pk)
    form = DisputeForm(request.POST if request.method == "POST" else None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            change = services.employment_dispute_submit(
                user=request.user,
                employment_id=employment.pk,
                comment=form.cleaned_data["comment"],
                proof=form.cleaned_data.get("proof"),
                request=request,
            )
        except VerificationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Запись оспорена: заявка отправлена в службу поддержки.")
            return redirect("verification:correction_detail", pk=change.pk)
    return render(
        request,
        "verification/dispute_form.html",
        {"form": form, "employment": employment},
        status=400 if form.errors else 200,
    )


@login_required
@never_cache
@require_GET
def correction_detail(request, pk: int):
    change = selectors.owned_or_404(model=ChangeRequest, user=request.user, pk=pk)
    return render(
        request,
        "verification/correction_detail.html",
        {
            "change": change,
            "history": selectors.application_history(kind=ApplicationHistory.Kind.CHANGE, application_id=change.pk),
        },
    )


# --- Documents and notifications ------------------------------------------------------------------


@login_required
@never_cache
@require_GET
def document_download(request, pk):
    document = selectors.document_for(user=request.user, pk=pk)
    return document_response(document=document, request=request, actor=request.user)


NOTIFICATIONS_PAGE_SIZE = 30


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def notifications(request):
    if request.method == "POST":
        notifications_mark_read(user=request.user)
        return redirect("verification:notifications")
    page = Paginator(Notification.objects.filter(user=request.user), NOTIFICATIONS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "verification/notifications.html", {"page": page})
