"""Saved searches and watched workers of a logged-in user. Another user's saved search is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from ..models import MedicalWorker, SavedSearch
from ..search.engine import SearchForm
from . import services as saved_searches


def _own_saved_search(request, pk: int) -> SavedSearch:
    return get_object_or_404(SavedSearch, pk=pk, user=request.user)


def _search_url(query: str) -> str:
    url = reverse("registry:search")
    return f"{url}?{query}" if query else url


@login_required
@require_GET
def saved_list(request):
    context = {
        "saved": SavedSearch.objects.filter(user=request.user).order_by("name"),
        "watched": request.user.watched_workers.select_related("worker").order_by("worker__search_name"),
        "max_saved": saved_searches.MAX_SAVED_PER_USER,
    }
    return render(request, "registry/saved.html", context)


def _posted_query(request) -> str:
    """The search to save: the search form's fields when htmx posted them along (the filters may
    have changed after the page loaded), else the page's own query string from the hidden field."""
    fields = [name for name in SearchForm.base_fields if name in request.POST]
    if fields:
        query = QueryDict(mutable=True)
        for name in fields:
            query.setlist(name, request.POST.getlist(name))
        return query.urlencode()
    return request.POST.get("query", "")[:2000]


@login_required
@require_POST
def saved_create(request):
    query = _posted_query(request)  # re-validated by the service, never trusted
    htmx = getattr(request, "htmx", False)
    try:
        saved = saved_searches.saved_search_create(
            user=request.user, name=request.POST.get("name", ""), querydict=QueryDict(query)
        )
    except saved_searches.SavedSearchError as exc:
        if htmx:
            return HttpResponse(format_html('<p class="alert alert-error" role="alert">{}</p>', exc.message))
        messages.error(request, exc.message)
        return redirect(_search_url(query))
    text = f"Поиск «{saved.name}» сохранён. Он в разделе «Сохранённые поиски»."
    if htmx:
        return HttpResponse(
            format_html(
                '<p class="alert alert-success" role="status">{} <a href="{}">Открыть</a></p>',
                text,
                reverse("registry:saved"),
            )
        )
    messages.success(request, text)
    return redirect(_search_url(query))


@login_required
@require_POST
def saved_notify(request, pk: int):
    saved = _own_saved_search(request, pk)
    notify = request.POST.get("notify") == "on"
    saved_searches.saved_search_set_notify(saved_search=saved, notify=notify)
    if notify:
        messages.success(request, f"Уведомления о новых специалистах по поиску «{saved.name}» включены.")
    else:
        messages.success(request, f"Уведомления по поиску «{saved.name}» выключены.")
    return redirect("registry:saved")


@login_required
@require_POST
def saved_delete(request, pk: int):
    saved = _own_saved_search(request, pk)
    saved_searches.saved_search_delete(saved_search=saved)
    messages.success(request, f"Поиск «{saved.name}» удалён.")
    return redirect("registry:saved")


@login_required
@require_POST
def watch(request, registry_number: str):
    worker = get_object_or_404(
        MedicalWorker.objects.only("id", "registry_number", "admission_status"), registry_number=registry_number
    )
    if request.POST.get("action") == "unwatch":
        saved_searches.watch_remove(user=request.user, worker=worker)
        messages.success(request, "Вы больше не следите за статусом допуска этого специалиста.")
    else:
        try:
            saved_searches.watch_add(user=request.user, worker=worker)
        except saved_searches.SavedSearchError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Пришлём письмо, если статус допуска этого специалиста изменится.")
    if request.POST.get("next") == "saved":
        return redirect("registry:saved")
    return redirect("registry:profile", registry_number=worker.registry_number)
