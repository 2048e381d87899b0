"""Reads for the waiting room."""

from dataclasses import dataclass

from waitingroom import redis as room_redis
from waitingroom.errors import RoomNotFound
from waitingroom.models import WaitingRoom


def room_get(*, slug: str) -> WaitingRoom:
    room = WaitingRoom.objects.select_related("campaign").filter(slug=slug).first()
    if room is None:
        raise RoomNotFound()
    return room


def room_for_campaign(*, campaign_id: int) -> WaitingRoom | None:
    return WaitingRoom.objects.filter(campaign_id=campaign_id).first()


@dataclass(frozen=True)
class RoomStats:
    queued: int
    active: int
    admitted: int
    rate_ema: float
    state: str
    throttled: bool


def room_stats(*, room: WaitingRoom) -> RoomStats:
    queued, active = room_redis.counts(room_id=room.pk)
    meta = room_redis.meta_get(room_id=room.pk)
    return RoomStats(
        queued=queued,
        active=active,
        admitted=int(meta.get("admitted", 0)),
        rate_ema=float(meta.get("rate_ema", 0)),
        state=meta.get("state", room.status),
        throttled=meta.get("throttled") == "1",
    )
