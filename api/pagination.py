"""Keyset ("cursor") pagination with no depth limit.

The cursor is the last row's ordering key, so page N+1 is an index range scan from there, as
fast at page 100,000 as at page 1 (an OFFSET would scan everything before it). The key fields
are unique together (they end with the primary key), so no row is skipped or repeated. The cursor
and the page size come cleaned by the validation layer (api.parameters, registry.search.params.Cursor).
"""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from registry.search import params


def keyset_after(ordering: tuple[str, ...], values: list):
    # A row-value comparison, (a, b) > (x, y): PostgreSQL walks the composite index from that
    # point even inside a huge group of equal `a` (a bulk load gives thousands of rows one
    # updated_at). Backends without row values get Django's spelled-out OR.
    return TupleGreaterThan(Tuple(*(F(name) for name in ordering)), list(values))


def next_link(request, name: str, cursor: str) -> str:
    """This request's URL with the cursor parameter `name` set to `cursor`."""
    # From the decoded parameters, not the raw query string: a client that sent raw UTF-8 (not
    # percent-encoded) would get it back as mojibake from build_absolute_uri().
    query = request.query_params.copy()
    query[name] = cursor
    return f"{request.build_absolute_uri(request.path)}?{query.urlencode()}"


class KeysetPagination(BasePagination):
    def __init__(self, ordering: tuple[str, ...], cursor: params.Cursor, related: tuple[str, ...] = ()):
        self.ordering = ordering
        self.cursor = cursor
        self.related = related  # select_related for a self-paging source
        self.next_cursor: str | None = None

    def position(self, row) -> str:
        """The cursor that resumes after `row`."""
        return self.cursor.encode([getattr(row, name) for name in self.ordering])

    def paginate(self, queryset: QuerySet, request, *, after: list | None, size: int) -> list:
        self.request = request
        if hasattr(queryset, "keyset_page"):
            # A source that pages itself in this order (registry.search.engine.NameOrderedResult).
            rows = queryset.keyset_page(after, size + 1, related=self.related)
        else:
            qs = queryset.order_by(*self.ordering)
            rows = list((qs.filter(keyset_after(self.ordering, after)) if after else qs)[: size + 1])
        has_next = len(rows) > size
        rows = rows[:size]
        self.next_cursor = self.position(rows[-1]) if has_next and rows else None
        return rows

    def next_url(self) -> str | None:
        return next_link(self.request, self.cursor.name, self.next_cursor) if self.next_cursor else None

    def get_paginated_response(self, data, **extra):
        return Response({"next": self.next_url(), **extra, "results": data})
