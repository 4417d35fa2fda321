"""The admin's paginator for big tables: the planner's estimate above 10,000 rows, an exact count below."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.paginator import ESTIMATE_ABOVE, EstimatedCountPaginator
from registry.models import DiscrepancyAlert
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.django_db


def _alerts(n: int, kind: str = "vanished") -> None:
    DiscrepancyAlert.objects.bulk_create(
        DiscrepancyAlert(kind=kind, fingerprint=f"{kind}-{i}", message="x") for i in range(n)
    )


def _counted(queryset) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        count = EstimatedCountPaginator(queryset.order_by("id"), 50).count
    return count, [q["sql"] for q in queries.captured_queries]


def test_small_tables_are_counted_exactly():
    _alerts(3)
    count, sql = _counted(DiscrepancyAlert.objects.all())
    assert count == 3
    assert any("COUNT(" in s.upper() for s in sql)
    assert _counted(DiscrepancyAlert.objects.filter(fingerprint="vanished-1"))[0] == 1


def test_big_tables_take_the_planners_estimate_without_counting():
    if connection.vendor != "postgresql":
        skip_or_fail("pg_class.reltuples and EXPLAIN estimates exist on PostgreSQL only")
    _alerts(ESTIMATE_ABOVE + 2_000)
    _alerts(5, kind="duplicate")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_discrepancyalert")
    count, sql = _counted(DiscrepancyAlert.objects.all())
    assert ESTIMATE_ABOVE < count < 2 * ESTIMATE_ABOVE
    assert not any("COUNT(" in s.upper() for s in sql)
    count, sql = _counted(DiscrepancyAlert.objects.filter(kind="vanished"))
    assert ESTIMATE_ABOVE < count and not any("COUNT(" in s.upper() for s in sql)
    # A filter the planner expects to match few rows is counted exactly.
    count, sql = _counted(DiscrepancyAlert.objects.filter(kind="duplicate"))
    assert count == 5 and any("COUNT(" in s.upper() for s in sql)
