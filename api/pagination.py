"""Keyset ("cursor") pagination with no depth limit.

The cursor is the last row's ordering key, so page N+1 is an index range scan from there, as
fast at page 100,000 as at page 1 (an OFFSET would scan everything before it). The key fields
are unique together (they end with the primary key), so no row is skipped or repeated.
"""

from __future__ import annotations

import base64
import json

from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core import validators

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def _invalid(field: str, message: str):
    return exceptions.ValidationError({field: [exceptions.ErrorDetail(message, code="invalid")]})


class KeysetPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def __init__(self, ordering: tuple[str, ...] = ("id",), related: tuple[str, ...] = ()):
        self.ordering = ordering
        self.related = related  # select_related for a self-paging source

    def _page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return DEFAULT_PAGE_SIZE
        if not validators.is_digits(raw, max_length=6) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
            raise _invalid("page_size", f"Размер страницы: целое число от 1 до {MAX_PAGE_SIZE}.")
        return int(raw)

    def _decode(self, raw: str, model) -> list:
        try:
            values = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
            if not isinstance(values, list) or len(values) != len(self.ordering):
                raise ValueError
            return [
                model._meta.get_field(name).to_python(value) for name, value in zip(self.ordering, values, strict=True)
            ]
        except Exception as exc:  # any garbage in a cursor is the caller's error, not a 500
            raise _invalid("cursor", "Курсор: недопустимое значение; используйте ссылку next из ответа.") from exc

    @staticmethod
    def _encode(values: list) -> str:
        plain = [v.isoformat() if hasattr(v, "isoformat") else v for v in values]
        return base64.urlsafe_b64encode(json.dumps(plain, ensure_ascii=False).encode()).decode().rstrip("=")

    def _after(self, values: list):
        # A row-value comparison, (a, b) > (x, y): PostgreSQL walks the composite index from that
        # point even inside a huge group of equal `a` (a bulk load gives thousands of rows one
        # updated_at). Backends without row values get Django's spelled-out OR.
        return TupleGreaterThan(Tuple(*(F(name) for name in self.ordering)), list(values))

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        self.request = request
        size = self._page_size(request)
        raw = request.query_params.get(self.cursor_query_param)
        after = self._decode(raw, queryset.model) if raw else None
        if hasattr(queryset, "keyset_page"):
            # A source that pages itself in this order (registry.search.engine.NameOrderedResult).
            rows = queryset.keyset_page(after, size + 1, related=self.related)
        else:
            qs = queryset.order_by(*self.ordering)
            rows = list((qs.filter(self._after(after)) if after else qs)[: size + 1])
        self.has_next = len(rows) > size
        rows = rows[:size]
        self.next_cursor = None
        if self.has_next and rows:
            last = rows[-1]
            self.next_cursor = self._encode([getattr(last, name.replace("__", ".")) for name in self.ordering])
        return rows

    def next_url(self) -> str | None:
        if not self.next_cursor:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, self.next_cursor)

    def get_paginated_response(self, data, **extra):
        return Response({"next": self.next_url(), **extra, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {"type": "string", "format": "uri", "nullable": True},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "Opaque cursor from the `next` link of the previous page.",
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
            },
        ]
