"""Reads for the API and the FHIR view; list queries are one SELECT with their joins. Parameters come
cleaned by the validation layer (api.parameters, registry.search.params)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from registry.models import (
    AdmissionDocument,
    Employment,
    MedicalOrganization,
    MedicalWorker,
    OrganizationLicense,
    WorkerAlias,
    WorkerTombstone,
)
from registry.search import engine as search
from registry.search import params
from registry.selectors import worker_by_alias

from .pagination import keyset_after
from .parameters import REGISTRY_NUMBER

WORKER_RELATED = ("primary_specialty", "region", "category")
FEED_START = [dt.datetime(1, 1, 1, tzinfo=dt.UTC), 0]


def worker_search(
    *, values: dict[str, Any], name_ordered: bool = False
) -> tuple[QuerySet[MedicalWorker] | search.NameOrderedResult, bool]:
    """The public register search (registry.search) over cleaned parameters; (rows, typo-tolerant match used).

    `name_ordered`: the caller pages in name order and filters nothing further, so a name search may
    come back as the fast self-paging source (registry.search.engine.NameOrderedResult, see KeysetPagination).
    """
    result = search.worker_search(values)
    if name_ordered and result.by_name is not None:
        # Name order through the name indexes (the page the public search uses), not LIKE over 3M rows.
        return result.by_name, bool(result.corrected)
    return result.queryset.select_related(*WORKER_RELATED), bool(result.corrected)


def worker_changes_page(
    *, since: dt.datetime | None, after: list | None, size: int
) -> tuple[list[MedicalWorker | WorkerTombstone], list, bool]:
    """Workers changed and workers removed (tombstones) at or after `since`, oldest first, after the
    position `after` = [worker updated_at, id, tombstone created_at, id]. Returns (rows, the position after
    the last row, whether more rows follow). Two index range scans, merged here."""
    start = [since or FEED_START[0], 0]
    position = list(after) if after else [*start, *start]
    workers = MedicalWorker.objects.select_related(*WORKER_RELATED).order_by("updated_at", "id")
    tombstones = WorkerTombstone.objects.select_related("merged_into").order_by("created_at", "id")
    if since is not None:
        workers = workers.filter(updated_at__gte=since)
        tombstones = tombstones.filter(created_at__gte=since)
    workers = workers.filter(keyset_after(("updated_at", "id"), position[:2]))
    tombstones = tombstones.filter(keyset_after(("created_at", "id"), position[2:]))
    merged = sorted(
        [(w.updated_at, 0, w.id, w) for w in workers[: size + 1]]
        + [(t.created_at, 1, t.id, t) for t in tombstones[: size + 1]],
        key=lambda item: item[:3],
    )
    rows = merged[:size]
    for moment, kind, pk, _ in rows:
        position[2 * kind : 2 * kind + 2] = [moment, pk]
    return [row for *_, row in rows], position, len(merged) > size


def worker_by_number(*, registry_number: str) -> MedicalWorker | None:
    """The worker with this registry number in any printed form («МР 000000001-3»), or the record that took
    it over in a merge, or None."""
    number = params.clean_path(REGISTRY_NUMBER, registry_number)
    if number is None:
        return None
    worker = MedicalWorker.objects.select_related(*WORKER_RELATED).filter(registry_number=number).first()
    if worker is None:
        # A record merged into another: the survivor answers for its number (and shows its own).
        survivor = worker_by_alias(kind=WorkerAlias.Kind.REGISTRY_NUMBER, value=number)
        if survivor is not None:
            worker = MedicalWorker.objects.select_related(*WORKER_RELATED).get(pk=survivor.pk)
    return worker


def worker_current_employments(*, worker_ids) -> QuerySet[Employment]:
    return (
        Employment.objects.filter(worker_id__in=worker_ids, ended_on__isnull=True)
        .select_related("organization", "organization__region", "position", "specialty")
        .order_by("worker_id", "kind", "-rate", "id")
    )


def worker_documents(*, worker: MedicalWorker) -> QuerySet[AdmissionDocument]:
    return worker.admission_documents.select_related("specialty", "accreditation_kind").order_by("-valid_until", "id")


def organization_search(*, values: dict[str, Any]) -> QuerySet[MedicalOrganization]:
    qs = MedicalOrganization.objects.select_related("org_type", "region")
    for token in search.query_tokens(values.get("q", "")):
        qs = qs.filter(Q(search_name__startswith=token) | Q(search_name__contains=f" {token}"))
    if values.get("region"):
        qs = qs.filter(region=values["region"])
    if values.get("status"):
        qs = qs.filter(status=values["status"])
    if values.get("ogrn"):
        qs = qs.filter(ogrn=values["ogrn"])
    if values.get("inn"):
        qs = qs.filter(inn=values["inn"])
    return qs


def organizations_changed_since(*, since: dt.datetime | None) -> QuerySet[MedicalOrganization]:
    qs = MedicalOrganization.objects.select_related("org_type", "region")
    return qs.filter(updated_at__gte=since) if since else qs


def licenses(*, values: dict[str, Any]) -> QuerySet[OrganizationLicense]:
    qs = OrganizationLicense.objects.all()
    if values.get("organization"):
        qs = qs.filter(organization_id=values["organization"])
    if values.get("status"):
        qs = qs.filter(status=values["status"])
    if values.get("updated_since"):
        qs = qs.filter(updated_at__gte=values["updated_since"])
    return qs
