"""Heartbeats by arrival number in per-window bitmaps (W5): who stays, who is dropped, odd ids.

Every call passes now_ms, so the windows are deterministic: a room's first
heartbeat starts its window grid, and each window lasts the silence timeout.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from config import redis as fc_redis
from tests.waitingroom.factories import published_room
from waitingroom import redis as room_redis
from waitingroom.errors import RoomClosed, RoomNotOpen
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join, room_status

pytestmark = pytest.mark.django_db(transaction=True)

T = 30_000  # silence timeout of these rooms, ms
T0 = 1_900_000_000_000  # a fixed clock: these rooms live in 2030
OPENS = T0 + 100_000  # opening of the pre-queue rooms


def room_with(**fields):
    fields = {
        "silence_timeout_seconds": T // 1000,
        "admit_rate": 100,
        "max_active": 100,
        "opens_at": timezone.now() - timedelta(days=1),
        **fields,
    }
    return published_room(**fields)


def prequeue_room():
    return room_with(prequeue=True, opens_at=datetime.fromtimestamp(OPENS / 1000, tz=UTC), status="scheduled")


@pytest.mark.parametrize("heard_after", [0, 1_000, T - 1, T, T + T // 2, 2 * T - 1])
def test_heard_within_the_timeout_is_admitted_and_silent_for_two_windows_is_dropped(heard_after):
    # whatever the heartbeat's place in its window
    kept, dropped = room_with(), room_with()
    for room in (kept, dropped):
        room_join(room_id=room.pk, user_id=7, now_ms=T0)  # starts the window grid
        room_status(room=room, user_id=7, now_ms=T0 + heard_after)
    heard = T0 + heard_after

    kept_tick = room_tick(room=kept, now_ms=heard + T - 1)
    dropped_tick = room_tick(room=dropped, now_ms=heard + 2 * T)

    assert (kept_tick.admitted, kept_tick.dropped) == (1, 0)
    assert (dropped_tick.admitted, dropped_tick.dropped) == (0, 1)
    assert room_status(room=dropped, user_id=7, now_ms=heard + 2 * T).outcome == "absent"


def test_huge_user_ids_cost_one_bit_per_arrival():
    room = room_with()
    users = [2**62, 2**40 + 1, 9_223_372_036_854_775_807]  # PostgreSQL bigint max
    for user_id in users:
        room_join(room_id=room.pk, user_id=user_id, now_ms=T0)
        room_status(room=room, user_id=user_id, now_ms=T0 + 1_000)
    keys = room_redis.RoomKeys.of(room.pk)
    assert fc_redis.client().strlen(keys.hb) == 1  # arrivals 1..3: the first byte, whatever the ids
    result = room_tick(room=room, now_ms=T0 + 2_000)
    assert (result.admitted, result.dropped) == (3, 0)
    assert {int(m) for m in fc_redis.client().zrange(keys.active, 0, -1)} == set(users)


def test_prequeue_users_are_kept_alive_by_their_polls():
    room = prequeue_room()
    early = list(range(101, 121))
    for user_id in early:
        assert room_join(room_id=room.pk, user_id=user_id, now_ms=OPENS - 40_000).outcome == "prequeued"
    polling = early[::2]
    for user_id in polling:
        room_status(room=room, user_id=user_id, now_ms=OPENS + 10_000)

    result = room_tick(room=room, now_ms=OPENS + 25_000)

    assert (result.admitted, result.dropped) == (len(polling), len(early) - len(polling))
    admitted = {u for u in early if room_status(room=room, user_id=u, now_ms=OPENS + 26_000).outcome == "admitted"}
    assert admitted == set(polling)


def test_far_apart_arrival_numbers_are_read_one_by_one():
    # over 2^23 arrivals between two users at the front: the tick reads their
    # bits with BITFIELD_RO instead of one GETRANGE of megabytes
    room = room_with()
    keys = room_redis.RoomKeys.of(room.pk)
    room_join(room_id=room.pk, user_id=1, now_ms=T0)  # arrival 1, then silent
    room_join(room_id=room.pk, user_id=2, now_ms=T0 + 2 * T)  # arrival 2
    fc_redis.client().set(keys.seq, 9_000_000)
    room_join(room_id=room.pk, user_id=3, now_ms=T0 + 2 * T)  # arrival 9,000,001

    result = room_tick(room=room, now_ms=T0 + 2 * T + 1_000)

    assert (result.admitted, result.dropped) == (2, 1)
    assert room_status(room=room, user_id=3, now_ms=T0 + 2 * T + 1_000).outcome == "admitted"


def test_arrival_numbers_have_a_ceiling():
    prequeue = prequeue_room()
    room_join(room_id=prequeue.pk, user_id=1, now_ms=OPENS - 1_000)
    fc_redis.client().set(room_redis.RoomKeys.of(prequeue.pk).seq, 2**27 - 1)
    with pytest.raises(RoomNotOpen):  # the pre-queue is full: join at opening
        room_join(room_id=prequeue.pk, user_id=2, now_ms=OPENS - 1_000)

    room = room_with()
    fc_redis.client().set(room_redis.RoomKeys.of(room.pk).seq, 2**27 - 1)  # arrival numbers stay below 2^27
    with pytest.raises(RoomClosed):
        room_join(room_id=room.pk, user_id=1, now_ms=T0)
    assert room_redis.counts(room_id=room.pk) == (0, 0)
