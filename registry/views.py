"""The public register: search and the public profile. No login; protected data never shown."""

from django.conf import settings
from django.core.paginator import EmptyPage
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET
from django_tables2.paginators import LazyPaginator

from accounts.services import client_ip
from portal import ratelimit

from . import params, saved_searches, search, selectors, validators
from .models import MedicalWorker
from .tables import PreorderedData, WorkerTable

SEARCH_PERIOD = 60  # settings.PUBLIC_SEARCH_RATE_LIMIT searches per period per IP; 0 = no limit


@require_GET
def search_page(request):
    form = search.SearchForm(request.GET or None)
    context = {"form": form, "table": None, "fuzzy": False, **selectors.search_directories_lazy()}
    limit = settings.PUBLIC_SEARCH_RATE_LIMIT
    if limit and ratelimit.hit(scope="search", ident=client_ip(request) or "", limit=limit, period=SEARCH_PERIOD):
        context["limited"] = True
        return render(request, _template(request), context, status=429)
    if form.is_bound and not form.is_valid():
        return render(request, _template(request), context)
    params = form.cleaned_data if form.is_bound else {}
    result = search.worker_search(params)
    data, (count, more) = search.result_page_source(result, params)
    rows = data if isinstance(data, QuerySet) else PreorderedData(data)
    table = WorkerTable(rows, order_by=params.get("sort") or None)
    table.request, table.max_page = request, search.MAX_PAGE
    # The form's page, capped at MAX_PAGE (RequestConfig would read the raw parameter: page=50000 was an
    # OFFSET over a million index entries). LazyPaginator fetches one row more than the page instead of
    # counting millions of rows.
    paginator = LazyPaginator(table.rows, params.get("per_page") or 25)
    try:
        table.paginator, table.page = paginator, paginator.page(params.get("page") or 1)
    except EmptyPage:  # beyond the last page: the last one
        table.paginator, table.page = paginator, paginator.page(paginator.num_pages)
    context.update(table=table, fuzzy=bool(result.corrected), corrected=result.corrected, count=count, more=more,
                   max_page=search.MAX_PAGE, deep=table.page.number == search.MAX_PAGE)
    return render(request, _template(request), context)


def _template(request) -> str:
    # htmx asks for the results only; a plain request gets the whole page (works without JS).
    return "registry/_results.html" if getattr(request, "htmx", False) else "registry/search.html"


@require_GET
def profile(request, registry_number: str):
    if not validators.is_digits(registry_number, length=10):
        # The number as printed on an extract («МР 000000001-3»): the profile's one address.
        number = params.registry_number_in(registry_number)
        if number is not None:
            return redirect("registry:profile", registry_number=number, permanent=True)
    worker = get_object_or_404(
        MedicalWorker.objects.select_related("primary_specialty", "region", "category"),
        registry_number=registry_number if validators.is_digits(registry_number, length=10) else "-",
    )
    context = {
        "worker": worker,
        "admissions": selectors.worker_admissions(worker),
        "workplaces": selectors.worker_public_workplaces(worker),
        "watching": saved_searches.is_watching(user=request.user, worker=worker),
    }
    return render(request, "registry/profile.html", context)


@require_GET
def organization_suggest(request):
    """Autocomplete for the organization filter: links that add organization=<id> to the search."""
    term = request.GET.get("org_q", "")[:100]
    base = request.GET.copy()
    for key in ("org_q", "organization", "page"):
        base.pop(key, None)
    suggestions = [
        {"org": org, "query": _with(base, organization=org.pk)} for org in search.organization_suggest(term)
    ]
    return render(request, "registry/_org_suggest.html", {"suggestions": suggestions, "term": term})


def _with(querydict, **extra) -> str:
    q = querydict.copy()
    for key, value in extra.items():
        q[key] = value
    return q.urlencode()
