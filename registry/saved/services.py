"""Saved searches and watched workers, and the daily digest that reports what changed.

The digest is safe to run twice, and twice at once: each user's saved searches and watches are
locked (skip_locked, so a concurrent run passes them by instead of waiting and re-sending), and the
"already reported" marks move forward in the same transaction that decides to send the e-mail.
The e-mail itself leaves only after that transaction commits.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from accounts import emails

from ..models import AdmissionStatus, MedicalWorker, SavedSearch, WatchedWorker
from ..search.engine import SearchForm, worker_search

logger = logging.getLogger(__name__)

MAX_SAVED_PER_USER = 20
MAX_WATCHED_PER_USER = 200
DIGEST_NAMES_LIMIT = 20
# Presentation, not the contract: which page the user was on says nothing about what to watch.
NOT_SAVED_PARAMS = frozenset({"page", "per_page", "sort"})
# Labels of the search form where the form's own label is too short to name the field alone.
FIELD_NAMES = {"registered_to": "Включён в регистр по"}


class SavedSearchError(Exception):
    """A refusal tied to one input (`field`), with a message that names it."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


def _lock_user(user) -> None:
    # Serializes one user's "count, then insert" so two tabs cannot both slip under the limit.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def search_params_clean(querydict: QueryDict) -> dict[str, str]:
    """The search parameters worth saving, validated by the search form; raises SavedSearchError."""
    form = SearchForm(querydict)
    if not form.is_valid():
        name, errors = next(iter(form.errors.items()))
        message = str(errors[0])
        if name in form.fields:
            label = FIELD_NAMES.get(name, form.fields[name].label)
            if not message.startswith(f"{label}:"):
                message = f"{label}: {message}"
        raise SavedSearchError(message, field=name if name != "__all__" else "query")
    params = {}
    for name in form.fields:
        if name in NOT_SAVED_PARAMS:
            continue
        value = (querydict.get(name) or "").strip()
        if value:
            params[name] = value
    if not params:
        raise SavedSearchError("Параметры поиска: задайте хотя бы одно условие, иначе сохранять нечего.", field="query")
    return params


def saved_search_create(*, user, name: str, querydict: QueryDict) -> SavedSearch:
    """Save the current search under a name; new workers from now on are what the digest reports."""
    name = (name or "").strip()
    if not name:
        raise SavedSearchError("Название: укажите, как назвать поиск.", field="name")
    if len(name) > 100:
        raise SavedSearchError("Название: не длиннее 100 символов.", field="name")
    params = search_params_clean(querydict)
    with transaction.atomic():
        _lock_user(user)
        if SavedSearch.objects.filter(user=user, name=name).exists():
            raise SavedSearchError(f"Название: поиск «{name}» уже сохранён, выберите другое.", field="name")
        if SavedSearch.objects.filter(user=user).count() >= MAX_SAVED_PER_USER:
            raise SavedSearchError(
                f"Название: можно сохранить не больше {MAX_SAVED_PER_USER} поисков, удалите ненужные.", field="name"
            )
        # Workers already in the register are not "new": the first digest starts from here.
        seen = MedicalWorker.objects.aggregate(m=Max("id"))["m"] or 0
        try:
            with transaction.atomic():
                return SavedSearch.objects.create(user=user, name=name, params=params, last_seen_max_id=seen)
        except IntegrityError:  # the unique (user, name) constraint, if a race got past the check
            raise SavedSearchError(f"Название: поиск «{name}» уже сохранён, выберите другое.", field="name") from None


def saved_search_delete(*, saved_search: SavedSearch) -> None:
    saved_search.delete()


def saved_search_set_notify(*, saved_search: SavedSearch, notify: bool) -> SavedSearch:
    """Turn notifications on or off; turning them on starts from now, not from the last digest."""
    with transaction.atomic():
        locked = SavedSearch.objects.select_for_update().get(pk=saved_search.pk)
        if locked.notify == notify:
            return locked
        locked.notify = notify
        fields = ["notify"]
        if notify:
            locked.last_seen_max_id = MedicalWorker.objects.aggregate(m=Max("id"))["m"] or 0
            fields.append("last_seen_max_id")
        locked.save(update_fields=fields)
        return locked


def watch_add(*, user, worker: MedicalWorker) -> WatchedWorker:
    """Follow a worker's admission status; the current status is the baseline, not a change."""
    with transaction.atomic():
        _lock_user(user)
        existing = WatchedWorker.objects.filter(user=user, worker=worker).first()
        if existing is not None:
            return existing
        if WatchedWorker.objects.filter(user=user).count() >= MAX_WATCHED_PER_USER:
            raise SavedSearchError(
                f"Можно следить не больше чем за {MAX_WATCHED_PER_USER} специалистами.", field="worker"
            )
        return WatchedWorker.objects.create(user=user, worker=worker, last_status=worker.admission_status)


