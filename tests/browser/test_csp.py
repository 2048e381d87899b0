"""Every page loads under the Content-Security-Policy with nothing refused (tests/config/test_security_headers.py
checks the header and that no page carries an inline script; this checks what the browser does with them)."""

import pytest

from tests.accounts.factories import DEFAULT_PASSWORD
from tests.browser.conftest import is_csp_violation
from tests.config.test_security_headers import pages
from tests.config.world import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_every_page_loads_with_no_csp_violation(new_page, shots):
    world = build_world()
    page = new_page(desktop=True)
    violations: list[str] = []
    page.on("console", lambda message: is_csp_violation(message.text) and violations.append(message.text))
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(world.superuser.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    visited = []
    for name, path, _actor, api in pages(world):
        if api or name in ("admin:logout", "logout", "set_language"):
            continue
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        visited.append((name, path, response.status if response else None))
        if name in ("api-docs", "api-redoc", "dashboard", "rankings", "admin:index"):
            shots(page, name.replace(":", "-"))
    assert len(visited) >= 30, visited
    assert not violations, "\n".join(violations)
    # the docs rendered (their scripts ran): Swagger UI's and ReDoc's own markup is there
    page.goto("/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .information-container", timeout=20_000)
    page.goto("/api/v1/redoc/")
    page.wait_for_selector("redoc .api-content, .api-content", timeout=20_000)
