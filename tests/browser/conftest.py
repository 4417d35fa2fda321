"""Browser-test harness: Debian's chromium driven by Playwright's sync API.

Tests take `browser_page` (a fresh page in a fresh context) and pytest-django's `live_server`.
Without /usr/bin/chromium, or when it cannot start, tests skip locally and fail in CI
(tests.conftest.skip_or_fail).
"""

import os
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

# Playwright's sync API runs an asyncio event loop in the test thread. Django sees the running
# loop and refuses ORM calls there with SynchronousOnlyOperation, although nothing is actually
# async: the ORM calls of fixtures and tests (factories, assertions) are ordinary blocking calls
# and the live server answers from its own thread. Safe for tests only; never set it elsewhere.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP_VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="session")
def _chromium():
    """One browser process per test session; each test gets its own context."""
    if not Path(CHROMIUM_PATH).exists():
        skip_or_fail(f"{CHROMIUM_PATH} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        skip_or_fail(f"playwright is not installed: {exc}")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:  # any launch failure: missing libraries, bad sandbox, wrong version
        playwright.stop()
        skip_or_fail(f"chromium could not be launched by playwright: {exc}")
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def browser_page(_chromium):
    """A page at 1280x900 in its own context (own cookies), closed after the test."""
    context = _chromium.new_context(viewport=DESKTOP_VIEWPORT, locale="ru-RU")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    """var/screenshots/ (git-ignored), where browser tests leave their PNGs for a human to look at."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
