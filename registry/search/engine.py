"""Public register search: the GET parameters, their validation and the query.

The query reads only the worker table and its denormalized columns (see registry.models), so a
filtered, sorted page is an index walk that stops at the page size, even at 3 million rows.
Text: every word typed must be the start of a word of the normalized full name (lower case,
ё→е), in any order ("иван мар" finds "Иванова Мария"). On PostgreSQL a name search goes through
the search dictionary and the word-position indexes (NameOrderedResult); a large surname is split
by another typed word into index ranges of the name (search_name is in the "C" collation, so a
prefix of it is a range: _surname_branches). Other orders page ids first over indexes that carry
the filter columns (IdsFirstResult, DirectoryOrderedResult). SQLite, the embedded default, gets the
same results from the plain queryset, scanned.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django import forms
from django.core.cache import cache
from django.db import connection, connections, models
from django.db.models import BooleanField, F, Func, IntegerField, Q, QuerySet, Value
from django.db.models.expressions import RawSQL

from core import replicas, validators

from .. import selectors
from ..models import (
    Employment,
    MedicalOrganization,
    MedicalWorker,
    QualificationCategory,
    Region,
    SearchWord,
    Specialty,
)
from . import params as request_params
from .tables import SORTABLE_COLUMNS, WorkerTable

PER_PAGE_CHOICES = request_params.PER_PAGE_CHOICES
MAX_PAGE = 100  # deeper pages: refine the query (no OFFSET scans over millions of rows)
COUNT_CAP = 10_000
MAX_TOKENS = 5
# A typed word that starts more dictionary words than this is too short to drive the name-ordered
# search (e.g. «а»); the ordered walk over the whole name index finds its matches quickly instead.
DRIVER_MAX_WORDS = 40
WORD_POSITIONS = (1, 2, 3)
# The predicate of the partial index worker_long_name_idx, spelled exactly so the planner can use it.
# (Not LIKE '% % % %': the trigram index would serve that, badly.)
LONG_NAME = Q(
    RawSQL(
        """array_length(string_to_array("registry_medicalworker"."search_name", ' '), 1) > 3""",
        (),
        output_field=BooleanField(),
    )
)

PUBLIC_STATUSES = request_params.PUBLIC_STATUSES
_WORD = re.compile(r"[0-9a-zа-я-]+")


def query_tokens(text: str) -> list[str]:
    """Normalized words of the query; punctuation and SQL/LIKE metacharacters are dropped."""
    return _WORD.findall(validators.normalize_person_name(text or ""))[:MAX_TOKENS]


def _field(name: str, **kwargs) -> request_params.ParamField:
    return request_params.ParamField(request_params.SEARCH_PAGE[name], **kwargs)


class SearchForm(forms.Form):
    """The GET parameters are the contract: URLs can be bookmarked and shared. Every field is validated by
    the shared layer (registry.search.params), so the page refuses what the API refuses, naming the field."""

    q = _field("q", empty_value="")
    specialty = _field("specialty")
    region = _field("region")
    organization = _field("organization")
    status = _field("status", empty_value="", choices=[("", "Любой"), *PUBLIC_STATUSES])
    category = _field("category")
    registered_from = _field("registered_from")
    registered_to = _field("registered_to")
    confirmed = _field("confirmed", empty_value=False)
    sort = _field("sort", empty_value="")
    per_page = _field("per_page", empty_value="25", choices=[(n, str(n)) for n in PER_PAGE_CHOICES])
    page = _field("page")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["per_page"].initial = 25

    def clean_organization(self):
        org_id = self.cleaned_data.get("organization")
        if org_id is None:
            return None
        org = MedicalOrganization.objects.filter(pk=org_id).only("id", "short_name").first()
        if org is None:
            raise forms.ValidationError("Организация: не найдена.")
        return org

    def clean_sort(self):

        sort = self.cleaned_data.get("sort", "").strip()
        if sort and sort.lstrip("-") not in SORTABLE_COLUMNS:
            raise forms.ValidationError("Сортировка: по этому столбцу сортировать нельзя.")
        return sort

    def clean_page(self):
        page = self.cleaned_data.get("page") or 1
        return min(page, MAX_PAGE)

    def clean_per_page(self):
        return int(self.cleaned_data.get("per_page") or 25)

    def clean(self):
        data = super().clean()
        for name, message in request_params.repeated_errors(self.data, self.fields, self.fields).items():
            self.add_error(name, message)
        start, end = data.get("registered_from"), data.get("registered_to")
        if start and end and start > end:
            self.add_error("registered_to", "Дата включения «по» раньше даты «с»: поменяйте их местами.")
        return data


def _specialty_words() -> list[tuple[str, int]]:
    """(word, specialty id) for every word of an active specialty's name, sorted (cached)."""
    words = cache.get("registry:specialty-words:v2")
    if words is None:
        words = sorted(
            {
                (word, pk)
                for pk, name in Specialty.objects.filter(is_active=True).values_list("pk", "name")
                for word in _WORD.findall(validators.normalize_person_name(name))
            }
        )
        cache.set("registry:specialty-words:v2", words, 300)
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


