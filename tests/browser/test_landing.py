import pytest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PHONE_VIEWPORT = {"width": 375, "height": 740}


def test_landing_page_shows_heading_and_loads_htmx(browser_page, live_server, screenshot_dir):
    page = browser_page
    response = page.goto(live_server.url + "/")
    assert response is not None and response.status == 200

    heading = page.get_by_role("heading", level=1, name="Регистр медицинских работников")
    assert heading.is_visible()
    # The vendored htmx is served by the project itself and runs (loaded with defer).
    page.wait_for_load_state("load")
    assert page.evaluate("typeof htmx") == "object"
    # The stylesheet is served and applied: the primary button is blue, not a browser default.
    login_button = page.get_by_role("link", name="Войти в личный кабинет")
    assert login_button.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(13, 76, 211)"

    path = screenshot_dir / "landing-desktop.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.exists()
    assert path.stat().st_size > 10_000


def test_landing_page_fits_a_phone_screen(browser_page, live_server, screenshot_dir):
    page = browser_page
    page.set_viewport_size(PHONE_VIEWPORT)
    page.goto(live_server.url + "/")
    page.wait_for_load_state("load")

    assert page.get_by_role("heading", level=1).is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The navigation wraps instead of hiding: the login link stays reachable.
    assert page.get_by_role("navigation").get_by_role("link", name="Войти").is_visible()

    path = screenshot_dir / "landing-phone.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.exists()
    assert path.stat().st_size > 5_000
