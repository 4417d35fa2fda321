"""Accessibility checked by a tool, and layout at desktop and phone width, on the demo data.

axe-core (vendored in tests/browser/vendor/axe-core/<version>/, no CDN) runs on every main page for
an anonymous visitor, a worker and a support agent, at 1280x800 and at 375x812; a page passes with
no violation of impact «serious» or «critical». One line per page is printed (see it with -s):

    axe 1280x800 anonymous /registry/?q=...: 0 serious/critical, 1 moderate/minor (region)

The same walk checks that the results and the cabinet's pages never scroll sideways, and that the
tables shown as stacked cards on a phone are still tables in the browser's accessibility tree.
"""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from core.audit import audit_record
from core.models import AuditEntry
from registry.models import MedicalWorker
from support.services import TicketInput, ticket_create
from verification.models import IdentityApplication, QualificationApplication

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE_VERSION = "4.10.3"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / AXE_VERSION / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 812}}
BLOCKING = {"serious", "critical"}


@pytest.fixture
def demo(db):
    call_command("load_directories", verbosity=0)
    call_command("seed_demo", verbosity=0)


def _context(browser, live_server, viewport, user=None):
    # bypass_csp: the test injects axe as a script of its own; the site's CSP allows only 'self'.
    context = browser.new_context(viewport=viewport, locale="ru-RU", bypass_csp=True)
    context.set_default_timeout(20_000)
    if user is not None:
        client = Client()
        client.force_login(user)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return context


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    return result


def _sideways(page) -> list[str]:
    """The page, or a table's own scroll box, wider than what shows: the results table once fitted
    the page and scrolled inside its box, cut after «В регистре»."""
    return page.evaluate(
        "() => [document.scrollingElement, ...document.querySelectorAll('.table-wrap')]"
        ".filter(e => e.scrollWidth > e.clientWidth)"
        ".map(e => `${e.className || e.tagName} ${e.scrollWidth} > ${e.clientWidth} px`)"
    )


def _walk(
    browser,
    live_server,
    who: str,
    paths: list[str],
    *,
    user=None,
    layout: set[str] = frozenset(),
    tables: set[str] = frozenset(),
):
    """Every path at both sizes: axe; for the `layout` paths no sideways scrolling; the `tables`
    paths must show a table that turns into cards (so the layout check covers one)."""
    failures = []
    for size, viewport in VIEWPORTS.items():
        context = _context(browser, live_server, viewport, user)
        page = context.new_page()
        for path in paths:
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, f"{path}: {response and response.status}"
            # Pages drawn by a script (the API docs, the dashboards' charts) are checked once drawn.
            page.wait_for_load_state("networkidle")
            violations = _axe(page)
            blocking = [v for v in violations if v["impact"] in BLOCKING]
            others = [v["id"] for v in violations if v["impact"] not in BLOCKING]
            print(
                f"axe {viewport['width']}x{viewport['height']} {who} {path}: {len(blocking)} serious/critical, "
                f"{len(others)} moderate/minor{' (' + ', '.join(others) + ')' if others else ''}"
            )
            for v in blocking:
                failures.append(f"{size} {who} {path}: {v['impact']} {v['id']} — {v['help']} at {v['nodes']}")
            if path in tables and not page.locator("table.table--cards tbody td[data-label]").count():
                failures.append(f"{size} {who} {path}: no table with labelled cells")
            if path in layout:
                for box in _sideways(page):
                    failures.append(f"{size} {who} {path}: scrolls sideways: {box}")
        context.close()
    assert not failures, "\n".join(failures)


def _table_roles(browser, live_server, path: str, user=None) -> set[str]:
    """The roles chromium's accessibility tree gives the page at phone width."""
    context = _context(browser, live_server, VIEWPORTS["phone"], user)
    page = context.new_page()
    page.goto(f"{live_server.url}{path}")
    tree = context.new_cdp_session(page).send("Accessibility.getFullAXTree")
    context.close()
    return {node.get("role", {}).get("value") for node in tree["nodes"]}


def test_anonymous_pages_have_no_serious_axe_violations_and_fit_a_phone(_chromium, live_server, demo):
    number = MedicalWorker.objects.order_by("id").values_list("registry_number", flat=True).first()
    results = "/registry/?q=%D0%B8%D0%B2%D0%B0%D0%BD"  # «иван»: a page of results with paging
    paths = [
        "/",
        "/registry/",
        results,
        f"/registry/{number}/",
        "/verify/",
        "/support/",
        "/accounts/login/",
        "/accounts/register/",
        "/api/docs/",
        "/support/tickets/new/",
    ]
    _walk(
        _chromium,
        live_server,
        "anonymous",
        paths,
        layout={results, f"/registry/{number}/", "/registry/"},
        tables={results, f"/registry/{number}/"},
    )
    roles = _table_roles(_chromium, live_server, results)
    assert {"table", "row", "cell", "columnheader"} <= roles, roles


def test_worker_pages_have_no_serious_axe_violations_and_fit_a_phone(_chromium, live_server, demo):
    worker = User.objects.get(username="11223344595")
    # Something in her journal and one ticket, so those pages show their tables too.
    audit_record(event=AuditEntry.Event.LOGIN, subject=worker, actor=worker)
    ticket_create(
        data=TicketInput(full_name=worker.full_name, topic="other", description="Вопрос о выписке."), user=worker
    )
    applicant = IdentityApplication.objects.filter(status="rejected").select_related("worker__user").first()
    qualification = QualificationApplication.objects.select_related("worker__user").first()
    paths = [
        "/cabinet/",
        "/cabinet/identity/",
        "/cabinet/qualification/",
        "/cabinet/correction/",
        "/accounts/journal/",
        "/extracts/",
        "/accounts/security/",
        "/cabinet/notifications/",
        "/support/tickets/",
        "/support/chat/",
        "/registry/saved/",
    ]
    _walk(
        _chromium,
        live_server,
        "worker",
        paths,
        user=worker,
        layout=set(paths),
        tables={"/cabinet/", "/accounts/journal/", "/support/tickets/"},
    )
    # Applicants of the demo: an application's page with its history table.
    _walk(
        _chromium,
        live_server,
        "worker",
        [f"/cabinet/identity/{applicant.pk}/"],
        user=applicant.worker.user,
        layout={f"/cabinet/identity/{applicant.pk}/"},
    )
    _walk(
        _chromium,
        live_server,
        "worker",
        [f"/cabinet/qualification/{qualification.pk}/"],
        user=qualification.worker.user,
        layout={f"/cabinet/qualification/{qualification.pk}/"},
    )
    roles = _table_roles(_chromium, live_server, "/cabinet/", worker)
    assert {"table", "row", "cell"} <= roles, roles


def test_staff_pages_have_no_serious_axe_violations(_chromium, live_server, demo):
    agent = User.objects.get(username="support")
    worker = MedicalWorker.objects.order_by("id").first()
    paths = [
        "/admin/",
        "/admin/registry/medicalworker/",
        "/admin/verification/identityapplication/",
        "/admin/verification/qualificationapplication/",
        "/admin/support/ticket/",
        "/admin/registry/duplicatecandidate/",
        "/admin/registry/discrepancyalert/",
        f"/admin/registry/medicalworker/{worker.pk}/change/",
        "/admin/registry/dqauditrun/dashboard/",
        "/admin/registry/workforcesnapshot/dashboard/",
    ]
    _walk(_chromium, live_server, "staff", paths, user=agent)