@dataclass(frozen=True)
class SearchResult:
    """Workers matching the search, sorted by name.

    `queryset` is the plain ORM form (exports, digests, other sort orders). `by_name`, when set, is the
    fast PostgreSQL form of the same rows in the same order (see NameOrderedResult). `corrected` is the
    phrase actually searched when nothing matched what was typed and the typo fallback found similar words.
    """

    queryset: QuerySet[MedicalWorker]
    corrected: str = ""
    by_name: NameOrderedResult | None = None


def _read_connection():
    """The connection the register is read from now: a replica during a public request or export
    (core.replicas), else the primary. Raw SQL below goes through it; the ORM is routed alike."""
    return connections[replicas.read_alias(MedicalWorker)]


def worker_search(params: dict) -> SearchResult:
    """Workers matching cleaned SearchForm data, sorted by name (the table re-orders by its column)."""
    qs = MedicalWorker.objects.filter(_filters(params)).select_related("primary_specialty", "region", "category")
    order = ("search_name", "id")
    # A registry number in any printed form («МР 000000001-3») finds that worker.
    number = request_params.registry_number_in(params.get("q", ""))
    if number:
        return SearchResult(qs.filter(registry_number=number).order_by(*order))
    tokens = query_tokens(params.get("q", ""))
    if not tokens:
        return SearchResult(qs.order_by(*order))
    specialties = SpecialtyWords()
    if connection.vendor != "postgresql":
        return SearchResult(qs.filter(_text_match(tokens, specialties)).order_by(*order))
    by_name = NameOrderedResult.build(qs, tokens, specialties)
    if by_name is None or not by_name.empty():
        return SearchResult(qs.filter(_text_match(tokens, specialties)).order_by(*order), by_name=by_name)
    # Nothing matched: a small typo still finds the person. Each typed word that starts no known
    # word is replaced by the nearest word of the dictionary (pg_trgm), then the exact search reruns.
    corrected = search_words_correct(tokens)
    exact = qs.filter(_text_match(corrected, specialties)).order_by(*order)
    if corrected == tokens:
        return SearchResult(exact, by_name=by_name)
    by_name = NameOrderedResult.build(qs, corrected, specialties)
    return SearchResult(exact, corrected=" ".join(corrected), by_name=by_name)


class _WordAt(Func):
    """split_part(search_name, ' ', n): the indexed expression of worker_word<n>_idx (migrations 0006, 0009)."""

    function = "split_part"
    output_field = models.CharField()

    def __init__(self, position: int):
        super().__init__(F("search_name"), Value(" "), Value(position, output_field=IntegerField()))


# What each name branch selects: the key of the name order. A name search sorted by another column adds
# that column when the word indexes carry it (INCLUDE, migration 0009): NameSortedResult. Only then: the
# small index of long names carries nothing, so an added column would send its branch to the table.
NAME_KEY = ("search_name", "id")


