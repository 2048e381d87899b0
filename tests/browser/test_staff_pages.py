"""Staff pages read well where staff use them: the dashboard on a phone and following new drops, the
campaign list at 1366 px."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from tests.coupons.factories import published_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def staff_page(new_page, *, desktop: bool, width: int | None = None, timezone_id: str | None = None):
    User.objects.create_superuser("ops", "ops@example.com", "ops-passphrase-123")
    page = new_page(desktop=desktop, timezone_id=timezone_id)
    if width:
        page.set_viewport_size({"width": width, "height": 900})
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill("ops-passphrase-123")
    page.get_by_role("button", name="Log in").click()
    return page


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_dashboard_on_a_phone_follows_a_new_drop_on_the_sites_clock(new_page, shots):
    # given a drop open for an hour, and staff on a phone whose browser is in another time zone
    published_campaign(slug="first", title="First drop", opens_at=timezone.now() - timedelta(hours=1))
    page = staff_page(new_page, desktop=False, timezone_id="America/New_York")
    page.goto("/admin/dashboard/")
    status = page.locator("[data-field=status]")
    expect(status).to_contain_text("(Asia/Seoul)")
    shown = status.inner_text().split()[1]  # "updated HH:MM:SS (Asia/Seoul)"
    seoul = timezone.localtime().strftime("%H:%M")
    assert shown[:5] in {seoul, (timezone.localtime() - timedelta(minutes=1)).strftime("%H:%M")}, (shown, seoul)
    assert no_horizontal_overflow(page)
    shots(page, "dashboard-phone")
    # when a newer drop goes live
    newer = published_campaign(slug="second", title="Second drop", opens_at=timezone.now() - timedelta(seconds=1))
    # then the dashboard moves to it on its own, within a few polls
    expect(page.locator("#dashboard")).to_have_attribute("data-campaign-id", str(newer.pk), timeout=10_000)
    expect(page.locator("#campaign option:checked")).to_contain_text("Second drop")
    assert no_horizontal_overflow(page)


def test_the_campaign_list_reads_at_1366_px(new_page, shots):
    # given campaigns with long titles and large numbers
    for n in range(3):
        published_campaign(
            slug=f"big-{n}", title=f"Ten thousand won for the first ten thousand people, round {n}", quantity=10_000
        )
    page = staff_page(new_page, desktop=True, width=1366)
    page.goto("/admin/coupons/campaign/")
    shots(page, "changelist")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    # numbers carry thousands separators
    expect(rows.first.locator("td.field-slots")).to_have_text("10,000")
    expect(rows.first.locator("td.field-remaining")).to_have_text("10,000")
    # a title takes at most two lines, and no column is clipped or pushes the page sideways
    title = rows.first.locator("th.field-title, td.field-title").first
    line = page.evaluate("(el) => parseFloat(getComputedStyle(el).lineHeight) || 18", title.element_handle())
    assert title.bounding_box()["height"] <= 2 * line + 18, title.bounding_box()  # padding and border
    # the list's own scroller does not scroll: every column is in view
    assert page.evaluate(
        "(() => { const box = document.querySelector('#changelist .results');"
        " return box.scrollWidth <= box.clientWidth; })()"
    )
    for column in ("grants", "remaining", "opens", "closes"):
        expect(rows.first.locator(f"td.field-{column}")).to_be_in_viewport()
    assert no_horizontal_overflow(page)
