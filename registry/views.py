"""The public profile of a worker: the professional record only. No login; protected data never shown."""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from core import validators

from . import selectors
from .models import MedicalWorker
from .saved import services as saved_searches


@require_GET
def profile(request, registry_number: str):
    worker = get_object_or_404(
        MedicalWorker.objects.select_related("primary_specialty", "region", "category"),
        registry_number=registry_number if validators.is_digits(registry_number, length=10) else "-",
    )
    context = {
        "worker": worker,
        "admissions": selectors.worker_admissions(worker=worker),
        "workplaces": selectors.worker_public_workplaces(worker=worker),
        "watching": saved_searches.is_watching(user=request.user, worker=worker),
    }
    return render(request, "registry/profile.html", context)