class NameOrderedResult(Sequence):
    """The matches of a name search in name order, as a lazily sliced sequence (PostgreSQL).

    One typed word drives the query: the one whose dictionary words (SearchWord) cover the fewest
    workers. Each exact word it starts, at each position in the name, is one branch: an index scan on
    (split_part(search_name, ' ', n), search_name, id) with the other words and the filters as
    conditions; the branches come out in name order, PostgreSQL merges them (Merge Append) and stops at
    the page, so a page costs about the same at 3 million rows as at 3 thousand. Rows are fetched by id
    for the page only. Names of more than three words add one branch over a small partial index.
    """

    def __init__(self, branches: QuerySet | None):
        self._branches = branches  # None: some typed word starts no name in the dictionary
        self._compiled: tuple[str, tuple] | None = None
        self._count: tuple[int, bool] | None = None if branches is not None else (0, False)

    @classmethod
    def build(
        cls,
        qs: QuerySet[MedicalWorker],
        tokens: list[str],
        specialties: SpecialtyWords | None = None,
        columns: tuple[str, ...] = NAME_KEY,
    ) -> NameOrderedResult | None:
        """None when no typed word is a good driver (too short, or all name a specialty). Each branch
        selects `columns`, the name key first."""
        specialties = specialties or SpecialtyWords()
        candidates = [t for t in tokens if not specialties.ids(t) and "-" not in t]
        if not candidates:
            return None
        words = _dictionary_words(tokens)
        for token in candidates:
            if not words[token]:
                return cls(None)  # a word nobody's name has
        driver = min(candidates, key=lambda t: sum(n for _, _, n in words[t]))
        if len(words[driver]) > DRIVER_MAX_WORDS:
            return None
        base = _other_words_filter(qs, tokens, driver, specialties)
        split = _split_token(tokens, driver, words, specialties)
        earlier = Q()
        branches = []
        for position in WORD_POSITIONS:
            column = f"word{position}"
            for word, at, workers in words[driver]:
                if at == position:
                    # A row whose earlier word also starts with the driver is in that branch already.
                    branches.extend(_word_branches(base.filter(earlier), column, word, workers, split, columns))
            earlier &= ~Q(**{f"{column}__startswith": driver})
        # Words after the third (rare): their own small branch, over the partial index of such names.
        long_names = base.filter(earlier, LONG_NAME, _word_start(driver))
        branches.append(long_names.values_list(*columns))
        union = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
        result = cls(union)
        result._inputs = (qs, tokens, specialties)
        return result

    def with_columns(self, *extra: str) -> NameOrderedResult:
        """The same matches, each branch also selecting `extra` columns."""
        if self._branches is None:
            return self
        qs, tokens, specialties = self._inputs
        return NameOrderedResult.build(qs, tokens, specialties, columns=(*NAME_KEY, *extra))

    def __getitem__(self, key):
        if not isinstance(key, slice):
            return self[key : key + 1][0]
        return self.page(key, "{branches} ORDER BY 1, 2", id_column=1)

    def page(self, key: slice, query: str, *, id_column: int) -> list[MedicalWorker]:
        """The rows of the `key` slice of `query`, an ordered SELECT over "{branches}" (this result's SQL)."""
        if self._branches is None:
            return []
        start, stop = key.start or 0, key.stop
        sql, params = self._sql()
        page = f" LIMIT {int(stop) - int(start)}" if stop is not None else ""
        with _read_connection().cursor() as cursor:
            # Django's own compilation of the branches, its parameters kept apart; integers appended.
            cursor.execute(f"{query.replace('{branches}', sql)}{page} OFFSET {int(start)}", params)
            ids = [row[id_column] for row in cursor.fetchall()]
        return _result_rows(ids)

    model = MedicalWorker

    def keyset_page(self, after: list | None, limit: int, *, related: Sequence[str] = ()) -> list[MedicalWorker]:
        """The next `limit` matches after the (search_name, id) key `after` (API cursor paging).

        The key is tested inside every branch (PostgreSQL pushes it down the UNION ALL), so each branch
        starts its index walk at the key: page 10,000 costs what page 1 does.
        """
        if self._branches is None:
            return []
        sql, params = self._sql()
        where, extra = ("WHERE (matches.search_name, matches.id) > (%s, %s)", list(after)) if after else ("", [])
        with _read_connection().cursor() as cursor:
            cursor.execute(
                f"SELECT search_name, id FROM ({sql}) AS matches {where} ORDER BY 1, 2 LIMIT {int(limit)}",  # noqa: S608
                (*params, *extra),
            )
            ids = [pk for _, pk in cursor.fetchall()]
        return _rows_in_order(MedicalWorker.objects.select_related(*related), ids)

    def _sql(self) -> tuple[str, tuple]:
        """The branches compiled once (the ORM takes milliseconds over a dozen branches); count and page reuse it."""
        if self._compiled is None:
            self._compiled = self._branches.order_by().query.sql_with_params()
        return self._compiled

    def __len__(self) -> int:
        return self.count()[0]

    def as_filter(self) -> Q:
        """The matches as a condition on the worker's id (to sort them by another column)."""
        if self._branches is None:
            return Q(pk__in=[])
        sql, params = self._sql()
        return Q(pk__in=RawSQL(f"SELECT id FROM ({sql}) AS matches", params))  # noqa: S611,S608 -- Django's own SQL

    def empty(self) -> bool:
        return self.count()[0] == 0  # the page shows the count anyway: one query for both

    def count(self) -> tuple[int, bool]:
        """Exact up to COUNT_CAP; beyond it only "more than"."""
        if self._count is None:
            sql, params = self._sql()
            # The inner SQL is Django's own compilation with its parameters kept apart.
            self._count = _capped_count_sql(f"SELECT count(*) FROM ({sql} LIMIT {COUNT_CAP + 1}) AS matches", params)  # noqa: S608
        return self._count


