"""bench_desk runs on any database and leaves nothing behind."""

import io

import pytest
from django.core.management import call_command

from accounts.models import User
from tests.desk.seed import seed_queues


@pytest.mark.django_db
def test_bench_desk_prints_the_desk_next_to_the_baseline_and_rolls_back():
    seed_queues()
    users = User.objects.count()
    out = io.StringIO()
    call_command("bench_desk", repeat=1, stdout=out)
    text = out.getvalue()
    assert "Machine:" in text and "workers: 2" in text
    assert "desk page (" in text and "baseline: exact COUNT(*) of workers" in text
    assert "its count: estimated" in text
    assert User.objects.count() == users
