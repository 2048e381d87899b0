"""A closed room leaves Redis after its grace (issue 17, item 8): its queue goes, a tombstone answers joins."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tests.accounts.factories import UserFactory
from tests.isolation import redis_flush
from tests.waitingroom.factories import published_room
from waitingroom import redis as room_redis
from waitingroom.errors import RoomClosed
from waitingroom.models import WaitingRoom
from waitingroom.services.queue import room_join, room_status
from waitingroom.services.retire import room_retire, rooms_retire
from waitingroom.services.rooms import room_close, room_resume, room_settings_change

pytestmark = pytest.mark.django_db(transaction=True)


def after_grace():
    return timezone.now() + timedelta(seconds=settings.REDIS_RETIRE_GRACE_SECONDS + 1)


def test_a_closed_room_of_no_campaign_drops_its_queue_after_the_grace_and_stays_closed(redis_clean):
    # given: a room with 6 in line, closed by staff
    room = published_room()
    users = UserFactory.create_batch(6)
    for user in users:
        room_join(room_id=room.pk, user_id=user.pk)
    open_room = published_room()
    room_close(room=room)

    # when: the grace runs, nothing goes; past it the closed room goes, the open one stays
    assert rooms_retire(now=timezone.now()) == 0
    assert room_redis.counts(room_id=room.pk) == (6, 0)
    assert rooms_retire(now=after_grace()) == 1

    # then: one meta hash is left, and the room answers as a closed room
    keys = room_redis.RoomKeys.of(room.pk)
    assert [key for key in keys.all() if redis_clean.exists(key)] == [keys.meta]
    room.refresh_from_db()
    assert room.retired_at is not None and open_room.retired_at is None
    with pytest.raises(RoomClosed):
        room_join(room_id=room.pk, user_id=users[0].pk)
    assert room_status(room=room, user_id=users[1].pk).outcome == "absent"
    assert room_redis.counts(room_id=room.pk) == (0, 0)

    # a retired room cannot reopen, and a staff edit or a lost meta brings back the tombstone only
    with pytest.raises(RoomClosed):
        room_resume(room=room)
    tombstone = redis_clean.hgetall(keys.meta)
    room_settings_change(room=room, admit_rate=99)
    redis_flush()
    with pytest.raises(RoomClosed):
        room_join(room_id=room.pk, user_id=users[2].pk)
    assert redis_clean.hgetall(keys.meta) == tombstone
    assert room_retire(room_id=room.pk, now=after_grace()) is None  # once only
    assert WaitingRoom.objects.get(pk=room.pk).status == WaitingRoom.Status.CLOSED
