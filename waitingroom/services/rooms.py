"""Rooms: created and changed by staff, published to Redis (the queue and counters there are kept)."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config import clock
from waitingroom import redis as room_redis
from waitingroom.errors import RoomClosed, RoomNotFound
from waitingroom.models import WaitingRoom
from waitingroom.protected import campaign_room_changed
from waitingroom.services.retire import room_tombstone_write

Status = WaitingRoom.Status
ClosedReason = WaitingRoom.ClosedReason


def room_create(*, slug: str, title: str, opens_at: datetime, campaign_id: int | None = None, **fields) -> WaitingRoom:
    """A room, validated and published to Redis (in front of `campaign_id`, whose claims then need its
    passes); `fields` set the rest (status, rates, limits, back-pressure)."""
    room = WaitingRoom(slug=slug, title=title, opens_at=opens_at, campaign_id=campaign_id, **fields)
    room.full_clean()
    room.save()
    room_publish(room=room)
    return room


def room_publish(*, room: WaitingRoom) -> None:
    """Write the room's settings to its Redis meta; counters and the queue are kept. A retired
    room gets its tombstone back instead (it never turns live again)."""
    if room.retired_at is not None:
        room_tombstone_write(room=room)
        return
    state = room.status
    if state == Status.CLOSED and room.closed_reason == ClosedReason.SOLD_OUT:
        state = "sold_out"
    room_redis.meta_write(
        room_id=room.pk,
        fields={
            "state": state,
            "opens_at_ms": clock.to_ms(room.opens_at),
            "max_active": room.max_active,
            "rate": room.admit_rate,
            "pass_ttl_ms": room.pass_ttl_seconds * 1000,
            "prequeue": "1" if room.prequeue else "0",
            "silence_ms": room.silence_timeout_seconds * 1000,  # the heartbeat window
            **room.rate_limits_meta(),  # join's token buckets
        },
    )
    if room.campaign_id:
        campaign_room_changed(campaign_id=room.campaign_id)


def room_update(room: WaitingRoom, **fields) -> WaitingRoom:
    """Change fields of a room under its row lock, validated, then publish it to Redis."""
    with transaction.atomic():
        room = WaitingRoom.objects.select_for_update().get(pk=room.pk)
        for name, value in fields.items():
            setattr(room, name, value)
        room.full_clean()
        room.save()
    room_publish(room=room)
    return room


def room_pause(*, room: WaitingRoom) -> WaitingRoom:
    if room.status == Status.CLOSED:
        raise RoomClosed()
    return room_update(room, status=Status.PAUSED)


def room_resume(*, room: WaitingRoom) -> WaitingRoom:
    """Resume admission after a pause, or reopen a room staff closed (its unexpired passes work again).

    A room closed because its campaign sold out reopens by itself when a slot comes back
    (the tick), and one whose campaign ended stays closed: neither is staff's to reopen."""
    if room.retired_at is not None:
        raise RoomClosed(_("Closed for good: its queue has left Redis (retired), so it cannot reopen."))
    if room.status == Status.CLOSED and room.closed_reason == ClosedReason.SOLD_OUT:
        raise RoomClosed(_("Closed because everything was claimed; it reopens by itself when a slot comes back."))
    if room.status == Status.CLOSED and room.closed_reason != ClosedReason.STAFF:
        raise RoomClosed(_("Closed because its campaign ended; it cannot reopen."))
    opened = timezone.now() >= room.opens_at
    return room_update(room, status=Status.QUEUEING if opened else Status.SCHEDULED, closed_reason="")


def room_close(*, room: WaitingRoom, reason: str = ClosedReason.STAFF) -> WaitingRoom:
    return room_update(room, status=Status.CLOSED, closed_reason=reason)


def room_settings_change(
    *, room: WaitingRoom, admit_rate: int | None = None, max_active: int | None = None
) -> WaitingRoom:
    """Change the admission rate or max_active live; the next tick uses them."""
    fields = {}
    if admit_rate is not None:
        fields["admit_rate"] = admit_rate
    if max_active is not None:
        fields["max_active"] = max_active
    return room_update(room, **fields)


def room_meta_ensure(room_id: int) -> WaitingRoom:
    """Republish a room whose Redis meta is missing (Redis lost it)."""
    room = WaitingRoom.objects.filter(pk=room_id).first()
    if room is None:
        raise RoomNotFound()
    room_publish(room=room)
    return room
