"""The waiting page as people in line read it: where they stand and how long, in words; the bar that
moves; paused and sold out said plainly; the turn with its countdown; and a visitor not yet logged in."""

import re
import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.browser.test_seats import in_viewport, log_in, no_horizontal_overflow
from tests.coupons.factories import published_campaign
from tests.waitingroom.factories import published_room
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join, room_leave, room_status
from waitingroom.services.rooms import room_close, room_pause, room_resume

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# every form waitingroom/wait_words.py writes: never a count of seconds
WAIT_IN_WORDS = re.compile(
    r"^(any moment now|less than a minute|about \d+(½)? (minutes?|hours?)|up to \d+ minutes?|\d+ to \d+ minutes)$"
)
WAIT_IN_KOREAN = re.compile(r"^(곧|1분 미만|약 \d+(분|시간)( 반)?|최대 \d+분|\d+~\d+분)$")


def admit(room, user) -> None:
    """Tick until `user`'s turn came: the room admits one a second, so a tick less than a second after the
    previous one may rightly admit nobody (a fast machine); checked, and bounded."""
    deadline = time.monotonic() + 10
    while room_status(room=room, user_id=user.pk).outcome != "admitted":
        assert time.monotonic() < deadline, "not admitted within 10 s of ticks"
        room_tick(room=room)
        time.sleep(0.1)


def line(*, pass_ttl_seconds: int = 60):
    """A drop behind a one-place room whose place is taken, and three people waiting."""
    campaign = published_campaign(quantity=50, amount=10, title="Limited sneakers")
    room = published_room(
        title="Sneakers line", campaign=campaign, admit_rate=1, max_active=1, pass_ttl_seconds=pass_ttl_seconds
    )
    first = UserFactory()
    room_join(room_id=room.pk, user_id=first.pk)
    room_tick(room=room)
    assert room_status(room=room, user_id=first.pk).outcome == "admitted"
    waiting = [UserFactory() for _ in range(3)]
    for user in waiting:
        room_join(room_id=room.pk, user_id=user.pk)
    return campaign, room, first, waiting


