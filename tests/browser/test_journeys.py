"""What people do on their phones, in a real browser against the real web server, worker and beat."""

import re
import uuid

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import User
from coupons import seats, services
from coupons.models import Campaign, Grant, LedgerEntry, Seat
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CampaignFactory, published_campaign
from tests.processes import wait_until
from tests.waitingroom.factories import published_room
from waitingroom import services as room_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_up(page, shots, username: str) -> None:
    page.goto(reverse("signup"))
    shots(page, "signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-4-drops")
    page.get_by_label("Password confirmation").fill("a-long-passphrase-4-drops")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name=re.compile(f"Log out.*{username}"))).to_be_visible()


def test_sign_up_wait_in_the_room_get_admitted_claim_and_see_the_wallet_grow(new_page, shots, worker_factory):
    # given a credit drop behind a one-place waiting room (beat's tick admits), and
    # someone ahead who already holds the only active place
    campaign = published_campaign(quantity=5, amount=10)
    room = published_room(campaign=campaign, admit_rate=1, max_active=1)
    worker_factory(name="browser")
    ahead = UserFactory()
    room_services.room_join(room_id=room.pk, user_id=ahead.pk)
    wait_until(lambda: room_services.room_status(room=room, user_id=ahead.pk).outcome == "admitted",
               timeout=30, message="the first user admitted by the tick")  # fmt: skip
    page = new_page()

    # when someone signs up, goes to the drop and joins the line
    sign_up(page, shots, "minji")
    page.goto(reverse("campaign-detail", args=[campaign.slug]))
    shots(page, "campaign-behind-room")
    page.get_by_role("link", name="Go to the waiting room").click()
    page.get_by_role("button", name="Join the line").click()

    # then they wait first in line while the place is taken
    expect(page.locator("[data-field=position]")).to_have_text("1")
    shots(page, "waiting")

    # and once the one ahead claims (their pass frees the place), the page admits them by itself
    ahead_pass = room_services.room_status(room=room, user_id=ahead.pk).access_pass
    services.claim_create(campaign_id=campaign.pk, user_id=ahead.pk, access_pass=ahead_pass)
    claim = page.get_by_role("button", name="Claim now")
    expect(claim).to_be_visible(timeout=30_000)
    shots(page, "admitted")
    claim.click()

    # and their grant turns to succeeded on the page without a reload, and the wallet grew
    expect(page.locator("[data-field=grant-status]")).to_have_text(re.compile("succeeded", re.I), timeout=30_000)
    shots(page, "grant-succeeded")
    page.goto(reverse("my-grants"))
    expect(page.locator(".amount").first).to_have_text("10 KRW")
    shots(page, "wallet")

    mine = Grant.objects.get(campaign=campaign, user__username="minji")
    assert mine.status == Grant.Status.SUCCEEDED
    assert LedgerEntry.objects.filter(grant=mine).count() == 1
    assert Grant.objects.filter(campaign=campaign).count() == 2


def test_pick_a_seat_and_confirm_it(new_page, shots):
    # given a seat campaign and a funded shopper who is logged in
    campaign = CampaignFactory(quantity=1, amount=0, title="Concert")
    seats.seat_map_generate(campaign=campaign, rows="A-B:50000", seats_per_row=4)
    services.campaign_publish(campaign=Campaign.objects.get(pk=campaign.pk))
    page = new_page()
    sign_up(page, shots, "jisoo")
    shopper = User.objects.get(username="jisoo")
    services.wallet_adjust(user_id=shopper.pk, amount=120_000, reference=f"browser-fund:{uuid.uuid4()}")

    # when they pick A-2 on the map and confirm
    page.goto(reverse("campaign-detail", args=[campaign.slug]))
    shots(page, "seat-map")
    page.get_by_role("button", name=re.compile(r"^Seat A-2,")).click()
    expect(page.locator("[data-field=hold]")).to_contain_text("Seat A-2 is yours for")
    shots(page, "held")
    page.get_by_role("button", name="Confirm and pay").click()
    expect(page.locator("[data-field=hold]")).to_have_text("Seat A-2 is yours. Enjoy the show!")
    shots(page, "confirmed")

    # then the seat is sold to them, paid once, and the map shows it as theirs after a reload
    seat = Seat.objects.get(campaign=campaign, label="A-2")
    assert seat.status == Seat.Status.SOLD and seat.sold_to_id == shopper.pk
    assert LedgerEntry.objects.filter(grant__campaign=campaign, kind=LedgerEntry.Kind.PURCHASE).count() == 1
    page.reload()
    expect(page.get_by_role("button", name=re.compile(r"^Seat A-2,"))).to_have_class(re.compile("seat--(mine|sold)"))
    shots(page, "map-after")


def test_a_korean_phone_gets_korean_pages_and_the_switcher_changes_them(new_page, shots, worker_factory):
    # given a Korean phone and an open credit drop
    campaign = published_campaign(quantity=3, amount=10_000, title="만 원 선착순")
    worker_factory(name="browser-ko")
    page = new_page(locale="ko-KR")

    # when they sign up (in Korean) and claim with the page's script
    page.goto(reverse("signup"))
    expect(page.get_by_role("heading", name="계정 만들기")).to_be_visible()
    page.get_by_label("사용자 이름").fill("서연")
    page.get_by_label("이메일").fill("seoyeon@example.com")
    page.get_by_label("비밀번호", exact=True).fill("a-long-passphrase-4-drops")
    page.get_by_label("비밀번호 확인").fill("a-long-passphrase-4-drops")
    page.get_by_role("button", name="회원가입").click()
    page.goto(reverse("campaign-detail", args=[campaign.slug]))
    expect(page.get_by_text("지갑에 10,000원 적립")).to_be_visible()
    page.get_by_role("button", name="지금 신청").click()

    # then the script's messages and live statuses are Korean too
    expect(page.locator("[data-field=claim-result]")).to_contain_text("지급 완료", timeout=30_000)
    shots(page, "claimed-in-korean")

    # and the switcher turns the site to English and it stays so
    page.get_by_label("언어").select_option("en")
    expect(page.get_by_text("10,000 KRW into your wallet")).to_be_visible()
    page.goto(reverse("my-grants"))
    expect(page.locator(".amount").first).to_have_text("10,000 KRW")
    shots(page, "switched-to-english")
