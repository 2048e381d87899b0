"""Headless Chromium (Debian's, driven by Playwright) against the real web server, worker and beat.

The browser is the system's `chromium` (no browser download); `make test` installs the
Debian package when it is missing and it runs as root. Each test's screenshots go to
`test-artifacts/browser/<test>/` (TEST_ARTIFACTS_DIR overrides the root).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.processes import ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", ROOT / "test-artifacts")) / "browser"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(django_db_setup):
    """One Chromium per module. Playwright keeps an event loop in this thread while it runs, so
    the test database is set up before it starts and the browser is gone before other modules."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (make test does it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", autouse=True)
def orm_beside_playwright():
    """Playwright's sync API keeps an event loop in this thread; the test bodies' and the database
    fixtures' ORM calls are still synchronous and safe. Only this process, only for the browser
    modules (tests/processes.py keeps it from the servers and workers the tests start)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


class Shots:
    """Numbered full-page screenshots of one test, kept as artifacts."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def __call__(self, page, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request) -> Shots:
    return Shots(ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name))


# Refusals the policy is there for: ReDoc's bundle hard-codes its "API docs by Redocly" logo
# from the vendor's CDN; the page makes no third-party request, and the image hides itself.
EXPECTED_REFUSALS = ("'https://cdn.redoc.ly/redoc/logo-mini.svg'",)


def is_csp_violation(text: str) -> bool:
    """Chromium reports every resource or script the Content-Security-Policy refused in the console."""
    refused = "Content Security Policy" in text or "Content-Security-Policy" in text
    return refused and not any(expected in text for expected in EXPECTED_REFUSALS)


@pytest.fixture
def new_page(browser, web_server):
    """A fresh browser context (its own cookies) on the running site, phone-sized unless `desktop`.

    Every page it opens is watched: a Content-Security-Policy violation in the console fails the test."""
    contexts = []
    violations: list[str] = []

    def open_page(
        *, locale: str = "en-US", desktop: bool = False, color_scheme: str = "light", timezone_id: str | None = None
    ):
        viewport = {"width": 1280, "height": 900} if desktop else {"width": 390, "height": 844}
        context = browser.new_context(
            base_url=web_server.extra["url"],
            viewport=viewport,
            locale=locale,
            color_scheme=color_scheme,
            timezone_id=timezone_id,
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: is_csp_violation(message.text) and violations.append(message.text))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)
