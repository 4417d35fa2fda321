"""The staff desk on the admin home page: queue counts, overdue items, links that filter."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from desk import selectors
from desk.sites import format_duration
from tests.desk.seed import seed_queues
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db
DESK = reverse("admin:index")


@pytest.fixture
def agent(client):
    staff = StaffFactory(is_superuser=True)
    client.force_login(staff)
    return staff


def test_each_queue_counts_its_open_items_and_those_past_the_deadline():
    expected = seed_queues()
    queues = selectors.desk_queues()
    assert {key: (q.count, q.overdue) for key, q in queues.items()} == expected
    assert queues["identity_open"].waiting_staff == 1
    assert queues["qualification_open"].waiting_staff == 1
    # The oldest open identity application waits for 30 hours against a 24-hour deadline.
    age = queues["identity_open"].age(timezone.now())
    assert 29 < age.total_seconds() / 3600 < 31


def test_empty_queues_count_zero_and_have_no_age():
    queues = selectors.desk_queues()
    assert all(q.count == 0 and q.oldest_at is None for q in queues.values())


def test_desk_reads_every_queue_in_eight_queries(django_assert_num_queries):
    seed_queues()
    with django_assert_num_queries(8):
        selectors.desk_queues()


def test_desk_page_shows_the_queues_in_a_handful_of_queries(client, agent, django_assert_max_num_queries):
    seed_queues()
    with django_assert_max_num_queries(14):
        response = client.get(DESK)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Подтверждение личности: не завершены" in page and "Новые обращения" in page
    assert "просрочено" in page
    assert reverse("admin:registry_workforcesnapshot_dashboard") in page
    assert reverse("admin:registry_dqauditrun_dashboard") in page
    assert 'id="all-sections"' in page  # the admin's list of tables is still there, below
    assert reverse("admin:support_ticket_changelist") in page


def _links(page: str) -> list[str]:
    return [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+\?[^"]+)"', page)]


def test_every_desk_link_opens_a_filtered_list(client, agent):
    seed_queues()
    links = _links(client.get(DESK).content.decode())
    assert len(links) >= 11
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
        assert "?e=1" not in response.get("Location", ""), link  # the admin's "wrong filter" answer


def test_overdue_link_lists_exactly_the_overdue_items(client, agent):
    seed_queues()
    page = client.get(DESK).content.decode()
    overdue = [link for link in _links(page) if "identityapplication" in link and "submitted_at__lte" in link]
    assert len(overdue) == 1
    response = client.get(overdue[0])
    assert response.context["cl"].result_count == 1


def test_agent_without_view_rights_sees_counts_but_no_links(client):
    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_ticket"))
    client.force_login(staff)
    seed_queues()
    page = client.get(DESK).content.decode()
    assert reverse("admin:support_ticket_changelist") in page
    assert reverse("admin:verification_identityapplication_changelist") not in page
    assert reverse("admin:registry_dqauditrun_dashboard") not in page


def test_desk_is_for_staff_only(client):
    assert client.get(DESK).status_code == 302
    client.force_login(StaffFactory(is_staff=False))
    assert client.get(DESK).status_code == 302


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(3, "3 мин"), (60, "1 ч"), (70, "1 ч 10 мин"), (24 * 60, "1 д"), (30 * 24 * 60 + 120, "30 д 2 ч")],
)
def test_durations_read_as_staff_write_them(minutes, text):
    import datetime as dt

    assert format_duration(dt.timedelta(minutes=minutes)) == text


def test_deadlines_read_as_the_rules_state_them():
    import datetime as dt

    from desk.sites import format_deadline

    assert [format_deadline(dt.timedelta(hours=h)) for h in (24, 7 * 24, 30 * 24)] == ["24 ч", "7 д", "30 д"]
