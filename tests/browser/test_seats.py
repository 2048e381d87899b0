"""Buying a seat as a ticketing customer expects it: prices in sight, a hall laid out by section and row,
the hold panel in view on a phone, refusals that stay in words, and the seat shown as yours after paying."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from coupons.models import Campaign, LedgerEntry, Seat
from coupons.seats.services import seat_map_generate
from coupons.services.campaigns import campaign_publish
from tests.accounts.factories import DEFAULT_PASSWORD
from tests.coupons.factories import CampaignFactory, funded_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def concert(**fields) -> Campaign:
    campaign = CampaignFactory(quantity=1, amount=0, title="Concert", **fields)
    seat_map_generate(campaign=campaign, rows="A-B:50000, C-D:30000", seats_per_row=12)
    campaign_publish(campaign=Campaign.objects.get(pk=campaign.pk))
    return campaign


def log_in(page, username: str) -> None:
    page.goto(reverse("login"))
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("form[action$='/logout/'] button")).to_be_attached()  # behind the Menu button on a phone


def seat(page, label: str):
    return page.get_by_role("button", name=re.compile(rf"^Seat {label},"))


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    view = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= view["height"] and box["x"] >= 0


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_on_a_phone_the_prices_the_hall_and_the_hold_panel_are_in_view_and_the_seat_becomes_yours(new_page, shots):
    # given a hall of two priced sections and a shopper with 120,000 KRW, on a phone
    campaign = concert()
    funded_user(120_000, username="jisoo")
    page = new_page()
    log_in(page, "jisoo")

    # when they open the seat map
    page.goto(reverse("campaign-detail", args=[campaign.slug]))
    shots(page, "map")

    # then every section's price and the stage are shown, and the balance they pay from
    legend = page.get_by_role("list", name="Prices")
    expect(legend).to_contain_text("Rows A-B: 50,000 KRW")
    expect(legend).to_contain_text("Rows C-D: 30,000 KRW")
    expect(page.get_by_text("Stage", exact=True)).to_be_visible()
    expect(page.locator("[data-field=balance]")).to_have_text("120,000 KRW")
    # and rows line up by number, with an aisle in the middle, the map scrolling inside its frame
    a1, b1, a6, a7 = (seat(page, label).bounding_box() for label in ("A-1", "B-1", "A-6", "A-7"))
    assert a1["x"] == b1["x"] and b1["y"] > a1["y"]
    assert a7["x"] - a6["x"] > 1.5 * (a6["width"])  # the aisle between seats 6 and 7
    assert no_horizontal_overflow(page)

    # when they tap a seat of the back section, far down the page
    seat(page, "D-7").scroll_into_view_if_needed()
    seat(page, "D-7").click()

    # then the panel with the seat, its price, the countdown and Confirm stays on screen
    panel = page.locator("[data-field=panel]")
    expect(panel.locator("[data-field=hold]")).to_have_text(re.compile(r"Seat D-7 · 30,000 KRW"))
    expect(panel.locator("[data-field=countdown]")).to_have_text(re.compile(r"^Held for you for [0-9]:[0-5][0-9]$"))
    expect(panel.locator("[data-field=total]")).to_have_text("Total 30,000 KRW · your balance after: 90,000 KRW")
    confirm = page.get_by_role("button", name="Confirm and pay")
    expect(confirm).to_be_visible()
    assert in_viewport(page, confirm) and in_viewport(page, panel.locator("[data-field=countdown]"))
    expect(seat(page, "D-7")).to_have_class(re.compile("seat--mine"))
    shots(page, "held")

    # when they confirm
    confirm.click()

    # then the seat is theirs, the balance line shows what is left, and it stays so after a reload
    expect(panel.locator("[data-field=hold]")).to_have_text("Seat D-7 is yours: 30,000 KRW paid. Enjoy the show!")
    expect(page.locator("[data-field=balance]")).to_have_text("90,000 KRW")
    expect(seat(page, "D-7")).to_have_class(re.compile("seat--bought"))
    shots(page, "bought")
    page.reload()
    expect(seat(page, "D-7")).to_have_class(re.compile("seat--bought"))
    expect(seat(page, "D-7")).to_have_attribute("aria-label", re.compile(r"yours$"))
    expect(page.locator("[data-field=balance]")).to_have_text("90,000 KRW")
    expect(panel.locator("[data-field=hold]")).to_contain_text("Your seat: D-7, 30,000 KRW paid.")
    assert Seat.objects.get(campaign=campaign, label="D-7").sold_to.username == "jisoo"
    assert LedgerEntry.objects.filter(grant__campaign=campaign, kind=LedgerEntry.Kind.PURCHASE).count() == 1

    # and holding a second seat is refused in words that stay while the map and the countdown tick on
    seat(page, "A-2").click()
    error = page.get_by_role("alert")
    expect(error).to_have_text("You already have a seat for this event.")
    for _ in range(2):  # two refreshes of the map (every 2 s), and the countdown's ticks between them
        with page.expect_response(lambda response: response.url.endswith(f"/campaigns/{campaign.slug}/seats/")):
            pass
    expect(error).to_have_text("You already have a seat for this event.")
    assert in_viewport(page, error)
    expect(seat(page, "A-2")).to_have_class(re.compile("seat--free"))
    shots(page, "refused")


def test_on_a_desktop_a_wallet_too_small_is_refused_up_front_and_the_refusal_stays_until_the_next_tap(new_page, shots):
    # given a shopper whose wallet holds less than the front seats cost
    campaign = concert()
    funded_user(40_000, username="minho")
    page = new_page(desktop=True)
    log_in(page, "minho")
    page.goto(reverse("campaign-detail", args=[campaign.slug]))

    # when they tap a 50,000 KRW seat
    seat(page, "A-3").click()

    # then nothing is held and the page says why, with both amounts
    error = page.get_by_role("alert")
    expect(error).to_have_text(re.compile(r"Your balance \(40,000 KRW\) is below this seat's price \(50,000 KRW\)"))
    expect(seat(page, "A-3")).to_have_class(re.compile("seat--free"))
    expect(page.get_by_role("button", name="Confirm and pay")).to_be_hidden()
    assert no_horizontal_overflow(page)
    shots(page, "refused")

    # and a seat they can pay is held at the next tap, the old refusal gone
    seat(page, "C-3").click()
    expect(page.locator("[data-field=countdown]")).to_contain_text("Held for you for")
    expect(error).to_be_hidden()
    expect(page.locator("[data-field=total]")).to_have_text("Total 30,000 KRW · your balance after: 10,000 KRW")
    shots(page, "held")


def test_a_korean_phone_sees_prices_states_and_refusals_in_korean(new_page, shots):
    campaign = concert()
    funded_user(10_000, username="seoyeon")
    page = new_page(locale="ko-KR")
    log_in(page, "seoyeon")
    page.goto(reverse("campaign-detail", args=[campaign.slug]))
    expect(page.locator(".price-legend")).to_contain_text("50,000원")
    expect(page.locator(".seat[data-label='A-1']")).to_have_attribute("aria-label", re.compile("빈 좌석$"))
    page.locator(".seat[data-label='C-1']").click()
    expect(page.get_by_role("alert")).to_contain_text("10,000원")
    shots(page, "refused-in-korean")
