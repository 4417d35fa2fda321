"""The public profile of a worker: the professional record only. No login; protected data never shown."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from core import validators

from . import selectors
from .models import MedicalWorker, WorkerAlias
from .saved import services as saved_searches
from .search import params


@require_GET
def profile(request, registry_number: str):
    if not validators.is_digits(registry_number, length=10):
        # The number as printed on an extract («МР 000000001-3»): the profile's one address.
        printed = params.registry_number_in(registry_number)
        if printed is not None:
            return redirect("registry:profile", registry_number=printed, permanent=True)
    number = registry_number if validators.is_digits(registry_number, length=10) else "-"
    worker = (
        MedicalWorker.objects.select_related("primary_specialty", "region", "category")
        .filter(registry_number=number)
        .first()
    )
    if worker is None:
        # A record merged into another: its number is an alias of the survivor, whose profile it is now.
        survivor = selectors.worker_by_alias(kind=WorkerAlias.Kind.REGISTRY_NUMBER, value=number)
        if survivor is None:
            raise Http404
        return redirect("registry:profile", registry_number=survivor.registry_number, permanent=True)
    context = {
        "worker": worker,
        "admissions": selectors.worker_admissions(worker=worker),
        "workplaces": selectors.worker_public_workplaces(worker=worker),
        "watching": saved_searches.is_watching(user=request.user, worker=worker),
    }
    return render(request, "registry/profile.html", context)
