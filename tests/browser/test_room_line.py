"""The waiting page far back reads the room's line document, and polls its own status only in the front zone."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.test_journeys import sign_up
from tests.waitingroom.factories import published_room
from waitingroom import schedule
from waitingroom.services.queue import room_join, room_leave

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_asked(page, asked: list[str], path: str, *, since: int, seconds: int = 15) -> None:
    """Until the page has requested `path` (the page's event loop runs while it waits)."""
    for _ in range(seconds * 5):
        if any(url.endswith(path) for url in asked[since:]):
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the page never asked for {path}: {asked[since:]}")


def test_far_back_the_page_places_itself_from_the_line_document_then_polls_in_the_front_zone(new_page, shots):
    # given a room nobody ticks, with 30 people in line: the front zone is 20 places (rate 1)
    room = published_room(admit_rate=1, max_active=1, silence_timeout_seconds=60)
    ahead = list(range(900_001, 900_031))
    for user_id in ahead:
        room_join(room_id=room.pk, user_id=user_id)
    assert schedule.front_size(rate=1) == 20
    page = new_page()
    sign_up(page, shots, "far-back")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))

    # when they join: 31st, outside the front zone
    page.goto(reverse("room-detail", args=[room.slug]))
    page.get_by_role("button", name="Join the line").click()
    expect(page.locator("[data-field=position]")).to_have_text("31")
    joined = len(asked)

    # then the page reads the line document, not its status, and keeps its place from it
    line_url = reverse("api-room-line", args=[room.slug])
    status_url = reverse("api-room-status", args=[room.slug])
    wait_asked(page, asked, line_url, since=joined)
    expect(page.locator("[data-field=position]")).to_have_text("31")
    assert not any(status_url in url for url in asked[joined:])

    # and when 15 ahead leave, the next document puts them in the front zone: they poll their status
    for user_id in ahead[:15]:
        room_leave(room_id=room.pk, user_id=user_id)
    expect(page.locator("[data-field=position]")).to_have_text("16", timeout=20_000)
    wait_asked(page, asked, status_url, since=joined)
    shots(page, "front-zone")