def _other_words_filter(qs, tokens: list[str], driver: str, specialties: SpecialtyWords) -> QuerySet:
    """The rows' word columns, filtered by every typed word but the driver."""
    base = qs.select_related(None).annotate(**{f"word{n}": _WordAt(n) for n in WORD_POSITIONS})
    for token in tokens:
        if token == driver:
            continue
        # The other words: "a word of the name starts with it", in a form no index serves, so
        # PostgreSQL tests it (one strpos) and the filters (carried in the index) on the entries of
        # the driver's branch, an index-only scan. Given an indexable form (LIKE, or the exact
        # dictionary words at their positions) the planner would rather walk that word's index or
        # AND a huge bitmap with the branch: «ксения» (114,000 names) instead of «ширяева» (8,000).
        condition = _word_start(token)
        specialty_ids = specialties.ids(token)
        if specialty_ids:
            condition |= Q(primary_specialty_id__in=specialty_ids)
        base = base.filter(condition)
    return base


def _word_branches(rows, column: str, word: str, workers: int, split, columns) -> list:
    """The branch of one dictionary word at one position; a large surname (e.g. «иванова», 70,000 at
    3 million) split by another typed word when its patronymic sub-branch is narrow (rare patronymics
    start with that word)."""
    if (
        column == "word1"
        and split
        and workers >= SPLIT_MIN_WORKERS
        and split[1] * SPLIT_PATRONYMICS_FACTOR < workers
        and not word.startswith(split[0])
    ):
        return _surname_branches(rows, word, split[0], columns)
    return [rows.filter(**{column: word}).values_list(*columns)]


# A surname branch this large is split by another typed word (see _surname_branches), when the
# patronymics that word starts are fewer than the surname's entries divided by this factor.
SPLIT_MIN_WORKERS = 2000
SPLIT_PATRONYMICS_FACTOR = 4


