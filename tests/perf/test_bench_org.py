"""bench_org and the generator's large organization (issue 20), at a small size."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry.models import Employment
from tests.perf.test_generate_registry import directories, generate  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def _current_staff() -> dict[int, int]:
    counts: dict[int, int] = {}
    for organization_id in Employment.objects.filter(ended_on__isnull=True).values_list("organization_id", flat=True):
        counts[organization_id] = counts.get(organization_id, 0) + 1
    return counts


def test_big_organization_gets_about_the_requested_staff(directories):  # noqa: F811
    generate(workers=600, organizations=20, big_organization=300)
    counts = _current_staff()
    biggest = max(counts.values())
    assert 220 <= biggest <= 380, counts
    assert sorted(counts.values())[-2] < biggest / 2  # the others stay smaller


def test_big_organization_must_be_fewer_than_the_workers(directories):  # noqa: F811
    with pytest.raises(CommandError, match="--big-organization"):
        generate(workers=10, organizations=2, big_organization=10)


def test_bench_org_prints_machine_size_and_percentiles(directories):  # noqa: F811
    generate(workers=300, organizations=10, big_organization=150)
    out = StringIO()
    call_command("bench_org", requests=2, baseline_requests=1, stdout=out)
    text = out.getvalue()
    assert "Machine:" in text and "workers: 300" in text and "current staff" in text
    for label in ("first page", "filter: most common position", "sort: newest start date", "search:"):
        assert label in text
    assert "target ≤ 100 ms p95:" in text
    # Run twice: the benchmark officer and its membership are reused.
    call_command("bench_org", requests=2, baseline_requests=1, stdout=StringIO())


def test_bench_org_without_employments_says_what_to_do(directories):  # noqa: F811
    with pytest.raises(CommandError, match="big-organization"):
        call_command("bench_org", stdout=StringIO())
