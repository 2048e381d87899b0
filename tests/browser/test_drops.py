"""Drops and what you got: cards that say what each drop is and when it opened, a claim whose result says
what was granted with a link to it, and a grants page with the seat, the amount or the code, dated with the zone."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from coupons.models import Campaign
from coupons.seats.services import seat_confirm, seat_hold, seat_map_generate
from coupons.services.campaigns import campaign_publish
from tests.browser.test_seats import log_in, no_horizontal_overflow
from tests.coupons.factories import CampaignFactory, funded_user, published_campaign

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OK_GREEN = "rgb(21, 127, 59)"  # --ok in static/css/app.css


def card(page, title: str):
    return page.locator(".campaign-card").filter(has=page.get_by_role("link", name=title))


def test_cards_say_what_each_drop_is_when_it_opened_and_how_much_is_left(new_page, shots):
    # given a credit drop that opened, a seat sale, and a coupon drop opening tomorrow
    published_campaign(title="Ten thousand won", amount=10_000, quantity=100)
    concert = CampaignFactory(quantity=1, amount=0, title="Concert", kind=Campaign.Kind.COUPON)
    seat_map_generate(campaign=concert, rows="A:50000, B:30000", seats_per_row=4)
    campaign_publish(campaign=Campaign.objects.get(pk=concert.pk))
    later = timezone.now() + timedelta(days=1)
    published_campaign(title="Coffee coupon", kind=Campaign.Kind.COUPON, amount=3_000, opens_at=later)
    page = new_page(desktop=True)

    page.goto(reverse("home"))
    shots(page, "home")

    # then the seat sale reads as one, with its lowest price, not as a coupon's discount
    seats = card(page, "Concert")
    expect(seats.locator("[data-field=kind]")).to_have_text("Seat sale")
    expect(seats.locator(".amount")).to_have_text("seats from 30,000 KRW")
    # and a past opening says "opened", a future one "opens"
    expect(card(page, "Ten thousand won")).to_contain_text("100 of 100 left · opened")
    expect(card(page, "Coffee coupon")).to_contain_text("opens")
    expect(card(page, "Coffee coupon")).not_to_contain_text("opened")
    # and a full stock bar is green (plenty left), not the brand red that reads "full"
    bar = card(page, "Ten thousand won").locator(".meter > span")
    assert bar.evaluate("el => getComputedStyle(el).backgroundColor") == OK_GREEN
    assert no_horizontal_overflow(page)


def test_a_claim_says_what_it_gave_with_a_link_and_my_grants_show_each_thing_dated_with_the_zone(
    new_page, shots, worker_factory
):
    # given a credit drop, a worker to deliver it, and a shopper who also bought a seat
    campaign = published_campaign(title="Ten won", amount=10, quantity=5)
    concert = CampaignFactory(quantity=1, amount=0, title="Concert")
    seat_map_generate(campaign=concert, rows="A:50000", seats_per_row=4)
    campaign_publish(campaign=Campaign.objects.get(pk=concert.pk))
    shopper = funded_user(100_000, username="haneul")
    hold = seat_hold(campaign_id=concert.pk, user_id=shopper.pk, slot=2)
    seat_confirm(campaign_id=concert.pk, user_id=shopper.pk, slot=2, token=hold.token)
    worker_factory(name="drops")
    page = new_page(desktop=True)
    log_in(page, "haneul")

    # when they claim on the drop's page
    page.goto(reverse("campaign-detail", args=[campaign.slug]))
    page.get_by_role("button", name="Claim now").click()

    # then once delivered the page says what they got, with a link to it, and nothing says "on its way"
    summary = page.locator("[data-field=grant-summary]")
    expect(summary).to_have_text("10 KRW added to your wallet See it", timeout=30_000)
    expect(page.locator(".badge--succeeded")).to_be_visible()
    expect(page.get_by_text(re.compile("on its way"))).to_have_count(0)
    shots(page, "claimed")
    summary.get_by_role("link", name="See it").click()

    # and the grants page shows the credit and the seat with its price, each dated in the site's zone
    expect(page).to_have_url(re.compile(r"/me/#wallet$"))
    rows = page.locator("#claims tbody tr")
    expect(rows.filter(has_text="Ten won").locator("[data-field=got]")).to_have_text("10 KRW added to your wallet")
    expect(rows.filter(has_text="Concert").locator("[data-field=got]")).to_have_text("Seat A-2, 50,000 KRW paid")
    expect(rows.first.locator("time")).to_have_text(re.compile(r"KST$"))
    # and the wallet and coupon cards share the page's width between them (no empty third column)
    wallet, coupons = page.locator("#wallet").bounding_box(), page.locator("#coupons").bounding_box()
    claims = page.locator("#claims").bounding_box()
    assert wallet["y"] == coupons["y"] and wallet["width"] + coupons["width"] > 0.95 * claims["width"]
    assert no_horizontal_overflow(page)
    shots(page, "my-grants")