def _split_token(
    tokens: list[str], driver: str, words: _DictionaryWords, specialties: SpecialtyWords
) -> tuple[str, int] | None:
    """The typed word to split large surname branches by, and how many patronymics it starts.

    A name word (a specialty's word also matches rows by their specialty, which no name range holds),
    the one starting the fewest first names; None when the dictionary answer was cut short.
    """
    if not words.complete:
        return None
    best = None
    for token in tokens:
        if token == driver or specialties.ids(token):
            continue
        firsts = sum(n for _, at, n in words[token] if at == 2)
        patronymics = sum(n for _, at, n in words[token] if at == 3)
        if best is None or firsts < best[2]:
            best = (token, patronymics, firsts)
    return best[:2] if best else None


def _surname_branches(
    rows: QuerySet[MedicalWorker], surname: str, token: str, columns: tuple[str, ...]
) -> list[QuerySet]:
    """The `rows` with this surname and a word starting with `token`, as three narrow branches.

    The surname's branch alone walks every «иванова» (70,000 entries at 3 million workers) to test the
    other word on each. search_name is the surname, a space, then the rest, in the "C" collation
    (migration 0011), so a prefix of it is an index range: the first name (word 2) starting with the
    token is a range of worker_word1_idx; a patronymic (word 3) starting with it, a range of
    worker_word3_idx (few entries: _split_token checks the dictionary); a later word, a range of the
    small index of long names. Each row is in exactly one of them (earlier words are excluded), each
    comes out in name order. The patronymic branch tests the surname in a form no index serves: given an
    indexable one, the planner walks the whole surname instead (its estimate for a surname and a prefix
    of the same name multiplies the two as if independent: far too small).
    """
    head = f"{surname} "
    firsts = rows.filter(word1=surname, search_name__startswith=f"{head}{token}")
    starts = RawSQL("""strpos("registry_medicalworker"."search_name", %s) = 1""", (head,), output_field=BooleanField())
    patronymics = rows.filter(Q(starts), word3__startswith=token).exclude(word2__startswith=token)
    later = (
        rows.filter(LONG_NAME, search_name__startswith=head)
        .exclude(word2__startswith=token)
        .exclude(word3__startswith=token)
    )
    return [branch.values_list(*columns) for branch in (firsts, patronymics, later)]


def _rows_in_order(qs: QuerySet[MedicalWorker], ids: list[int]) -> list[MedicalWorker]:
    by_id = {worker.id: worker for worker in qs.filter(id__in=ids)}
    return [by_id[pk] for pk in ids if pk in by_id]


@functools.cache
def _result_row_sql() -> tuple[str, tuple[str, ...]]:
    """`SELECT <the results table's columns> FROM worker WHERE id IN (`, and the columns' attnames, in the
    model's field order (what Model.from_db expects)."""
    wanted = {MedicalWorker._meta.get_field(name).attname for name in selectors.RESULT_ROW_FIELDS}
    fields = [f for f in MedicalWorker._meta.concrete_fields if f.attname in wanted]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    return (
        f"SELECT {columns} FROM {quote(MedicalWorker._meta.db_table)} WHERE {quote('id')} IN (",  # noqa: S608
        tuple(f.attname for f in fields),
    )


def _result_rows(ids: list[int]) -> list[MedicalWorker]:
    """The results table's rows (selectors.RESULT_ROW_FIELDS only) for `ids`, in that order.

    Plain SQL and Model.from_db: compiling `filter(id__in=...).only(...)` cost the ORM longer than the
    database takes to answer it (about a third of a sorted page's Python time)."""
    if not ids:
        return []
    head, attnames = _result_row_sql()
    db = _read_connection()
    with db.cursor() as cursor:
        cursor.execute(head + ", ".join(["%s"] * len(ids)) + ")", [int(pk) for pk in ids])
        rows = cursor.fetchall()
    position = attnames.index("id")
    by_id = {row[position]: MedicalWorker.from_db(db.alias, attnames, row) for row in rows}
    return [by_id[pk] for pk in ids if pk in by_id]


class _DictionaryWords(dict):
    """token -> [(word, position, workers)]; `complete` is False when the answer was cut at its limit."""

    complete = True


