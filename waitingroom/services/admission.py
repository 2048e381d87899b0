"""Admission: the tick (back-pressure, the campaign's stock, the tick script), and forgetting expired pass uses."""

import logging
import time
from dataclasses import dataclass
from functools import partial

from django.db import connection

from config import clock
from config import redis as fc_redis
from waitingroom import redis as room_redis
from waitingroom import selectors
from waitingroom.models import AccessPassUse, WaitingRoom
from waitingroom.protected import CampaignStock, campaign_pending_grants, campaign_stock
from waitingroom.services.rooms import room_close, room_meta_ensure, room_update

logger = logging.getLogger(__name__)
Status = WaitingRoom.Status
ClosedReason = WaitingRoom.ClosedReason
TICK_BUDGET_US = 5_000  # one tick admitting 1,000 of a million queued users (docs/waitingroom.md, B3)


@dataclass(frozen=True, kw_only=True)
class Pressure:
    pending_grants: int
    latency_ms: float

    def too_high(self, room: WaitingRoom) -> bool:
        backlog = room.max_pending_grants and self.pending_grants > room.max_pending_grants
        slow = room.max_store_latency_ms and self.latency_ms > room.max_store_latency_ms
        return bool(backlog or slow)


def pressure_measure(*, room: WaitingRoom) -> Pressure:
    """The protected campaign's pending backlog and the slower of the two stores' round trips."""
    started = time.perf_counter()
    fc_redis.client().ping()
    redis_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    db_ms = (time.perf_counter() - started) * 1000
    pending = 0
    if room.campaign_id and room.max_pending_grants:
        pending = campaign_pending_grants(campaign_id=room.campaign_id)
    return Pressure(pending_grants=pending, latency_ms=max(redis_ms, db_ms))


def _campaign_gate_check(room: WaitingRoom, stock: CampaignStock) -> WaitingRoom | None:
    """Follow the protected campaign: hold the room while it is sold out, reopen it when a
    slot comes back (a grant failed), close it when the campaign ends. Returns the room to
    tick, or None when it must not admit now."""
    if stock.ended:
        if room.status != Status.CLOSED:
            room_close(room=room, reason=ClosedReason.CAMPAIGN_ENDED)
        return None
    remaining = stock.remaining
    sold_out = room.status == Status.CLOSED and room.closed_reason == ClosedReason.SOLD_OUT
    if remaining == 0 and not sold_out:
        room_close(room=room, reason=ClosedReason.SOLD_OUT)
        return None
    if sold_out:
        if not remaining:
            return None
        room = room_update(room, status=Status.QUEUEING, closed_reason="")
        logger.info("room %s reopens: %s slot(s) came back", room.slug, remaining)
    return room


def room_tick(
    *, room: WaitingRoom, now_ms: int | None = None, pressure: Pressure | None = None
) -> room_redis.TickResult:
    """One admission step: follow the campaign, apply back-pressure, then the tick script.

    Admission is capped by the campaign's remaining stock minus the passes outstanding (W6):
    the settle mark is read before the stock, in that order (waitingroom/protected.py)."""
    mark, remaining = 0, None
    if room.campaign_id:
        mark = room_redis.settle_mark(room_id=room.pk)
        stock = campaign_stock(campaign_id=room.campaign_id)
        if stock is not None:
            checked = _campaign_gate_check(room, stock)
            if checked is None:
                state = "sold_out" if room.closed_reason == ClosedReason.SOLD_OUT else "closed"
                return room_redis.TickResult(outcome="held", admitted=0, expired=0, state=state)
            room, remaining = checked, stock.remaining
    if room.status == Status.CLOSED:
        return room_redis.TickResult(outcome="held", admitted=0, expired=0, state="closed")
    pressure = pressure or pressure_measure(room=room)
    admit = not pressure.too_high(room)
    if not admit:
        logger.info("room %s holds admission: %s", room.slug, pressure)
    tick = partial(room_redis.tick, room_id=room.pk, admit=admit, now_ms=now_ms, stock=remaining, settle_mark=mark)
    result = tick()
    if result.outcome == "missing":
        room_meta_ensure(room.pk)
        result = tick()
    if result.redis_us > TICK_BUDGET_US:
        logger.warning(
            "tick of room %s took %d us of Redis time (%d admitted)", room.slug, result.redis_us, result.admitted
        )
    if result.state == Status.QUEUEING and room.status == Status.SCHEDULED:
        WaitingRoom.objects.filter(pk=room.pk, status=Status.SCHEDULED).update(status=Status.QUEUEING)
        selectors.rooms_forget()  # an update() sends no post_save
    return result


def rooms_tick(*, now_ms: int | None = None) -> dict[str, int]:
    """Tick every room that may admit (open ones, and sold-out ones that may reopen)."""
    admitted = {}
    sold_out = WaitingRoom.objects.filter(closed_reason=ClosedReason.SOLD_OUT, retired_at__isnull=True)
    rooms = WaitingRoom.objects.exclude(status=Status.CLOSED) | sold_out
    for room in rooms:
        try:
            admitted[room.slug] = room_tick(room=room, now_ms=now_ms).admitted
        except Exception:
            logger.exception("tick of room %s failed", room.slug)
    return admitted


def pass_uses_forget(*, now_ms: int | None = None) -> int:
    """Forget the uses of passes that have expired: they prove nothing any more (an expired pass is
    refused anyway). Silent users need no sweep of their own since issue 21: far back nobody polls,
    and the tick drops at the front whoever did not poll in the front zone (W5, docs/waitingroom.md)."""
    deleted, _ = AccessPassUse.objects.filter(expiry_ms__lt=now_ms if now_ms is not None else clock.now_ms()).delete()
    return deleted
