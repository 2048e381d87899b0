"""A shared drop page (one copy for everybody, docs/pages.md) in a real browser: the logged-in visitor
sees their own name and balance from the fc_me cookie, and the button counts down on the server's
clock, even when this device's clock is a minute off, and claims the instant the drop opens."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.test_seats import log_in
from tests.coupons.factories import funded_user, published_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# This device's clock runs a minute ahead: a countdown on it would open the button a minute early.
SKEWED_CLOCK = "(() => { const now = Date.now; Date.now = () => now() + 60000; })();"


def test_a_logged_in_visitor_sees_their_part_and_claims_at_the_opening_on_the_servers_clock(new_page, shots):
    # given a drop opening in a few seconds and a visitor with money in their wallet
    opens = timezone.now() + timedelta(seconds=8)
    campaign = published_campaign(title="Opening now", quantity=3, opens_at=opens, closes_at=opens + timedelta(days=1))
    user = funded_user(amount=1_234)
    page = new_page(desktop=True)
    page.add_init_script(SKEWED_CLOCK)
    log_in(page, user.username)

    # when they open the drop's page (the copy shared by everybody: no name in it)
    asked = int(time.time())
    answer = page.goto(f"/campaigns/{campaign.slug}/")
    # kept by a proxy through the second of its render only (config/shared_pages.py)
    expires = answer.headers["x-accel-expires"]
    assert expires.startswith("@") and asked <= int(expires[1:]) <= int(time.time()), expires
    assert "set-cookie" not in answer.headers
    assert user.username not in answer.text()
    shots(page, "before-opening")

    # then the page shows their name and balance (from the fc_me cookie) ...
    expect(page.locator("form[action$='/logout/'] button")).to_contain_text(user.username)
    expect(page.locator("[data-me-field=balance]").first).to_have_text("1,234 KRW")
    expect(page.get_by_role("link", name="Log in to claim")).to_be_hidden()
    # ... and a countdown, not an open button, although this device's clock says it opened a minute ago
    button = page.locator("[data-claim-form] button")
    expect(button).to_contain_text("Opens in")
    expect(button).to_be_disabled()

    # when the drop opens on the server's clock, the button works at once
    expect(button).to_be_enabled(timeout=15_000)
    assert time.time() >= opens.timestamp() - 0.3, "the button opened before the drop (device clock used?)"
    assert time.time() <= opens.timestamp() + 2.5
    button.click()
    expect(page.locator("[data-field=claim-result]")).to_contain_text("Slot #1")
    shots(page, "claimed")

    # and a refresh of the shared page shows their claim from the cookie, without a form to claim again
    page.reload()
    expect(page.locator("[data-field=claim-result]")).to_contain_text("Slot #1")
    expect(page.locator("[data-claim-form]")).to_have_count(0)