def _dictionary_words(tokens: list[str]) -> _DictionaryWords:
    """(word, position, workers) of the dictionary words each token starts; one query."""
    found = _DictionaryWords({t: [] for t in tokens})
    condition = Q()
    for token in tokens:
        condition |= Q(word__startswith=token)
    limit = (DRIVER_MAX_WORDS * 3 * len(tokens) + 1) * 50
    rows = SearchWord.objects.filter(condition).values_list("word", "position", "workers")[:limit]
    for n, (word, position, workers) in enumerate(rows, start=1):
        for token in tokens:
            if word.startswith(token):
                found[token].append((word, position, workers))
        if n == limit:
            found.complete = False  # some token's words may be missing
    return found


def _filters(params: dict) -> Q:
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
        # The organization (the public form) or its id (the API: an unknown id is an empty result).
        organization_id = getattr(params["organization"], "pk", params["organization"])
        filters &= Q(
            pk__in=Employment.objects.filter(organization_id=organization_id, ended_on__isnull=True).values("worker_id")
        )
    return filters


def _text_match(tokens: list[str], specialties: SpecialtyWords) -> Q:
    """Every token starts a word of the name, or (for a word like «кардиол») names the specialty.

    LIKE 'x%' / '% x%' are served by the pg_trgm GIN index when PostgreSQL takes this generic path;
    SQLite scans. The name order on PostgreSQL mostly goes through NameOrderedResult instead.
    """
    text = Q()
    for token in tokens:
        word = _name_word(token)
        specialty_ids = specialties.ids(token)
        if specialty_ids:
            word |= Q(primary_specialty_id__in=specialty_ids)
        text &= word
    return text


def _name_word(token: str) -> Q:
    return Q(search_name__startswith=token) | Q(search_name__contains=f" {token}")


def _word_start(token: str) -> Q:
    """The same test as _name_word, in a form no index serves: given LIKE, the planner would rather
    AND a huge trigram bitmap with a NameOrderedResult branch (seconds instead of milliseconds)."""
    sql = """strpos(' ' || "registry_medicalworker"."search_name", %s) > 0"""
    return Q(RawSQL(sql, (f" {token}",), output_field=BooleanField()))  # noqa: S611 -- a bound parameter


class SpecialtyWords:
    """Typed words that start a word of a specialty's name («кардиол»): the directory is small, so this
    is matched in Python (one cache read and one pass per typed word for a whole search) and becomes an
    indexed IN on primary_specialty."""

    def __init__(self):
        self._words = _specialty_words()
        self._ids: dict[str, list[int]] = {}

    def ids(self, token: str) -> list[int]:
        """Specialties with a word starting with the token (a binary search in the sorted words)."""
        if token not in self._ids:
            found = set()
            for word, pk in self._words[bisect.bisect_left(self._words, (token,)) :]:
                if not word.startswith(token):
                    break
                found.add(pk)
            self._ids[token] = sorted(found)
        return self._ids[token]


def search_words_correct(tokens: list[str]) -> list[str]:
    """Each token that starts no dictionary word, replaced by the most similar word (PostgreSQL)."""
    corrected = []
    with _read_connection().cursor() as cursor:
        for token in tokens:
            cursor.execute("SELECT 1 FROM registry_searchword WHERE word LIKE %s LIMIT 1", [f"{token}%"])
            if cursor.fetchone() or len(token) < 3:
                corrected.append(token)
                continue
            # `%` uses the trigram index with pg_trgm.similarity_threshold (0.3); `<->` picks the nearest.
            cursor.execute(
                "SELECT word FROM registry_searchword WHERE word %% %s ORDER BY word <-> %s, word LIMIT 1",
                [token, token],
            )
            row = cursor.fetchone()
            corrected.append(row[0] if row else token)
    return corrected


# Sort keys of the directory columns: the directory's order, then the name (see DirectoryOrderedResult).
DIRECTORY_SORTS = {
    "primary_specialty": (Specialty, ("name", "id")),
    "region": (Region, ("name", "id")),
    "category": (QualificationCategory, ("sort_order", "name", "id")),
}


