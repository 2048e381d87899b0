"""Reads for the waiting room."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from waitingroom import redis as room_redis
from waitingroom.errors import RoomNotFound
from waitingroom.models import WaitingRoom

# Rooms by slug, kept for ROOM_CACHE_SECONDS in each process: every queued user
# polls status, and the row (rate, silence timeout, opening time, campaign) only
# changes when staff edit it; the live state (open, paused, closed) comes from
# Redis with each answer. A save in this process forgets the entry at once.
_rooms: dict[str, tuple[float, WaitingRoom]] = {}


def room_get(*, slug: str) -> WaitingRoom:
    cached = _rooms.get(slug)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    room = WaitingRoom.objects.select_related("campaign").filter(slug=slug).first()
    if room is None:
        raise RoomNotFound()
    if settings.ROOM_CACHE_SECONDS > 0:
        _rooms[slug] = (time.monotonic() + settings.ROOM_CACHE_SECONDS, room)
    return room


def room_get_for_accounts(*, slug: str) -> WaitingRoom:
    """A room firstcome's own users may join: a partner's room (namespace set) admits only the visitors
    its partner sends, so to an account it does not exist."""
    room = room_get(slug=slug)
    if room.namespace:
        raise RoomNotFound()
    return room


def rooms_forget(**_) -> None:
    """Drop this process's cached rooms (a room was saved or deleted; also a signal receiver)."""
    _rooms.clear()


def room_for_campaign(*, campaign_id: int) -> WaitingRoom | None:
    return WaitingRoom.objects.filter(campaign_id=campaign_id).first()


def room_ref_for_campaign(*, campaign_id: int) -> tuple[int, str] | None:
    """(id, slug) of the room in front of the campaign, without loading the row."""
    return WaitingRoom.objects.filter(campaign_id=campaign_id).values_list("pk", "slug").first()


def room_url(*, slug: str) -> str:
    return reverse("room-detail", args=[slug])


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
        rate_ema=float(meta.get("rate_ema") or 0),
        state=meta.get("state", room.status),
        throttled=meta.get("throttled") == "1",
    )
