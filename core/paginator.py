"""A paginator that does not count a table of millions of rows to print how many there are."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Below this the exact count is cheap and shown; above it the planner's estimate is good enough.
ESTIMATE_ABOVE = 10_000


class EstimatedCountPaginator(Paginator):
    """The admin counts the rows of a change list on every page view; at 3,000,000 workers that is
    a full scan each time. On PostgreSQL an unfiltered list takes pg_class.reltuples (kept fresh by
    ANALYZE and autovacuum) and a filtered one the planner's row estimate; only when the estimate is
    at most ESTIMATE_ABOVE does it run the exact COUNT(*). Other databases always count exactly."""

    @cached_property
    def count(self) -> int:
        estimate = self.estimated_count()
        if estimate is not None and estimate > ESTIMATE_ABOVE:
            return estimate
        return super().count

    def estimated_count(self) -> int | None:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            if not queryset.query.where and not queryset.query.distinct:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
                )
                row = cursor.fetchone()
                # -1 (never analysed) or 0 says nothing: count.
                return int(row[0]) if row and row[0] > 0 else None
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])
