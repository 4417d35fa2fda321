"""The organization cabinet's reads: who acts for which organization, what it may see, its staff list.

Access rule (issue 20): an organization sees a worker's protected data only while the worker is or was
employed there; anything else of another organization is a 404 (never a 403), so its existence does
not leak.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from core import validators
from registry.exports.services import neutralize
from registry.models import AdmissionStatus, Employment, MedicalOrganization, MedicalWorker, Position, Specialty

from .models import OrgMembership

SESSION_KEY = "org_id"

SORTS = {
    "name": ("worker__search_name", "id"),
    "-name": ("-worker__search_name", "-id"),
    "started": ("started_on", "id"),
    "-started": ("-started_on", "-id"),
    "ended": ("ended_on", "id"),
    "-ended": ("-ended_on", "-id"),
    # The worker's admission as copied onto the post (Employment.worker_admission_*): no join to sort.
    "admission": ("worker_admission_valid_until", "id"),
    "-admission": ("-worker_admission_valid_until", "-id"),
}
DEFAULT_SORT = "name"


def memberships_of(*, user) -> list[OrgMembership]:
    """The active memberships of a user, with their organizations, by organization name."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        OrgMembership.objects.filter(user=user, is_active=True, organization__status=MedicalOrganization.Status.ACTIVE)
        .select_related("organization")
        .order_by("organization__short_name", "organization_id")
    )


def membership_for(*, user, organization_id: int | None) -> OrgMembership | None:
    """The user's active membership of this organization, or None."""
    if organization_id is None or not getattr(user, "is_authenticated", False):
        return None
    return (
        OrgMembership.objects.filter(
            user=user,
            organization_id=organization_id,
            is_active=True,
            organization__status=MedicalOrganization.Status.ACTIVE,
        )
        .select_related("organization")
        .first()
    )


def org_can_see_worker(*, organization: MedicalOrganization, worker: MedicalWorker | int) -> bool:
    """True while the worker is or was employed at the organization (employment_org_list_idx)."""
    worker_id = worker if isinstance(worker, int) else worker.pk
    return Employment.objects.filter(organization=organization, worker_id=worker_id).exists()


def worker_by_snils(*, snils: str) -> MedicalWorker | None:
    """A worker of the register by SNILS (digits), with only what the hire form shows: the name and the
    registry number, which the public register shows anyway."""
    return (
        MedicalWorker.objects.only("last_name", "first_name", "middle_name", "registry_number", "snils")
        .filter(snils=snils)
        .first()
    )


def org_worker_or_404(*, organization: MedicalOrganization, worker_id: int) -> MedicalWorker:
    """A worker the organization may see; any other worker is a 404."""
    worker = (
        MedicalWorker.objects.select_related("region", "primary_specialty", "category", "user")
        .filter(pk=worker_id, employments__organization=organization)
        .distinct()
        .first()
    )
    if worker is None:
        raise Http404("Работник не найден")
    return worker


def org_employment_or_404(*, organization: MedicalOrganization, employment_id: int) -> Employment:
    """An employment row of the organization; another organization's row is a 404."""
    employment = (
        Employment.objects.select_related("worker", "position", "specialty")
        .filter(pk=employment_id, organization=organization)
        .first()
    )
    if employment is None:
        raise Http404("Место работы не найдено")
    return employment


def worker_employments_at(*, organization: MedicalOrganization, worker: MedicalWorker) -> list[Employment]:
    """The worker's posts at this organization, current first, then by start date."""
    return list(
        Employment.objects.filter(organization=organization, worker=worker)
        .select_related("position", "specialty")
        .order_by("ended_on", "-started_on", "-id")
    )


@dataclass(frozen=True)
class StaffFilters:
    q: str = ""
    state: str = "current"  # current | past | all
    department: str = ""
    position: int | None = None
    specialty: int | None = None
    admission_status: str = ""
    expiring_within: int | None = None  # 30 | 90 days
    sort: str = DEFAULT_SORT


def org_staff(
    *, organization: MedicalOrganization, filters: StaffFilters | None = None, today: dt.date | None = None
) -> QuerySet[Employment]:
    """The organization's employment rows (current, past or both) with the worker columns the list shows,
    filtered and sorted; one query whatever the page. Walks employment_org_list_idx for the
    organization's rows (20,000 for a large hospital) and joins the workers by primary key."""
    filters = filters or StaffFilters()
    today = today or timezone.localdate()
    qs = Employment.objects.filter(organization=organization)
    if filters.state == "current":
        qs = qs.filter(Q(ended_on__isnull=True) | Q(ended_on__gte=today))
    elif filters.state == "past":
        qs = qs.filter(ended_on__lt=today)
    qs = _search(qs, filters.q)
    if filters.department:
        qs = qs.filter(department=filters.department)
    if filters.position:
        qs = qs.filter(position_id=filters.position)
    if filters.specialty:
        qs = qs.filter(specialty_id=filters.specialty)
    # The worker's admission is read from its copy on the post (kept by database triggers), so these
    # filters are tested on the employment_org_list_idx entry, without joining the workers.
    if filters.admission_status in AdmissionStatus.values:
        qs = qs.filter(worker_admission_status=filters.admission_status)
    if filters.expiring_within:
        qs = qs.filter(
            worker_admission_valid_until__gte=today,
            worker_admission_valid_until__lte=today + dt.timedelta(days=filters.expiring_within),
        )
    order = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    return qs.select_related("worker", "position", "specialty").order_by(*order)


