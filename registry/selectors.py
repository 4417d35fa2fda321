"""Read-side queries shared by views, admin and the API."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from html import escape

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import (
    ADMISSION_STATUS_RANK,
    AdmissionDocument,
    AdmissionStatus,
    CategoryAssignment,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    QualificationCategory,
    Region,
    Specialty,
    WorkerAlias,
)

STATS_CACHE_SECONDS = 600

# The worker columns a results row shows (registry.search.tables.WorkerTable.body_html): a results page loads
# these and nothing else, so protected fields never even reach the public view's memory.
RESULT_ROW_FIELDS = (
    "id",
    "registry_number",
    "last_name",
    "first_name",
    "middle_name",
    "search_name",
    "admission_status",
    "admission_valid_until",
    "registered_on",
    "primary_specialty",
    "region",
    "category",
)
DIRECTORY_LABELS_SECONDS = 300


DIRECTORY_LABELS_KEY = "registry:directory-labels:html"
# Everything cached from the directories; emptied whenever an entry is saved, deleted or loaded.
DIRECTORY_CACHE_KEYS = (
    DIRECTORY_LABELS_KEY,
    "registry:search-directories",
    "registry:specialty-words:v2",
    *(f"registry:directory-order:{name}" for name in ("specialty", "region", "qualificationcategory")),
)


def directories_changed(**_signal) -> None:
    cache.delete_many(DIRECTORY_CACHE_KEYS)


def directory_order(*, model, key_order: tuple[str, ...]) -> list[int]:
    """Ids of a directory's entries in its display order (cached like the labels)."""
    key = f"registry:directory-order:{model._meta.model_name}"
    ids = cache.get(key)
    if ids is None:
        ids = list(model.objects.order_by(*key_order).values_list("id", flat=True))
        cache.set(key, ids, DIRECTORY_LABELS_SECONDS)
    return ids


def directory_labels() -> dict[str, dict[int, str]]:
    """Names of specialties, regions and categories by id, HTML-escaped, as the results table writes
    them (cached).

    One cache read instead of three joins and a hundred related instances on every results page.
    Inactive entries too: workers may still refer to them. Emptied by directories_changed.
    """
    labels = cache.get(DIRECTORY_LABELS_KEY)
    if labels is None:
        labels = {
            "specialty": {pk: escape(name) for pk, name in Specialty.objects.values_list("id", "name")},
            "region": {pk: escape(name) for pk, name in Region.objects.values_list("id", "name")},
            "category": {
                pk: escape(MedicalWorker.category_label(name))
                for pk, name in QualificationCategory.objects.values_list("id", "name")
            },
        }
        cache.set(DIRECTORY_LABELS_KEY, labels, DIRECTORY_LABELS_SECONDS)
    return labels


def registry_stats() -> dict[str, int]:
    """Headline counts for the landing page, cached: exact counts over millions of rows are not free."""
    stats = cache.get("registry:stats")
    if stats is None:
        stats = {
            "workers": MedicalWorker.objects.count(),
            "organizations": MedicalOrganization.objects.filter(status=MedicalOrganization.Status.ACTIVE).count(),
            "admitted": MedicalWorker.objects.filter(
                admission_status__in=[AdmissionStatus.ACTIVE, AdmissionStatus.EXPIRING]
            ).count(),
            "regions": Region.objects.filter(workers__isnull=False).distinct().count(),
        }
        cache.set("registry:stats", stats, STATS_CACHE_SECONDS)
    return stats


@dataclass(frozen=True)
class SpecialtyAdmission:
    specialty: Specialty
    status: AdmissionStatus
    valid_until: dt.date | None
    document: AdmissionDocument | None


def best_document(*, documents, today: dt.date) -> AdmissionDocument | None:
    """The document that gives the best admission: best status first, then the latest expiry."""
    documents = list(documents)
    if not documents:
        return None
    return min(
        documents,
        key=lambda d: (ADMISSION_STATUS_RANK[d.admission_status(today)], -d.valid_until.toordinal()),
    )


