"""A visitor searches the public register: type a name, change a filter, the table updates without a
page reload, sort, page, open a profile."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def registry_data():
    call_command("load_directories", verbosity=0)
    call_command("seed_demo", verbosity=0)
    call_command(
        "generate_registry", "--workers", "400", "--organizations", "20", "--seed", "7", "--append", verbosity=0
    )


def test_search_filters_sorts_pages_and_opens_a_profile(browser_page, live_server, registry_data, screenshot_dir):
    page = browser_page
    page.goto(f"{live_server.url}/registry/")
    # A marker on window survives htmx swaps but not a page load: it proves there was no reload.
    page.evaluate("window.__noReload = true")

    page.get_by_label("ФИО (можно часть: «иван мар»)").fill("иванова мар")
    page.locator("#results-table").get_by_text("Иванова Мария Петровна").wait_for()
    assert "q=" in page.url  # the URL is shareable

    page.get_by_text("Расширенный поиск").click()
    page.get_by_label("ФИО (можно часть: «иван мар»)").fill("")
    page.get_by_label("Статус допуска").select_option("expired")
    # wait_for_url, not wait_for_function: the latter evaluates a string, which our CSP forbids.
    page.wait_for_url(re.compile(r"status=expired"))
    badges = page.locator("#results-table tbody .badge")
    assert badges.count() > 0 and set(badges.all_inner_texts()) == {"Истёк"}

    page.locator("#results-table thead").get_by_role("link", name="ФИО").click()
    page.wait_for_url(re.compile(r"sort="))
    first_sorted = page.locator("#results-table tbody tr td a").first.inner_text()

    page.locator("ul.pagination").get_by_role("link", name="2").first.click()
    expect(page.locator("#results-table tbody tr td a").first).not_to_have_text(first_sorted)
    page.wait_for_url(re.compile(r"page=2"))
    assert page.evaluate("window.__noReload") is True
    page.screenshot(path=str(screenshot_dir / "search-results.png"), full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Выгрузить XLSX").click()
    download = download_info.value
    path = download.path()
    from openpyxl import load_workbook

    with open(path, "rb") as handle:
        rows = list(load_workbook(handle, read_only=True).active.iter_rows(values_only=True))
    assert rows[0][0] == "ФИО" and len(rows) > 1
    assert all("Истёк" in row for row in rows[1:])  # the export follows the current filters

    page.locator("#results-table tbody tr td a").first.click()
    page.wait_for_url("**/registry/*/")
    assert page.get_by_role("heading", name="Допуск по специальностям").is_visible()
    page.screenshot(path=str(screenshot_dir / "search-profile.png"), full_page=True)
