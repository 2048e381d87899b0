"""Staff close a room and reopen it (issue 16, item 6): a closed room's passes claim nothing until it reopens."""

import pytest
from django.urls import reverse

from accounts.models import User
from coupons.models import Grant
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import assert_error, client_with
from tests.coupons.factories import published_campaign
from tests.waitingroom.factories import published_room
from tests.waitingroom.test_room import account_token, admitted_pass
from waitingroom import redis as room_redis
from waitingroom.errors import RoomClosed
from waitingroom.models import WaitingRoom
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join
from waitingroom.services.rooms import room_close, room_pause, room_resume

pytestmark = pytest.mark.django_db(transaction=True)


def admin_action(client, room, action: str) -> None:
    response = client.post(
        reverse("admin:waitingroom_waitingroom_changelist"), {"action": action, "_selected_action": [room.pk]}
    )
    assert response.status_code == 302, response


def test_staff_close_stops_claims_with_passes_and_reopen_gives_them_back(client):
    # given: two users admitted to a room in front of five slots, each holding a pass
    staff = User.objects.create_superuser("boss", "boss@example.com", "pw-for-boss-123")
    client.force_login(staff)
    campaign = published_campaign(quantity=5)
    room = published_room(campaign=campaign, admit_rate=5, max_active=5)
    first, second = UserFactory.create_batch(2)
    for user in (first, second):
        room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    passes = {user.pk: admitted_pass(room, user.pk) for user in (first, second)}
    claim_url = f"/api/v1/campaigns/{campaign.slug}/claims/"

    # when: staff close the room in the admin
    admin_action(client, room, "close")
    room.refresh_from_db()
    assert (room.status, room.closed_reason) == (WaitingRoom.Status.CLOSED, "staff")

    # then: a pass claims nothing (409 closed, not a spent pass), and nobody joins
    api = client_with(account_token(first))
    assert_error(api.post(claim_url, {"access_pass": passes[first.pk]}, format="json"), 409, "closed")
    assert not Grant.objects.exists()
    assert room_redis.counts(room_id=room.pk) == (0, 2)  # both passes still outstanding, none used
    assert_error(client_with(account_token(UserFactory())).post(f"/api/v1/rooms/{room.slug}/join/"), 409, "closed")

    # when: staff resume it in the admin
    admin_action(client, room, "resume")
    room.refresh_from_db()
    assert (room.status, room.closed_reason) == (WaitingRoom.Status.QUEUEING, "")

    # then: the same passes work again, once each
    assert api.post(claim_url, {"access_pass": passes[first.pk]}, format="json").status_code == 202
    second_api = client_with(account_token(second))
    assert second_api.post(claim_url, {"access_pass": passes[second.pk]}, format="json").status_code == 202
    assert Grant.objects.filter(campaign=campaign).count() == 2
    assert room_join(room_id=room.pk, user_id=UserFactory().pk).outcome == "queued"


def test_resume_reopens_only_what_staff_closed():
    campaign = published_campaign(quantity=1)
    sold_out = published_room(campaign=campaign)
    sold_out = room_close(room=sold_out, reason="sold_out")
    with pytest.raises(RoomClosed):  # the tick reopens it when a slot comes back
        room_resume(room=sold_out)
    ended = room_close(room=published_room(), reason="campaign_ended")
    with pytest.raises(RoomClosed):
        room_resume(room=ended)
    paused_then_closed = room_close(room=room_pause(room=published_room()), reason="staff")
    assert room_resume(room=paused_then_closed).status == WaitingRoom.Status.QUEUEING
