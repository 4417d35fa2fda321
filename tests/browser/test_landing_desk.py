"""Where a login lands, at desktop and phone sizes: a worker in the cabinet or on the page asked for,
staff on the desk with the queues' counts; the code page when a code went out a moment ago; the
dashboards' count axes ticking at whole numbers."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import SmsOutbox
from registry.quality import monitoring
from tests.desk.seed import seed_queues
from tests.factories import StaffFactory, UserFactory, WorkerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}


@pytest.fixture(params=sorted(SIZES))
def sized(request, _chromium):
    """A fresh context at desktop or phone size; yields (page, size name)."""
    context = _chromium.new_context(viewport=SIZES[request.param], locale="ru-RU")
    context.set_default_timeout(15_000)
    yield context.new_page(), request.param
    context.close()


@pytest.fixture(autouse=True)
def _sms_to_database(settings):
    settings.SMS_BACKEND = "accounts.sms.DatabaseBackend"


def _worker():
    user = UserFactory(phone="+79161234567", phone_confirmed_at=timezone.now())
    WorkerFactory(user=user, last_name=user.last_name, first_name=user.first_name)
    return user


def _password_step(page, user, *, kind="Медицинский работник", login=None):
    page.get_by_label(kind).check()
    page.get_by_label("СНИЛС или логин сотрудника").fill(login or user.username)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Продолжить").click()
    page.wait_for_url("**/accounts/login/verify/**")


def _code_step(page):
    code = re.search(r"\b(\d{6})\b", SmsOutbox.objects.latest("created_at").text).group(1)
    page.get_by_label("Код").fill(code)
    page.get_by_role("button", name="Войти").click()


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_worker_login_lands_in_the_cabinet(sized, live_server, screenshot_dir):
    page, size = sized
    user = _worker()
    page.goto(f"{live_server.url}/accounts/login/")
    _password_step(page, user)
    _code_step(page)
    page.wait_for_url(f"{live_server.url}/cabinet/")
    assert page.get_by_role("heading", level=1).count() >= 1
    page.screenshot(path=str(screenshot_dir / f"landing-cabinet-{size}.png"), full_page=True)


def test_login_from_a_protected_page_lands_back_on_it(sized, live_server):
    page, _size = sized
    user = _worker()
    page.goto(f"{live_server.url}/registry/saved/")
    page.wait_for_url("**/accounts/login/?next=/registry/saved/")
    _password_step(page, user)
    _code_step(page)
    page.wait_for_url(f"{live_server.url}/registry/saved/")


def test_staff_land_on_the_desk_with_the_queues_counts(sized, live_server, screenshot_dir):
    page, size = sized
    staff = StaffFactory(is_superuser=True, phone="+79160000099", phone_confirmed_at=timezone.now())
    seed_queues()
    page.goto(f"{live_server.url}/accounts/login/")
    _password_step(page, staff, kind="Сотрудник службы поддержки")
    _code_step(page)
    page.wait_for_url(f"{live_server.url}/admin/")
    counts = page.locator("[data-count]").all_inner_texts()
    assert len(counts) == 11 and all(int(n) >= 1 for n in counts)
    assert page.get_by_role("link", name="Подтверждение личности: не завершены").is_visible()
    assert page.get_by_role("link", name="Мониторинг кадрового состава").is_visible()
    assert page.get_by_role("heading", name="Все разделы").is_visible()
    page.screenshot(path=str(screenshot_dir / f"desk-{size}.png"), full_page=True)
    page.get_by_role("link", name="Новые обращения").click()
    page.wait_for_url(re.compile(r"/admin/support/ticket/\?status__exact=new"))
    assert page.locator("#result_list tbody tr").count() == 2


def test_second_login_within_a_minute_says_the_code_was_already_sent(sized, live_server, screenshot_dir):
    page, size = sized
    user = _worker()
    first = Client()  # another device began a login a moment ago: its code is still valid
    first.post("/accounts/login/", {"kind": "worker", "username": user.username, "password": PASSWORD})
    sent_at = timezone.localtime(SmsOutbox.objects.get().created_at)
    page.goto(f"{live_server.url}/accounts/login/")
    _password_step(page, user)
    notice = page.get_by_text("Код уже отправлен в")
    assert notice.is_visible()
    text = notice.inner_text()
    assert f"{sent_at:%H:%M}" in text and re.search(r"новый можно запросить через \d+ с", text)
    assert SmsOutbox.objects.count() == 1  # nothing new was sent
    shown = int(page.locator("[data-resend-seconds]").inner_text())
    page.wait_for_function(f"() => Number(document.querySelector('[data-resend-seconds]').textContent) < {shown}")
    page.screenshot(path=str(screenshot_dir / f"login-code-already-sent-{size}.png"), full_page=True)
    _code_step(page)  # the code of the first SMS works
    page.wait_for_url(f"{live_server.url}/cabinet/")


def test_count_chart_axes_tick_at_whole_numbers(_chromium, live_server):
    for n in range(3):
        WorkerFactory(last_name=f"Тестова{n}")
    monitoring.workforce_snapshot_take()
    client = Client()
    client.force_login(StaffFactory(is_superuser=True))
    context = _chromium.new_context(viewport=SIZES["desktop"], locale="ru-RU")
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/registry/workforcesnapshot/dashboard/")
    page.wait_for_selector("#wf-region")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('wf-region'))")
    labels = page.evaluate(
        "() => ['wf-region', 'wf-specialty', 'wf-expiring', 'wf-history'].flatMap(id => {"
        " const chart = Chart.getChart(document.getElementById(id));"
        " if (!chart) { return []; }"
        " const axis = chart.options.indexAxis === 'y' ? chart.scales.x : chart.scales.y;"
        " return axis.ticks.map(t => t.label); })"
    )
    context.close()
    assert labels, "no chart drew its value axis"
    assert all(re.fullmatch(r"\d+", str(label).replace("\u00a0", "").replace(" ", "")) for label in labels), labels