class DirectoryOrderedResult(Sequence):
    """Workers ordered by a directory column (specialty, region, category), then by name.

    Sorting 3 million rows by a joined name is a full sort; instead the directory (a few hundred
    entries at most) is walked in its order and each entry is one index scan on (column, search_name,
    id) that already yields rows in name order, then the workers without a value (NULLs last, as
    PostgreSQL sorts them; first when descending). A page reads only the entries it spans.
    """

    def __init__(self, qs: QuerySet[MedicalWorker], column: str, chosen=None):
        descending = column.startswith("-")
        field = column.lstrip("-")
        model, key_order = DIRECTORY_SORTS[field]
        if chosen is not None:  # the search is filtered on this column: one entry to walk
            keys: list[int | None] = [chosen.pk]
        else:
            keys = [*selectors.directory_order(model=model, key_order=key_order), None]
        if descending:
            keys.reverse()
        self._name_order = ("-search_name", "-id") if descending else ("search_name", "id")
        self._qs, self._field, self._keys = qs.order_by(), field, keys

    def _branches(self) -> Iterator[QuerySet[MedicalWorker]]:
        """One queryset per directory entry, made as the walk reaches it (a page spans one or two)."""
        for key in self._keys:
            where = {f"{self._field}__isnull": True} if key is None else {f"{self._field}_id": key}
            yield self._qs.filter(**where).order_by(*self._name_order)

    def __getitem__(self, key):
        if not isinstance(key, slice):
            return self[key : key + 1][0]
        start, stop = key.start or 0, key.stop
        rows: list[MedicalWorker] = []
        seen = 0  # rows in the branches already passed
        for branch in self._branches():
            if stop is not None and seen + 0 >= stop:
                break
            skip = max(0, start - seen)
            limit = None if stop is None else stop - seen
            found = list(branch[skip:limit])
            rows.extend(found)
            if found or skip == 0:
                seen += skip + len(found)
            else:
                # The page starts beyond this branch: only its size (capped at what is skipped) matters.
                seen += branch.order_by()[:skip].count()
        return rows

    def __len__(self) -> int:
        return self.count()[0]

    def count(self) -> tuple[int, bool]:
        return capped_count(self._qs)


def result_page_source(result: SearchResult, params: dict) -> tuple[QuerySet | Sequence, tuple[int, bool]]:
    """What the results table pages through, and the capped count.

    Every source comes back already in the order asked for (the table must not re-sort them).
    """
    sort = params.get("sort") or ""
    if result.by_name is not None and sort in ("", "full_name"):
        return result.by_name, result.by_name.count()
    if sort.lstrip("-") in DIRECTORY_SORTS and not query_tokens(params.get("q", "")):
        field = sort.lstrip("-")
        rows = result.queryset.select_related(None).only(*selectors.RESULT_ROW_FIELDS)
        ordered = DirectoryOrderedResult(rows, sort, params.get(field.removeprefix("primary_")))
        return ordered, ordered.count()

    keys = WorkerTable.base_columns[sort.lstrip("-") or "full_name"].order_by
    keys = [str(key) for key in (keys.opposite if sort.startswith("-") else keys)]
    if result.by_name is not None:
        # A name and another order: the name branches find the matches (index walks over the name's
        # entries, as for a name-ordered page), only those rows are sorted — not a LIKE over the trigram
        # index of every name (0.4–1.1 s at 3 million workers). Keys the branches carry sort without
        # reading the table; the others (expiry date, registry number) fetch each match's row.
        if sort.lstrip("-") in NameSortedResult.ORDERS:
            return NameSortedResult(result.by_name, sort), result.by_name.count()
        matches = MedicalWorker.objects.filter(result.by_name.as_filter())
        return IdsFirstResult(matches.order_by(*keys)), result.by_name.count()
    ordered = IdsFirstResult(result.queryset.order_by(*keys))
    return ordered, capped_count(result.queryset)