def test_an_anonymous_visitor_learns_why_logs_in_and_comes_back_to_the_line(new_page, shots):
    campaign, room, *_ = line()
    UserFactory(username="visitor")
    page = new_page()

    page.goto(reverse("campaign-detail", args=[campaign.slug]))
    page.get_by_role("link", name="Go to the waiting room").click()

    # the room answers with what it is for and what to do, not a bare login form
    expect(page).to_have_url(re.compile(rf"/rooms/{room.slug}/$"))
    expect(page.get_by_text("So many people want Limited sneakers")).to_be_visible()
    go = page.get_by_role("link", name="Log in to join the line")
    expect(go).to_be_visible()
    assert in_viewport(page, go) and no_horizontal_overflow(page)
    shots(page, "anonymous")
    go.click()
    page.locator("#id_username").fill("visitor")
    page.locator("#id_password").fill(DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").click()

    # and after logging in they are back in the room, one click from joining
    expect(page).to_have_url(re.compile(rf"/rooms/{room.slug}/$"))
    expect(page.get_by_role("button", name="Join the line")).to_be_visible()
    shots(page, "back-in-the-room")


def test_in_line_on_a_phone_the_place_the_wait_and_the_bar_read_clearly_and_move(new_page, shots):
    # given three people waiting behind the one place, and someone who joins after them
    _, room, first, waiting = line()
    minji = UserFactory(username="minji")
    page = new_page()
    log_in(page, "minji")
    page.goto(reverse("room-detail", args=[room.slug]))
    page.get_by_role("button", name="Join the line").click()

    # then they read their place, who is ahead, the line's total and the wait in words, all on screen
    expect(page.locator(".position")).to_have_text(re.compile(r"^\s*You are number 4 in line\s*$"))
    facts = page.locator(".facts")
    expect(facts).to_contain_text("People ahead of you3")
    expect(facts).to_contain_text("In the whole line4 waiting")
    eta = page.locator("[data-field=eta]")
    expect(eta).to_have_text(WAIT_IN_WORDS)
    assert in_viewport(page, eta) and no_horizontal_overflow(page)
    bar = page.get_by_role("progressbar", name="Your way to the front")
    expect(bar).to_have_attribute("aria-valuenow", "0")
    shots(page, "fourth")

    # when two of those ahead leave, the page moves them up and the bar fills by the share covered
    room_leave(room_id=room.pk, user_id=waiting[0].pk)
    room_leave(room_id=room.pk, user_id=waiting[1].pk)
    expect(page.locator("[data-field=position]")).to_have_text("2", timeout=15_000)
    expect(page.locator("[data-field=ahead]")).to_have_text("1")
    expect(bar).to_have_attribute("aria-valuenow", "67")
    shots(page, "second")
    # and a reload keeps the bar where it was (the start of their way is remembered)
    page.reload()
    expect(page.get_by_role("progressbar", name="Your way to the front")).to_have_attribute("aria-valuenow", "67")

    # when staff pause admission, the page says so and why, with no number for the wait
    room_pause(room=room)
    expect(page.get_by_text("Admission is paused for a moment by the organisers")).to_be_visible(timeout=15_000)
    expect(eta).to_have_text("on hold while paused")
    shots(page, "paused")
    room_resume(room=room)
    expect(page.get_by_text("Admission is paused for a moment")).to_be_hidden(timeout=15_000)

    # when their turn comes: a countdown of the pass and one big Claim now, in view
    room_leave(room_id=room.pk, user_id=waiting[2].pk)
    room_leave(room_id=room.pk, user_id=first.pk)
    admit(room, minji)
    claim = page.get_by_role("button", name="Claim now")
    expect(claim).to_be_visible(timeout=15_000)
    expect(page.get_by_text("It's your turn!")).to_be_visible()
    expect(page.locator("[data-field=pass-left]")).to_have_text(re.compile(r"^[01]:[0-5][0-9]$"))
    assert in_viewport(page, claim) and claim.bounding_box()["height"] >= 56
    shots(page, "admitted")

    # when the drop sells out and the room closes, the page says it and stops
    room_close(room=room, reason="sold_out")
    page.reload()
    expect(page.get_by_text("Everything has been claimed.")).to_be_visible()
    expect(page.get_by_role("button", name="Claim now")).to_have_count(0)
    shots(page, "sold-out")


def test_a_pass_that_runs_out_says_so_and_offers_the_line_again(new_page, shots):
    _, room, first, waiting = line(pass_ttl_seconds=4)
    for user in waiting:
        room_leave(room_id=room.pk, user_id=user.pk)
    UserFactory(username="late")
    page = new_page(desktop=True)
    log_in(page, "late")
    room_leave(room_id=room.pk, user_id=first.pk)
    user = type(first).objects.get(username="late")
    room_join(room_id=room.pk, user_id=user.pk)
    admit(room, user)
    page.goto(reverse("room-detail", args=[room.slug]))
    expect(page.get_by_role("button", name="Claim now")).to_be_visible()

    # the countdown reaches zero: the claim button gives way to the words and "join again"
    expect(page.get_by_text("Your pass has expired")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("button", name="Claim now")).to_be_hidden()
    expect(page.get_by_role("button", name="Join the line again")).to_be_visible()
    shots(page, "expired")
    # and the page after a reload says when their turn ended
    page.reload()
    expect(page.get_by_text("Your last turn ended at")).to_be_visible()
    expect(page.get_by_role("button", name="Join the line")).to_be_visible()


def test_a_korean_phone_reads_the_place_and_the_wait_in_korean(new_page, shots):
    _, room, *_ = line()
    UserFactory(username="seoyeon")
    page = new_page(locale="ko-KR")
    log_in(page, "seoyeon")
    page.goto(reverse("room-detail", args=[room.slug]))
    page.get_by_role("button", name="줄 서기").click()
    expect(page.locator(".position")).to_have_text(re.compile(r"대기 순번\s*4\s*번째"))
    expect(page.locator(".facts")).to_contain_text("4명 대기 중")
    expect(page.locator("[data-field=eta]")).to_have_text(WAIT_IN_KOREAN)
    assert no_horizontal_overflow(page)
    shots(page, "korean")
