"""Public register search: the GET parameters, their validation and the query.

The query reads only the worker table and its denormalized columns (see registry.models), so a
filtered, sorted page is an index walk that stops at the page size, even at 3 million rows.
Text: every word typed must be the start of a word of the normalized full name (lower case,
ё→е), in any order ("иван мар" finds "Иванова Мария"). LIKE 'x%' / '% x%' are served by the
pg_trgm GIN index on PostgreSQL; SQLite gets the same results, scanned.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection
from django.db.models import Q, QuerySet

from . import validators
from .models import AdmissionStatus, MedicalOrganization, MedicalWorker, QualificationCategory, Region, Specialty

PER_PAGE_CHOICES = (10, 25, 50, 100)
MAX_PAGE = 100  # deeper pages: refine the query (no OFFSET scans over millions of rows)
COUNT_CAP = 10_000
MAX_TOKENS = 5

PUBLIC_STATUSES = [
    (AdmissionStatus.ACTIVE, "Действует"),
    (AdmissionStatus.EXPIRING, "Истекает"),
    (AdmissionStatus.EXPIRED, "Истёк"),
    (AdmissionStatus.SUSPENDED, "Приостановлен"),
    (AdmissionStatus.NONE, "Нет документа"),
]
_WORD = re.compile(r"[0-9a-zа-я-]+")


def query_tokens(text: str) -> list[str]:
    """Normalized words of the query; punctuation and SQL/LIKE metacharacters are dropped."""
    return _WORD.findall(validators.normalize_person_name(text or ""))[:MAX_TOKENS]


class _CodeChoiceField(forms.CharField):
    """A directory code given in the URL; unknown codes are an error that names the field."""

    def __init__(self, *, model, label, **kwargs):
        super().__init__(label=label, required=False, max_length=32, **kwargs)
        self.model = model

    def clean(self, value):
        code = super().clean(value).strip()
        if not code:
            return None
        entry = self.model.objects.filter(code=code).first()
        if entry is None:
            raise forms.ValidationError(f"{self.label}: неизвестный код «{code}».")
        return entry


class SearchForm(forms.Form):
    """The GET parameters are the contract: URLs can be bookmarked and shared."""

    q = forms.CharField(label="ФИО", required=False, max_length=200)
    specialty = _CodeChoiceField(model=Specialty, label="Специальность")
    region = _CodeChoiceField(model=Region, label="Регион")
    organization = forms.IntegerField(label="Организация", required=False, min_value=1)
    status = forms.ChoiceField(label="Статус допуска", required=False, choices=[("", "Любой"), *PUBLIC_STATUSES])
    category = _CodeChoiceField(model=QualificationCategory, label="Категория")
    registered_from = forms.DateField(label="Включён в регистр с", required=False)
    registered_to = forms.DateField(label="по", required=False)
    confirmed = forms.BooleanField(label="Только с подтверждёнными документами", required=False)
    sort = forms.CharField(label="Сортировка", required=False, max_length=40)
    per_page = forms.TypedChoiceField(
        label="На странице", required=False, coerce=int, empty_value=25, initial=25,
        choices=[(n, str(n)) for n in PER_PAGE_CHOICES],
    )
    page = forms.IntegerField(label="Страница", required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("per_page", "page", "organization", "status"):
            self.fields[name].error_messages.update(
                {
                    "invalid_choice": f"{self.fields[name].label}: недопустимое значение.",
                    "invalid": f"{self.fields[name].label}: недопустимое значение.",
                    "min_value": f"{self.fields[name].label}: недопустимое значение.",
                }
            )
        for name in ("registered_from", "registered_to"):
            self.fields[name].error_messages["invalid"] = (
                f"{self.fields[name].label}: дата в формате ГГГГ-ММ-ДД или ДД.ММ.ГГГГ."
            )

    def clean_organization(self):
        org_id = self.cleaned_data.get("organization")
        if org_id is None:
            return None
        org = MedicalOrganization.objects.filter(pk=org_id).only("id", "short_name").first()
        if org is None:
            raise forms.ValidationError("Организация: не найдена.")
        return org

    def clean_sort(self):
        from .tables import SORTABLE_COLUMNS

        sort = self.cleaned_data.get("sort", "").strip()
        if sort and sort.lstrip("-") not in SORTABLE_COLUMNS:
            raise forms.ValidationError("Сортировка: по этому столбцу сортировать нельзя.")
        return sort

    def clean_page(self):
        page = self.cleaned_data.get("page") or 1
        return min(page, MAX_PAGE)

    def clean(self):
        data = super().clean()
        start, end = data.get("registered_from"), data.get("registered_to")
        if start and end and start > end:
            self.add_error("registered_to", "Дата включения «по» раньше даты «с»: поменяйте их местами.")
        return data


def _specialty_words() -> list[tuple[int, list[str]]]:
    from django.core.cache import cache

    words = cache.get("registry:specialty-words")
    if words is None:
        words = [
            (pk, _WORD.findall(validators.normalize_person_name(name)))
            for pk, name in Specialty.objects.filter(is_active=True).values_list("pk", "name")
        ]
        cache.set("registry:specialty-words", words, 300)
    return words


def organization_suggest(term: str, limit: int = 10) -> list[MedicalOrganization]:
    """Organizations whose name has a word starting with each typed word (autocomplete)."""
    tokens = query_tokens(term)
    if not tokens or len(tokens[0]) < 2:
        return []
    qs = MedicalOrganization.objects.filter(status=MedicalOrganization.Status.ACTIVE)
    for token in tokens:
        qs = qs.filter(Q(search_name__startswith=token) | Q(search_name__contains=f" {token}"))
    return list(qs.select_related("region").order_by("search_name", "id")[:limit])


def worker_search(params: dict) -> tuple[QuerySet[MedicalWorker], bool]:
    """Workers matching cleaned SearchForm data, sorted; the flag says the typo fallback was used."""
    qs = MedicalWorker.objects.all()
    filters = Q()
    if params.get("specialty"):
        filters &= Q(primary_specialty=params["specialty"])
    if params.get("region"):
        filters &= Q(region=params["region"])
    if params.get("category"):
        filters &= Q(category=params["category"])
    if params.get("status"):
        filters &= Q(admission_status=params["status"])
    if params.get("registered_from"):
        filters &= Q(registered_on__gte=params["registered_from"])
    if params.get("registered_to"):
        filters &= Q(registered_on__lte=params["registered_to"])
    if params.get("confirmed"):
        filters &= Q(has_confirmed_documents=True)
    if params.get("organization"):
        filters &= Q(
            pk__in=params["organization"].employments.filter(ended_on__isnull=True).values("worker_id")
        )
    qs = qs.filter(filters).select_related("primary_specialty", "region", "category")
    order = ("search_name", "id")  # the table re-orders by the chosen column
    tokens = query_tokens(params.get("q", ""))
    if not tokens:
        return qs.order_by(*order), False
    text = Q()
    specialties = _specialty_words()
    for token in tokens:
        word = Q(search_name__startswith=token) | Q(search_name__contains=f" {token}")
        # A word may also name the specialty ("кардиолог", "хирург"): the directory is small, so it is
        # matched in Python and becomes an indexed IN on primary_specialty.
        specialty_ids = [pk for pk, words in specialties if any(w.startswith(token) for w in words)]
        if specialty_ids:
            word |= Q(primary_specialty_id__in=specialty_ids)
        text &= word
    exact = qs.filter(text).order_by(*order)
    if connection.vendor != "postgresql" or exact.exists():
        return exact, False
    # Nothing matched exactly: a small typo still finds the person (pg_trgm similarity).
    phrase = " ".join(tokens)
    # The % operator (trigram_similar) is what the GIN index serves; the similarity() value only orders.
    similar = (
        qs.filter(search_name__trigram_similar=phrase)
        .annotate(similarity=TrigramSimilarity("search_name", phrase))
        .order_by("-similarity", "id")
    )
    return similar, True


def capped_count(qs: QuerySet) -> tuple[int, bool]:
    """Exact up to COUNT_CAP; beyond it only "more than" — an exact count over millions is slow."""
    # Without the ORDER BY: counting needs no ordered index walk (and no similarity sort).
    count = qs.order_by()[: COUNT_CAP + 1].count()
    return min(count, COUNT_CAP), count > COUNT_CAP