def watch_remove(*, user, worker: MedicalWorker) -> bool:
    return WatchedWorker.objects.filter(user=user, worker=worker).delete()[0] > 0


def is_watching(*, user, worker: MedicalWorker) -> bool:
    return bool(user.is_authenticated) and WatchedWorker.objects.filter(user=user, worker=worker).exists()


# --- The daily digest --------------------------------------------------------------------------


@dataclass
class _SearchNews:
    search: SavedSearch
    names: list[str]
    total: int


@dataclass
class _Digest:
    searches: list[_SearchNews] = field(default_factory=list)
    statuses: list[tuple[MedicalWorker, str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.searches or self.statuses)


def saved_search_digest_run(*, today: dt.date | None = None) -> int:
    """Send each user one e-mail about new matches of their saved searches and status changes of
    the workers they watch; returns the number of e-mails sent. Running it again sends nothing
    until something else changes."""
    today = today or timezone.localdate()
    # One upper bound for the whole run: a worker added while the run goes on is reported next time,
    # never twice. (Ids are the order of insertion; a registry import commits in one transaction.)
    ceiling = MedicalWorker.objects.aggregate(m=Max("id"))["m"] or 0
    user_ids = set(SavedSearch.objects.filter(notify=True).values_list("user_id", flat=True)) | set(
        WatchedWorker.objects.values_list("user_id", flat=True)
    )
    sent = 0
    for user_id in sorted(user_ids):
        if _digest_user(user_id=user_id, ceiling=ceiling, today=today):
            sent += 1
    return sent


def _digest_user(*, user_id: int, ceiling: int, today: dt.date) -> bool:
    now = timezone.now()
    with transaction.atomic():
        searches = list(
            SavedSearch.objects.select_for_update(skip_locked=True).filter(user_id=user_id, notify=True).order_by("id")
        )
        watches = list(
            WatchedWorker.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(user_id=user_id)
            .select_related("worker")
            .order_by("id")
        )
        digest = _Digest()
        for search in searches:
            news = _search_news(search, ceiling=ceiling)
            if news is not None:
                digest.searches.append(news)
            search.last_seen_max_id = max(search.last_seen_max_id, ceiling)
            search.last_checked_at = now
            search.save(update_fields=["last_seen_max_id", "last_checked_at"])
        for watch in watches:
            current = watch.worker.admission_status
            if current != watch.last_status:
                digest.statuses.append((watch.worker, watch.last_status, current))
                watch.last_status = current
                watch.save(update_fields=["last_status"])
        if not digest:
            return False
        user = get_user_model().objects.only("email").get(pk=user_id)
        if not user.email:
            # Nowhere to send; the marks still move so that adding an address later is not a flood.
            return False
        emails.email_send(
            to=user.email,
            template="registry/emails/saved_digest",
            context=_digest_context(digest, today=today),
            subject_suffix="",
        )
        return True


def _search_news(search: SavedSearch, *, ceiling: int) -> _SearchNews | None:
    if search.last_seen_max_id >= ceiling:
        return None
    form = SearchForm(QueryDict(urlencode(search.params)))
    if not form.is_valid():
        # A directory code was retired since the search was saved; the search page shows why.
        logger.warning("saved search %s no longer valid: %s", search.pk, form.errors.as_json())
        return None
    result = worker_search(form.cleaned_data)
    qs = result.queryset
    if result.corrected:
        return None  # "similar" names are a hint on the page, not news worth an e-mail
    new = qs.filter(id__gt=search.last_seen_max_id, id__lte=ceiling).order_by("id")
    total = new.count()
    if not total:
        return None
    first = new.select_related(None).only("id", "last_name", "first_name", "middle_name")[:DIGEST_NAMES_LIMIT]
    names = [w.full_name for w in first]
    return _SearchNews(search=search, names=names, total=total)


def _digest_context(digest: _Digest, *, today: dt.date) -> dict:
    """What the digest templates (registry/emails/saved_digest) show: names and absolute links."""
    site = settings.SITE_URL.rstrip("/")
    searches = [
        {
            "name": news.search.name,
            "total": news.total,
            "names": news.names,
            "more": news.total - len(news.names),
            "url": f"{site}{reverse('registry:search')}?{news.search.query_string()}",
        }
        for news in digest.searches
    ]
    statuses = [
        {
            "name": worker.full_name,
            "old": AdmissionStatus(old).label,
            "new": AdmissionStatus(new).label,
            "url": site + reverse("registry:profile", args=[worker.registry_number]),
        }
        for worker, old, new in digest.statuses
    ]
    return {
        "today": today,
        "searches": searches,
        "statuses": statuses,
        "settings_url": site + reverse("registry:saved"),
    }
