"""What people do on their phones, in a real browser against the real web server, worker and beat."""

import re
import threading
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts import services as account_services
from accounts.models import User
from coupons.models import Campaign, Grant, LedgerEntry, Seat
from coupons.seats.services import seat_map_generate
from coupons.services.campaigns import campaign_publish
from coupons.services.claims import claim_create
from coupons.services.wallets import wallet_adjust
from coupons.spike import spike_fire
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CampaignFactory, published_campaign
from tests.processes import wait_until
from tests.waitingroom.factories import published_room
from waitingroom.services.queue import room_join, room_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_up(page, shots, username: str) -> None:
    page.goto(reverse("signup"))
    shots(page, "signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-4-drops")
    page.get_by_label("Password confirmation").fill("a-long-passphrase-4-drops")
    page.get_by_role("button", name="Sign up").click()
    # signed in: the Log out button names them (behind the Menu button on a phone)
    expect(page.get_by_role("button", name=re.compile(f"Log out.*{username}"), include_hidden=True)).to_be_attached()


def test_sign_up_wait_in_the_room_get_admitted_claim_and_see_the_wallet_grow(new_page, shots, worker_factory):
    # given a credit drop behind a one-place waiting room (beat's tick admits), and
    # someone ahead who already holds the only active place
    campaign = published_campaign(quantity=5, amount=10)
    room = published_room(campaign=campaign, admit_rate=1, max_active=1)
    worker_factory(name="browser")
    ahead = UserFactory()
    room_join(room_id=room.pk, user_id=ahead.pk)
    wait_until(lambda: room_status(room=room, user_id=ahead.pk).outcome == "admitted",
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
    ahead_pass = room_status(room=room, user_id=ahead.pk).access_pass
    claim_create(campaign_id=campaign.pk, user_id=ahead.pk, access_pass=ahead_pass)
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
    seat_map_generate(campaign=campaign, rows="A-B:50000", seats_per_row=4)
    campaign_publish(campaign=Campaign.objects.get(pk=campaign.pk))
    page = new_page()
    sign_up(page, shots, "jisoo")
    shopper = User.objects.get(username="jisoo")
    wallet_adjust(user_id=shopper.pk, amount=120_000, reference=f"browser-fund:{uuid.uuid4()}")

    # when they pick A-2 on the map and confirm
    page.goto(reverse("campaign-detail", args=[campaign.slug]))
    shots(page, "seat-map")
    page.get_by_role("button", name=re.compile(r"^Seat A-2,")).click()
    expect(page.locator("[data-field=hold]")).to_contain_text("Seat A-2 · 50,000 KRW")
    expect(page.locator("[data-field=countdown]")).to_contain_text("Held for you for")
    shots(page, "held")
    page.get_by_role("button", name="Confirm and pay").click()
    expect(page.locator("[data-field=hold]")).to_have_text("Seat A-2 is yours: 50,000 KRW paid. Enjoy the show!")
    shots(page, "confirmed")

    # then the seat is sold to them, paid once, and the map shows it as theirs after a reload
    seat = Seat.objects.get(campaign=campaign, label="A-2")
    assert seat.status == Seat.Status.SOLD and seat.sold_to_id == shopper.pk
    assert LedgerEntry.objects.filter(grant__campaign=campaign, kind=LedgerEntry.Kind.PURCHASE).count() == 1
    page.reload()
    expect(page.get_by_role("button", name=re.compile(r"^Seat A-2,"))).to_have_class(re.compile("seat--bought"))
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


def test_staff_create_a_campaign_in_admin_and_watch_the_dashboard_move(new_page, shots, worker_factory, web_server):
    # given an operator, a worker with beat, and 80 users with API tokens
    worker_factory(name="browser-staff")
    User.objects.create_superuser("ops", "ops@example.com", "ops-passphrase-123")
    tokens = [account_services.api_token_issue(user=user)[0] for user in UserFactory.create_batch(80)]
    page = new_page(desktop=True)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("ops")
    page.get_by_label("Password").fill("ops-passphrase-123")
    page.get_by_role("button", name="Log in").click()

    # when they create a campaign in the admin and open it now
    page.goto("/admin/coupons/campaign/add/")
    page.get_by_label("Title").fill("Flash drop")
    page.get_by_label("Title").press("Tab")  # the admin fills the slug from the title on change
    page.get_by_label("Slug").fill("flash-drop")
    page.get_by_label("Quantity").fill("30")
    page.get_by_label("Amount").fill("100")
    opens, closes = timezone.localtime(), timezone.localtime() + timedelta(days=1)
    page.locator("#id_opens_at_0").fill(opens.strftime("%Y-%m-%d"))
    page.locator("#id_opens_at_1").fill(opens.strftime("%H:%M:%S"))
    page.locator("#id_closes_at_0").fill(closes.strftime("%Y-%m-%d"))
    page.locator("#id_closes_at_1").fill(closes.strftime("%H:%M:%S"))
    shots(page, "campaign-form")
    page.get_by_role("button", name="Save", exact=True).click()
    campaign = Campaign.objects.get(slug="flash-drop")
    page.locator(f"input[name=_selected_action][value='{campaign.pk}']").check()
    page.locator("select[name=action]").select_option("open_now")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("Opened: 1 selected.")

    # and watch the live dashboard while a spike hits the drop
    page.goto("/")
    page.goto("/admin/")
    page.get_by_role("link", name="Open the live dashboard").click()
    expect(page.locator("#dashboard")).to_have_attribute("data-campaign-id", str(campaign.pk))  # the newest live
    expect(page.locator("[data-field=remaining]")).to_have_text("30")
    shots(page, "dashboard-before")
    spike = threading.Thread(
        target=spike_fire,
        kwargs={"base_url": web_server.extra["url"], "path": "/api/v1/campaigns/flash-drop/claims/", "tokens": tokens,
                "requests": 400, "concurrency": 8, "seed": 1},
    )  # fmt: skip
    spike.start()

    # then the numbers move on their own, to the database's
    expect(page.locator("[data-field=accepted]")).to_have_text("30", timeout=60_000)
    spike.join(timeout=120)
    expect(page.locator("[data-field=succeeded]")).to_have_text("30", timeout=60_000)
    expect(page.locator("[data-field=remaining]")).to_have_text("0")
    expect(page.locator("[data-field=pending]")).to_have_text("0")
    page.wait_for_timeout(2500)  # a few more points on the charts for the screenshot
    shots(page, "dashboard-after")
    assert Grant.objects.filter(campaign=campaign, status=Grant.Status.SUCCEEDED).count() == 30