class NameSortedResult(Sequence):
    """A name search sorted by a column the word indexes carry, or by a directory's name (joined to the
    small directory table): the same order as WorkerTable's keys, from index entries."""

    # column -> (the column the branches add, the directory it refers to or None, the ORDER BY terms as
    # WorkerTable orders them)
    ORDERS = {
        "admission_status": ("admission_status", None, ("m.admission_status", "m.search_name", "m.id")),
        "registered_on": ("registered_on", None, ("m.registered_on", "m.id")),
        "region": ("region_id", Region, ("d.name", "m.region_id", "m.search_name", "m.id")),
        "primary_specialty": (
            "primary_specialty_id",
            Specialty,
            ("d.name", "m.primary_specialty_id", "m.search_name", "m.id"),
        ),
        "category": (
            "category_id",
            QualificationCategory,
            ("d.sort_order", "d.name", "m.category_id", "m.search_name", "m.id"),
        ),
    }

    def __init__(self, by_name: NameOrderedResult, sort: str):
        column, directory, terms = self.ORDERS[sort.lstrip("-")]
        self._by_name = by_name  # counts
        self._sorted = by_name.with_columns(column)  # pages
        join = f"LEFT JOIN {directory._meta.db_table} d ON d.id = m.{column}" if directory else ""
        order = ", ".join(f"{term} DESC" if sort.startswith("-") else term for term in terms)
        self._query = f"SELECT m.id FROM ({{branches}}) AS m {join} ORDER BY {order}"  # noqa: S608 -- fixed names

    def __getitem__(self, key):
        if not isinstance(key, slice):
            return self[key : key + 1][0]
        return self._sorted.page(key, self._query, id_column=0)

    def __len__(self) -> int:
        return self._by_name.count()[0]


class IdsFirstResult(Sequence):
    """A sorted queryset paged as ids first, then the page's rows by id.

    Selecting only the id lets PostgreSQL answer from the index of the sort key alone when it also
    holds the filter columns (INCLUDE, migration 0009): a filter that most entries fail (a region
    within a status) is then tested on index entries, not on a table row fetched for each.
    """

    def __init__(self, qs: QuerySet[MedicalWorker]):
        self._qs = qs

    def __getitem__(self, key):
        if not isinstance(key, slice):
            return self[key : key + 1][0]
        ids = list(self._qs.select_related(None).values_list("id", flat=True)[key])
        return _result_rows(ids)

    def __len__(self) -> int:
        return capped_count(self._qs)[0]


def capped_count(qs: QuerySet) -> tuple[int, bool]:
    """Exact up to COUNT_CAP; beyond it only "more than" — an exact count over millions is slow."""
    # Without the ORDER BY: counting needs no ordered index walk (and no similarity sort).
    inner = qs.order_by().values("pk")[: COUNT_CAP + 1]
    sql, params = inner.query.sql_with_params()
    return _capped_count_sql(f"SELECT count(*) FROM ({sql}) AS matches", params)  # noqa: S608


# A result known to hold more than COUNT_CAP rows is remembered for this long: reading 10,001 index
# entries is most of the database work of a broad search, and such a result does not shrink below the
# cap within minutes. Exact (smaller) counts are always computed, so they are never stale.
MORE_THAN_CAP_TTL = 600


def _capped_count_sql(sql: str, params) -> tuple[int, bool]:
    """Run a `SELECT count(*) FROM (... LIMIT COUNT_CAP + 1)`: (count up to the cap, more than the cap)."""
    key = "registry:more-than-cap:" + hashlib.sha256(repr((sql, tuple(params))).encode()).hexdigest()
    if cache.get(key):
        return COUNT_CAP, True
    with _read_connection().cursor() as cursor:
        cursor.execute(sql, params)
        count = cursor.fetchone()[0]
    if count > COUNT_CAP:
        cache.set(key, True, MORE_THAN_CAP_TTL)
    return min(count, COUNT_CAP), count > COUNT_CAP
