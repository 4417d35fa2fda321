"""The organization cabinet: the staff list, a worker's page with the HR forms, the export.

Every view acts for the organization chosen in the session, and only while the user is an active
member of it (``org_view``); anything of another organization, and any worker never employed here,
is a 404. Thin views over orgs.services; the refusals come back onto the field they name.
"""

from __future__ import annotations

import functools
import tempfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core import ratelimit
from core.audit import audit_record
from core.models import AuditEntry
from registry import selectors as registry_selectors
from registry.exports import services as exports

from . import selectors, services
from .forms import DismissForm, HireForm, HireNewForm, RateForm, StaffFilterForm, TransferForm
from .staff_table import staff_rows_html

PER_PAGE = 25
# Hiring by SNILS tells whether a SNILS is in the register: a few dozen hires an hour are real work,
# a thousand are a scan of the register.
HIRE_LIMIT = {"limit": 30, "period": 600}
EXPORT_LIMIT = {"limit": 10, "period": 60}


def org_view(*, edit: bool = False):
    """Login, the membership of the organization chosen in the session (the only one, if the user
    serves one), never cached; ``edit``: HR officers only. Sets request.membership, request.organization."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        @never_cache
        def wrapped(request, *args, **kwargs):
            membership = selectors.membership_for(
                user=request.user, organization_id=request.session.get(selectors.SESSION_KEY)
            )
            if membership is None:
                memberships = selectors.memberships_of(user=request.user)
                if not memberships:
                    raise Http404("Нет доступа к кабинету организации")
                if len(memberships) > 1:
                    return redirect("orgs:choose")
                membership = memberships[0]
                request.session[selectors.SESSION_KEY] = membership.organization_id
            if edit and not membership.can_edit:
                raise Http404("Изменять кадровые сведения может только кадровик")
            request.membership, request.organization = membership, membership.organization
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def choose(request):
    """A person serving several organizations picks the one to act for (kept in the session)."""
    memberships = selectors.memberships_of(user=request.user)
    if not memberships:
        raise Http404("Нет доступа к кабинету организации")
    if request.method == "POST":
        wanted = request.POST.get("organization", "")
        chosen = next((m for m in memberships if str(m.organization_id) == wanted), None)
        if chosen is None:
            messages.error(request, "Организация: выберите одну из списка.")
        else:
            request.session[selectors.SESSION_KEY] = chosen.organization_id
            return redirect("orgs:staff")
    current = request.session.get(selectors.SESSION_KEY)
    return render(request, "orgs/choose.html", {"memberships": memberships, "current": current})


# --- The staff list --------------------------------------------------------------------------------


def _staff_filters(request):
    form = StaffFilterForm(request.GET or None, choices=selectors.org_filter_choices(organization=request.organization))
    return form, form.filters()


@org_view()
@require_GET
def staff(request):
    form, filters = _staff_filters(request)
    page = selectors.org_staff_page(
        organization=request.organization, filters=filters, number=request.GET.get("page"), per_page=PER_PAGE
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "orgs/staff.html",
        {
            "form": form,
            "page": page,
            "rows": staff_rows_html(page.object_list),
            "query": query.urlencode(),
            "multiple": len(selectors.memberships_of(user=request.user)) > 1,
        },
    )


@org_view()
@require_GET
def export(request, fmt: str):
    retry_after = ratelimit.hit(scope="org-export", ident=str(request.user.pk), **EXPORT_LIMIT)
    if retry_after:
        response = render(request, "orgs/limited.html", {"what": "выгрузок"}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
    _form, filters = _staff_filters(request)
    rows = selectors.org_staff(organization=request.organization, filters=filters)
    audit_record(
        event=AuditEntry.Event.EXPORT,
        request=request,
        object_type="org_staff",
        object_id=request.organization.ogrn,
        details={"format": fmt, "params": request.GET.dict(), "rows": rows.count()},
    )
    name = f"staff-{request.organization.ogrn}-{timezone.localtime():%Y%m%d-%H%M}.{fmt}"
    if fmt == "csv":
        chunks = exports.csv_chunks(selectors.org_staff_rows(rows), headers=selectors.STAFF_EXPORT_HEADERS)
        response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    handle = tempfile.TemporaryFile(suffix=".xlsx")
    exports.write_xlsx(
        selectors.org_staff_rows(rows),
        handle,
        headers=selectors.STAFF_EXPORT_HEADERS,
        widths=selectors.STAFF_EXPORT_WIDTHS,
        sheet="Сотрудники",
    )
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=name,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


# --- A worker's page -------------------------------------------------------------------------------


def _worker_page(request, worker, *, forms: dict | None = None, status: int = 200):
    """The worker's protected data as the organization sees it; every view is journaled."""
    employments = selectors.worker_employments_at(organization=request.organization, worker=worker)
    audit_record(
        event=AuditEntry.Event.DATA_VIEWED,
        subject=worker.user,
        request=request,
        object_type="worker",
        object_id=worker.registry_number,
        details={"via": "organization", "organization": request.organization.ogrn},
    )
    forms = forms or {}
    for employment in employments:
        if employment.pk in forms or (employment.ended_on is None and request.membership.can_edit):
            employment.forms = forms.get(employment.pk) or _forms_for(employment)
    context = {
        "worker": worker,
        "employments": employments,
        "admissions": registry_selectors.worker_admissions(worker=worker),
        "can_edit": request.membership.can_edit,
    }
    return render(request, "orgs/worker.html", context, status=status)


@org_view()
@require_GET
def worker(request, pk: int):
    return _worker_page(request, selectors.org_worker_or_404(organization=request.organization, worker_id=pk))


