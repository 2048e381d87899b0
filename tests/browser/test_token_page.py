"""The API token page: the token and the lines to paste are one click from the clipboard, on a phone too."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.accounts.factories import UserFactory
from tests.browser.test_accessibility import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("desktop", [False, True], ids=["phone", "desktop"])
def test_copy_the_token_and_the_lines_ready_to_paste(new_page, shots, web_server, desktop):
    # given a signed-in user on the token page, in a browser that lets the page use the clipboard
    user = UserFactory(username="scripter")
    user.set_password(PASSWORD)
    user.save()
    page = new_page(desktop=desktop)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_server.extra["url"])
    log_in(page, "scripter")
    page.goto(reverse("api-token"))
    # when they create a token
    page.get_by_role("button", name="Create a new token").click()
    token = page.locator("textarea#token").input_value()
    assert token.count(".") == 2  # a JWT
    shell = page.locator("#token-shell")
    expect(shell).to_contain_text(f"export TOKEN={token}")
    expect(shell).to_contain_text('curl -H "Authorization: Bearer $TOKEN" ')
    shots(page, "token")
    # then "Copy the token" puts exactly the token on the clipboard, and says so
    page.get_by_role("button", name="Copy the token").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    # and "Copy these lines" the two lines a terminal needs, which work as they are
    page.evaluate("document.getElementById('copy-status').textContent = ''")
    page.get_by_role("button", name="Copy these lines").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    lines = page.evaluate("navigator.clipboard.readText()").splitlines()
    assert lines[0] == f"export TOKEN={token}"
    assert lines[1].startswith('curl -H "Authorization: Bearer $TOKEN" http') and lines[1].endswith(reverse("api-me"))
    # and nothing on the page is wider than the screen (the token wraps instead)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = shell.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