def org_staff_page(*, organization: MedicalOrganization, filters: StaffFilters, number, per_page: int = 25) -> Page:
    """One page of the staff list in three queries: the count, the page's ids, then those rows with their
    workers and directories. The ids come from the employment rows alone whenever the sort and the
    search need no worker column (a sort by a date of the post or by admission; the admission filters
    read the worker's admission copied onto the post): an index-only read of employment_org_list_idx,
    instead of joining all 20,000 posts of a large hospital to their workers."""
    rows = org_staff(organization=organization, filters=filters)
    paginator = Paginator(rows.select_related(None).values_list("id", flat=True), per_page)
    page = paginator.get_page(number)
    ids: list[int] = list(page.object_list)
    found = Employment.objects.select_related("worker", "position", "specialty").in_bulk(ids)
    page.object_list = [found[pk] for pk in ids if pk in found]  # type: ignore[misc]  # ids → their rows
    return page


def _search(qs: QuerySet[Employment], q: str) -> QuerySet[Employment]:
    """By SNILS or registry number (digits), else by name prefix of the normalized name."""
    q = (q or "").strip()[:200]
    if not q:
        return qs
    digits = "".join(ch for ch in q if ch.isdigit())
    if digits and len(digits) == len(q.replace(" ", "").replace("-", "")):
        return qs.filter(Q(worker__snils=digits) | Q(worker__registry_number=digits))
    return qs.filter(worker__search_name__startswith=validators.normalize_person_name(q))


FILTER_CHOICES_SECONDS = 300


def _filter_choices_key(organization_id: int) -> str:
    return f"orgs:filters:{organization_id}"


def org_filter_choices_forget(*, organization_id: int) -> None:
    """After a hire or a transfer: a new department or position shows up in the filters at once."""
    cache.delete(_filter_choices_key(organization_id))


def org_filter_choices(*, organization: MedicalOrganization) -> dict:
    """The departments, positions and specialties of the organization's posts, for the staff list's
    filters. Three DISTINCT reads over the organization's rows; kept in the cache for a few minutes
    (a new department shows up in the filter a little later, the list itself is always current)."""
    key = _filter_choices_key(organization.pk)
    cached = cache.get(key)
    if cached is not None:
        return cached
    rows = Employment.objects.filter(organization=organization)
    choices = {
        "departments": list(
            rows.exclude(department="").order_by("department").values_list("department", flat=True).distinct()[:500]
        ),
        "positions": list(
            Position.objects.filter(id__in=rows.values("position_id")).order_by("name").values_list("id", "name")
        ),
        "specialties": list(
            Specialty.objects.filter(id__in=rows.values("specialty_id")).order_by("name").values_list("id", "name")
        ),
    }
    cache.set(key, choices, FILTER_CHOICES_SECONDS)
    return choices


STAFF_EXPORT_HEADERS = [
    "ФИО",
    "СНИЛС",
    "Регистровый номер",
    "Дата рождения",
    "Должность",
    "Специальность",
    "Подразделение",
    "Ставка",
    "Вид занятости",
    "Дата начала",
    "Дата окончания",
    "Причина увольнения",
    "Статус допуска",
    "Допуск до",
]
STAFF_EXPORT_WIDTHS = (40, 16, 18, 14, 30, 30, 30, 8, 26, 14, 14, 40, 16, 14)
_KINDS = dict(Employment.Kind.choices)
_STATUSES = dict(AdmissionStatus.choices)


def org_staff_rows(queryset: QuerySet[Employment]) -> Iterator[list]:
    """The export rows of a staff list, read in chunks (20,000 rows of a large hospital stream as they
    are read); text cells are neutralized against spreadsheet formulas."""
    columns = (
        "worker__last_name", "worker__first_name", "worker__middle_name", "worker__snils",
        "worker__registry_number", "worker__birth_date", "position__name", "specialty__name", "department",
        "rate", "kind", "started_on", "ended_on", "dismissal_reason", "worker__admission_status",
        "worker__admission_valid_until",
    )  # fmt: skip
    for row in queryset.values_list(*columns).iterator(chunk_size=2000):
        last, first, middle, snils, number, birth, position, specialty, department, rate, kind, *rest = row
        started, ended, reason, status, valid_until = rest
        yield [
            neutralize(" ".join(p for p in (last, first, middle) if p)),
            validators.format_snils(snils),
            validators.format_registry_number(number),
            birth,
            neutralize(position),
            neutralize(specialty or ""),
            neutralize(department),
            str(rate).replace(".", ","),
            _KINDS.get(kind, kind),
            started,
            ended,
            neutralize(reason),
            _STATUSES.get(status, status),
            valid_until,
        ]