def worker_admissions(*, worker: MedicalWorker, today: dt.date | None = None) -> list[SpecialtyAdmission]:
    """Admission status per specialty, derived from the worker's documents (one query)."""
    today = today or timezone.localdate()
    by_specialty: dict[int, list[AdmissionDocument]] = {}
    for doc in worker.admission_documents.select_related("specialty", "accreditation_kind"):
        by_specialty.setdefault(doc.specialty_id, []).append(doc)
    result = []
    for docs in by_specialty.values():
        best = best_document(documents=docs, today=today)
        if best is None:  # never: each group holds at least one document
            continue
        result.append(SpecialtyAdmission(best.specialty, best.admission_status(today), best.valid_until, best))
    result.sort(key=lambda a: (ADMISSION_STATUS_RANK[a.status], a.specialty.name))
    return result


def worker_public_workplaces(*, worker: MedicalWorker):
    """Current posts with the organization's public contacts (never the worker's own)."""

    return (
        Employment.objects.filter(worker=worker, ended_on__isnull=True)
        .select_related("organization", "organization__region", "position", "specialty")
        .order_by("kind", "-rate")
    )


def search_directories_lazy() -> dict:
    """The same choices as callables: the template calls them only when its cached <select> fragment
    has expired, so a search page does not unpickle the directories on every request."""
    return {name: functools.partial(_search_directory, name) for name in ("specialties", "regions", "categories")}


def _search_directory(name: str) -> list:
    return search_directories()[name]


def search_directories() -> dict:
    """Choices for the advanced search form (small directories, cached)."""
    data = cache.get("registry:search-directories")
    if data is None:
        data = {
            "specialties": list(Specialty.objects.filter(is_active=True).order_by("name").only("code", "name")),
            "regions": list(Region.objects.filter(is_active=True).order_by("code").only("code", "name")),
            "categories": list(QualificationCategory.objects.filter(is_active=True).only("code", "name")),
        }
        cache.set("registry:search-directories", data, 300)
    return data


# --- Conditions the data-quality checks, the audit and the monitoring share ----------------------------


def current_employment_condition(*, today: dt.date) -> Q:
    """Employments still running on `today`."""
    return Q(ended_on__isnull=True) | Q(ended_on__gte=today)


def stale_status_condition(*, today: dt.date) -> Q:
    """Workers shown as admitted whose document has run out (the nightly status move has not come by)."""
    return Q(admission_status__in=[AdmissionStatus.ACTIVE, AdmissionStatus.EXPIRING], admission_valid_until__lt=today)


def shared_document_numbers() -> QuerySet:
    """Admission document numbers held by more than one worker (kinds differ; (kind, number) is unique)."""
    return (
        AdmissionDocument.objects.values("number")
        .annotate(workers=Count("worker_id", distinct=True))
        .filter(workers__gt=1)
        .values("number")
    )


# --- A worker's current records (the cabinet, corrections, extracts) ------------------------------------


def worker_main_employment(*, worker: MedicalWorker) -> Employment | None:
    """The job that counts as the worker's main one today: a main post first, then the larger rate,
    then the latest start."""
    today = timezone.localdate()
    current = [
        e
        for e in worker.employments.select_related("organization", "specialty")
        if e.ended_on is None or e.ended_on >= today
    ]
    current.sort(key=lambda e: (e.kind != Employment.Kind.MAIN, -e.rate, -e.started_on.toordinal()))
    return current[0] if current else None


def worker_current_admission(*, worker: MedicalWorker, documents=None) -> AdmissionDocument | None:
    """The admission document that decides the worker's status (as worker_refresh_derived derives it)."""
    documents = list(worker.admission_documents.all()) if documents is None else documents
    relevant = [d for d in documents if d.specialty_id == worker.primary_specialty_id] or documents
    return best_document(documents=relevant, today=timezone.localdate())


def worker_current_category(*, worker: MedicalWorker) -> CategoryAssignment | None:
    return (
        worker.category_assignments.filter(valid_until__gte=timezone.localdate())
        .select_related("category")
        .order_by("-awarded_on")
        .first()
    )


# --- Identifiers of records merged away -----------------------------------------------------------------


def worker_by_alias(*, kind: str, value: str) -> MedicalWorker | None:
    """The survivor that took over this SNILS, INN or registry number in a merge (WorkerAlias), if any."""
    alias = WorkerAlias.objects.filter(kind=kind, value=value).select_related("worker").first()
    return alias.worker if alias is not None else None
