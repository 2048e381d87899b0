"""The waiting page through its states, the protected campaign page, and the rooms admin."""

import re

import pytest
from django.urls import reverse

from accounts.models import User
from coupons.models import Grant
from tests.coupons.factories import published_campaign
from tests.waitingroom.factories import published_room
from waitingroom.models import WaitingRoom
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join
from waitingroom.services.rooms import room_close, room_pause

pytestmark = pytest.mark.django_db(transaction=True)


def test_waiting_page_from_join_to_claim(client, user):
    campaign = published_campaign(quantity=3)
    room = published_room(campaign=campaign, admit_rate=5, max_active=5)
    client.force_login(user)

    page = client.get(f"/campaigns/{campaign.slug}/").content.decode()
    assert "Go to the waiting room" in page and f"/rooms/{room.slug}/" in page

    assert "Join the line" in client.get(f"/rooms/{room.slug}/").content.decode()
    client.post(f"/rooms/{room.slug}/join/")
    page = client.get(f"/rooms/{room.slug}/").content.decode()
    assert 'data-field="position">1<' in page and 'http-equiv="refresh"' in page

    room_tick(room=room)
    page = client.get(f"/rooms/{room.slug}/").content.decode()
    assert "It's your turn" in page
    access_pass = re.search(r'name="access_pass" value="([^"]+)"', page).group(1)
    response = client.post(f"/campaigns/{campaign.slug}/claim/", {"access_pass": access_pass})
    assert response.status_code == 302
    assert Grant.objects.filter(campaign=campaign, user=user).count() == 1


def test_claim_form_without_a_pass_goes_to_the_room(client, user):
    campaign = published_campaign()
    room = published_room(campaign=campaign)
    client.force_login(user)
    response = client.post(f"/campaigns/{campaign.slug}/claim/")
    assert response["Location"] == f"/rooms/{room.slug}/"
    assert not Grant.objects.exists()


def test_waiting_page_shows_paused_and_sold_out(client, user):
    room = published_room()
    client.force_login(user)
    client.post(f"/rooms/{room.slug}/join/")
    room_pause(room=room)
    assert "Admission is paused" in client.get(f"/rooms/{room.slug}/").content.decode()
    room_close(room=room, reason="sold_out")
    assert "Everything has been claimed" in client.get(f"/rooms/{room.slug}/").content.decode()


def test_rooms_admin_live_numbers_and_actions(client):
    staff = User.objects.create_superuser("boss", "boss@example.com", "pw-for-boss-123")
    client.force_login(staff)
    room = published_room(admit_rate=5, max_active=5)
    for user_id in (staff.pk,):
        room_join(room_id=room.pk, user_id=user_id)
    url = reverse("admin:waitingroom_waitingroom_changelist")
    assert client.get(url).status_code == 200
    detail = client.get(reverse("admin:waitingroom_waitingroom_change", args=[room.pk])).content.decode()
    assert "queued 1 · active 0" in detail
    client.post(url, {"action": "pause", "_selected_action": [room.pk]})
    room.refresh_from_db()
    assert room.status == WaitingRoom.Status.PAUSED
    assert client.get(f"/api/v1/rooms/{room.slug}/stats/").json()["queued"] == 1
