"""The rankings page in Chromium: every value with its unit, the last-24-hours boards, charts with
labelled axes, no horizontal overflow on a phone; and the drop page sending its view beacon."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from ranking import services
from ranking.models import Board
from tests import processes
from tests.browser.test_seats import in_viewport, no_horizontal_overflow
from tests.coupons.factories import published_campaign
from tests.ranking.factories import views_board

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web_server(tmp_path, transactional_db):
    """The site with every view's beacon sent (p = 1), so one visit is one counted view."""
    proc = processes.start_web(tmp_path, VIEW_BEACON_SAMPLE_RATE="1")
    yield proc
    proc.stop()


def boards() -> dict[str, Board]:
    """The shipped boards (transactional tests start without the data migration's rows)."""
    Board.objects.all().delete()
    made = {
        "hottest": Board.objects.create(
            slug="hottest", title="Hottest drops", metric="claims", rolling_24h=True, all_time=False, position=1
        ),
        "most-viewed": views_board(position=2),
        "fastest": Board.objects.create(
            slug="fastest-sell-outs", title="Fastest sell-outs", metric="sell_out_seconds", direction="asc", position=3
        ),
        "served": Board.objects.create(
            slug="most-served", title="Most people served", metric="users_served", daily=False, weekly=False, position=4
        ),
    }
    services.boards_forget()
    return made


def test_the_drop_page_sends_its_beacon_and_the_rankings_read_with_units_and_axes_on_a_phone(new_page, shots):
    # given the boards and two drops, one claimed over the last hours, the other sold out in 65 s
    made = boards()
    busy = published_campaign(slug="busy", title="Busy drop", quantity=100)
    quick = published_campaign(slug="quick", title="Quick drop", quantity=100)
    now = timezone.now()
    services.event_record(metric="claims", member=busy.pk, at=now - timedelta(hours=20), amount=5)
    services.event_record(metric="claims", member=quick.pk, at=now - timedelta(minutes=30), amount=2)
    services.boards_snapshot(now=now - timedelta(minutes=10))
    services.event_record(metric="claims", member=busy.pk, at=now - timedelta(minutes=5), amount=7)
    services.boards_snapshot(now=now)
    services.event_record(metric="sell_out_seconds", member=quick.pk, at=now, amount=65, mode="set")
    services.event_record(metric="users_served", member=busy.pk, at=now, amount=12)

    # when a visitor opens the busy drop's page: it posts its beacon, a request of its own
    page = new_page()
    with page.expect_response(lambda r: r.url.endswith(reverse("api-view-beacon"))) as beacon:
        page.goto(reverse("campaign-detail", args=["busy"]))
    assert beacon.value.status == 202 and beacon.value.json() == {"counted": True, "views": 1}
    assert beacon.value.request.method == "POST"
    # a reload within the minute is the same visitor (localStorage) and counts once
    with page.expect_response(lambda r: r.url.endswith(reverse("api-view-beacon"))) as again:
        page.reload()
    assert again.value.json() == {"counted": False, "views": 0}
    views = services.board_top(board=made["most-viewed"], key="24h")
    assert [(r.member, r.value) for r in views] == [(str(busy.pk), 1)]

    # then the rankings page opens on the last 24 hours, on a phone
    page.goto(reverse("rankings"))
    expect(page.get_by_role("link", name="Last 24 hours")).to_have_attribute("aria-current", "page")
    hottest = page.locator('[data-board="hottest"]')
    expect(hottest.get_by_role("heading", name="Hottest drops")).to_be_visible()
    assert in_viewport(page, page.get_by_role("link", name="Last 24 hours"))
    expect(hottest.locator(".ranking li").first).to_have_text(re.compile(r"1\s*Busy drop\s*12 claims"))
    expect(hottest.locator(".ranking li").nth(1)).to_have_text(re.compile(r"2\s*Quick drop\s*2 claims"))
    viewed = page.locator('[data-board="most-viewed"]')
    expect(viewed.locator(".ranking li").first).to_have_text(re.compile(r"1\s*Busy drop\s*about 1 view"))
    expect(viewed).to_contain_text("estimated")
    # the chart has a labelled value axis with the unit and a time axis in the site's zone
    chart = hottest.locator("figure.chart svg")
    expect(chart.locator('[data-axis-title="y"]')).to_have_text("claims")
    expect(chart.locator('[data-axis-title="x"]')).to_have_text(re.compile(r"time \(KST\)"))
    expect(chart.locator('[data-axis="y"]')).to_have_count(3)
    expect(chart.locator('[data-axis="x"]')).to_have_count(3)
    chart.scroll_into_view_if_needed()
    assert in_viewport(page, chart)
    assert no_horizontal_overflow(page)
    shots(page, "rankings-24h-phone")

    # all time: the sell-out in minutes and seconds, people served, and no chart that says nothing
    page.get_by_role("link", name="All time").click()
    expect(page.locator('[data-board="fastest-sell-outs"] .ranking li').first).to_contain_text("1 min 5 s")
    expect(page.locator('[data-board="most-served"] .ranking li').first).to_contain_text("12 people served")
    expect(page.locator('[data-board="hottest"]')).to_have_count(0)  # claims all time = people served: one board
    expect(page.locator("figure.chart")).to_have_count(0)
    assert no_horizontal_overflow(page)
    shots(page, "rankings-all-time-phone")


def test_a_korean_reader_sees_the_units_in_korean(new_page):
    boards()
    drop = published_campaign(slug="drop", title="드롭")
    services.event_record(metric="claims", member=drop.pk, at=timezone.now(), amount=3)
    page = new_page(locale="ko-KR")
    page.goto(reverse("rankings"))
    expect(page.get_by_role("link", name="최근 24시간")).to_have_attribute("aria-current", "page")
    expect(page.locator('[data-board="hottest"] .ranking li').first).to_contain_text("3건")
    assert no_horizontal_overflow(page)