def _employment_action(request, pk: int, action: str, form_class, call):
    employment = selectors.org_employment_or_404(organization=request.organization, employment_id=pk)
    form = form_class(request.POST, prefix=f"{action[0]}{employment.pk}")
    if form.is_valid():
        try:
            call(employment, form)
        except services.OrgError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, SUCCESS[action])
            return redirect("orgs:worker", pk=employment.worker_id)
    worker_ = selectors.org_worker_or_404(organization=request.organization, worker_id=employment.worker_id)
    return _worker_page(request, worker_, forms={employment.pk: _forms_with(employment, action, form)}, status=400)


SUCCESS = {
    "transfer": "Перевод внесён в регистр; работник получил уведомление.",
    "rate": "Ставка изменена; работник получил уведомление.",
    "dismiss": "Увольнение внесено в регистр; работник получил уведомление.",
}


def _forms_for(employment) -> dict:
    """The three forms of a current post, blank; prefixed by post, since a worker may hold several."""
    today = timezone.localdate()
    return {
        "transfer": TransferForm(prefix=f"t{employment.pk}", initial={"started_on": today}),
        "rate": RateForm(prefix=f"r{employment.pk}", initial={"rate": str(employment.rate).replace(".", ",")}),
        "dismiss": DismissForm(prefix=f"d{employment.pk}", initial={"ended_on": today}),
    }


def _forms_with(employment, action: str, bound) -> dict:
    return {**_forms_for(employment), action: bound, "open": action}


@org_view(edit=True)
@require_http_methods(["POST"])
def transfer(request, pk: int):
    return _employment_action(
        request,
        pk,
        "transfer",
        TransferForm,
        lambda employment, form: services.employment_transfer(
            actor=request.user,
            organization=request.organization,
            employment_id=employment.pk,
            post=form.post(),
            request=request,
        ),
    )


@org_view(edit=True)
@require_http_methods(["POST"])
def change_rate(request, pk: int):
    return _employment_action(
        request,
        pk,
        "rate",
        RateForm,
        lambda employment, form: services.employment_change_rate(
            actor=request.user,
            organization=request.organization,
            employment_id=employment.pk,
            rate=form.cleaned_data["rate"],
            request=request,
        ),
    )


@org_view(edit=True)
@require_http_methods(["POST"])
def dismiss(request, pk: int):
    return _employment_action(
        request,
        pk,
        "dismiss",
        DismissForm,
        lambda employment, form: services.employment_dismiss(
            actor=request.user,
            organization=request.organization,
            employment_id=employment.pk,
            ended_on=form.cleaned_data["ended_on"],
            reason=form.cleaned_data["reason"].code,
            request=request,
        ),
    )


# --- Hiring ------------------------------------------------------------------------------------------


def _hire_limited(request):
    retry_after = ratelimit.hit(scope="org-hire", ident=str(request.user.pk), **HIRE_LIMIT)
    if not retry_after:
        return None
    response = render(request, "orgs/limited.html", {"what": "запросов на приём"}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@org_view(edit=True)
@require_http_methods(["GET", "POST"])
def hire(request):
    """Hire a worker of the register by SNILS, in two steps: «Найти работника» shows whom the SNILS names
    (name and registry number, public data), «Принять на работу» hires them. A typo that still passes
    the checksum is caught by the name on the screen."""
    form = HireForm(request.POST if request.method == "POST" else None, initial={"started_on": timezone.localdate()})
    found = None
    if request.method == "POST":
        limited = _hire_limited(request)
        if limited:
            return limited
        if form.is_valid():
            snils = form.cleaned_data["snils"]
            if request.POST.get("step") == "confirm" and request.POST.get("checked_snils") == snils:
                return _hire_confirmed(request, form)
            found = selectors.worker_by_snils(snils=snils)
            if found is None:
                form.add_error(
                    "snils", "СНИЛС: работника с таким СНИЛС нет в регистре — внесите его как нового работника."
                )
    status = 400 if form.errors else 200
    return render(request, "orgs/hire.html", {"form": form, "new": False, "found": found}, status=status)


def _hire_confirmed(request, form):
    try:
        employment = services.employment_hire(
            actor=request.user,
            organization=request.organization,
            snils=form.cleaned_data["snils"],
            post=form.post(),
            request=request,
        )
    except services.OrgError as exc:
        form.add_service_error(exc)
        found = selectors.worker_by_snils(snils=form.cleaned_data["snils"])
        return render(request, "orgs/hire.html", {"form": form, "new": False, "found": found}, status=400)
    messages.success(request, "Работник принят; запись внесена в регистр, работник получил уведомление.")
    return redirect("orgs:worker", pk=employment.worker_id)


@org_view(edit=True)
@require_http_methods(["GET", "POST"])
def hire_new(request):
    """Hire a person who is not yet in the register: the record is created after the checks."""
    form = HireNewForm(request.POST if request.method == "POST" else None, initial={"started_on": timezone.localdate()})
    if request.method == "POST":
        limited = _hire_limited(request)
        if limited:
            return limited
        if form.is_valid():
            try:
                employment = services.employment_hire(
                    actor=request.user,
                    organization=request.organization,
                    snils=form.cleaned_data["snils"],
                    post=form.post(),
                    person=form.person(),
                    duplicate_confirmed=form.cleaned_data.get("confirm_not_duplicate", False),
                    request=request,
                )
            except services.OrgError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, "Работник внесён в регистр и принят на работу.")
                return redirect("orgs:worker", pk=employment.worker_id)
    return render(request, "orgs/hire.html", {"form": form, "new": True}, status=400 if form.errors else 200)
