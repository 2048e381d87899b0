"""Writes for the waiting room: publishing rooms, join/status/leave, passes, the tick, sweeping."""

import contextlib
import logging
import math
import secrets
import time
from dataclasses import dataclass
from functools import partial

from django.core import signing
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from config import clock
from config import redis as fc_redis
from config.ratelimit import RateLimited
from waitingroom import eta, selectors, tickets
from waitingroom import redis as room_redis
from waitingroom.errors import PassInvalid, PassRoomClosed, RoomClosed, RoomNotFound, RoomNotOpen, RoomSoldOut
from waitingroom.models import AccessPassUse, WaitingRoom
from waitingroom.stock import CampaignStock, campaign_stock

logger = logging.getLogger(__name__)
Status = WaitingRoom.Status
PASS_SALT = "firstcome.waitingroom.pass"
TICK_BUDGET_US = 5_000  # one tick admitting 1,000 of a million queued users (docs/waitingroom.md, B3)


# --- publishing a room to Redis ---------------------------------------------


def room_publish(*, room: WaitingRoom) -> None:
    """Write the room's settings to its Redis meta; counters and the queue are kept."""
    state = room.status
    if state == Status.CLOSED and room.closed_reason == "sold_out":
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
        from coupons import services as coupon_services

        coupon_services.campaign_gate_room_set(campaign_id=room.campaign_id, room=room)


def _room_update(room: WaitingRoom, **fields) -> WaitingRoom:
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
    return _room_update(room, status=Status.PAUSED)


def room_resume(*, room: WaitingRoom) -> WaitingRoom:
    """Resume admission after a pause, or reopen a room staff closed (its unexpired passes work again).

    A room closed because its campaign sold out reopens by itself when a slot comes back
    (the tick), and one whose campaign ended stays closed: neither is staff's to reopen."""
    if room.status == Status.CLOSED and room.closed_reason == "sold_out":
        raise RoomClosed(_("Closed because everything was claimed; it reopens by itself when a slot comes back."))
    if room.status == Status.CLOSED and room.closed_reason != "staff":
        raise RoomClosed(_("Closed because its campaign ended; it cannot reopen."))
    opened = timezone.now() >= room.opens_at
    return _room_update(room, status=Status.QUEUEING if opened else Status.SCHEDULED, closed_reason="")


def room_close(*, room: WaitingRoom, reason: str = "staff") -> WaitingRoom:
    return _room_update(room, status=Status.CLOSED, closed_reason=reason)


def room_settings_change(
    *, room: WaitingRoom, admit_rate: int | None = None, max_active: int | None = None
) -> WaitingRoom:
    """Change the admission rate or max_active live; the next tick uses them."""
    fields = {}
    if admit_rate is not None:
        fields["admit_rate"] = admit_rate
    if max_active is not None:
        fields["max_active"] = max_active
    return _room_update(room, **fields)


def _room_meta_ensure(room_id: int) -> WaitingRoom:
    """Republish a room whose Redis meta is missing (Redis lost it)."""
    room = WaitingRoom.objects.filter(pk=room_id).first()
    if room is None:
        raise RoomNotFound()
    room_publish(room=room)
    return room


# --- join, status, leave ----------------------------------------------------

JOIN_REJECTIONS = {"not_open": RoomNotOpen, "closed": RoomClosed, "sold_out": RoomSoldOut}


def room_join(
    *,
    room_id: int,
    user_id: int,
    now_ms: int | None = None,
    client_ip: str | None = None,
    ticket: str | None = None,
) -> room_redis.JoinResult:
    """Join the queue (idempotent: a re-join keeps the place).

    The join script spends a token of the user's and of `client_ip`'s bucket
    first (None: no per-IP limit); an empty one is 429 rate_limited. With an
    arrival `ticket` (tickets.py) the user gets that place back, or keeps a
    better one; without, a user Redis does not know joins at the back.
    """
    draw = secrets.randbelow(room_redis.PREQUEUE_DRAWS)
    join = partial(
        room_redis.join,
        room_id=room_id,
        user_id=user_id,
        prequeue_draw=draw,
        now_ms=now_ms,
        client_ip=client_ip,
        ticket=tickets.ticket_read(token=ticket, room_id=room_id, user_id=user_id) if ticket else None,
    )
    result = join()
    if result.outcome == "missing":
        _room_meta_ensure(room_id)
        result = join()
    if result.outcome == "rate_limited":
        raise RateLimited.after(result.position)
    if result.outcome in JOIN_REJECTIONS:
        raise JOIN_REJECTIONS[result.outcome]()
    return result


@dataclass(frozen=True)
class RoomStatus:
    outcome: str  # admitted | queued | prequeued | absent
    state: str  # scheduled | queueing | paused | closed | sold_out
    position: int  # 1 = next in line; 0 when admitted or absent
    ahead: int
    size: int
    eta_seconds: int | None
    poll_after: int
    throttled: bool
    access_pass: str | None = None
    pass_expires_ms: int | None = None
    ticket: str | None = None  # the user's arrival ticket (tickets.py), while in line


def poll_interval(*, ahead: int, rate: float, silence_timeout: int) -> int:
    """About 1 s near the front, growing with the wait, capped at 45 s and well inside the silence timeout."""
    if ahead <= 0:
        return 1
    eta = ahead / max(rate, 0.1)
    cap = max(1, min(45, silence_timeout // 3))
    return int(max(1, min(cap, math.ceil(eta / 10))))


def room_status(*, room: WaitingRoom, user_id: int, now_ms: int | None = None, ticket: str | None = None) -> RoomStatus:
    """Where the user stands; also their heartbeat. Admitted users get their signed pass, queued
    ones a fresh arrival ticket; a user Redis no longer knows is put back at their `ticket`'s place."""
    status = partial(room_redis.status, room_id=room.pk, user_id=user_id, now_ms=now_ms)
    result = status()
    if result.outcome == "missing":
        _room_meta_ensure(room.pk)
        result = status()
    if result.outcome == "absent" and ticket:
        # The ticket is read only here: a user Redis knows needs none (W8).
        result = status(ticket=tickets.ticket_read(token=ticket, room_id=room.pk, user_id=user_id))
    pace = eta.Pace(result.rate_ema, result.pos_ema, result.admissible, result.last_tick_ms)
    now = now_ms if now_ms is not None else clock.now_ms()
    if result.outcome == "admitted":
        return RoomStatus(
            outcome="admitted",
            state=result.state,
            position=0,
            ahead=0,
            size=result.size,
            eta_seconds=0,
            poll_after=max(1, (result.pass_expiry_ms - now) // 1000),
            throttled=result.throttled,
            access_pass=pass_issue(room_id=room.pk, user_id=user_id, expiry_ms=result.pass_expiry_ms),
            pass_expires_ms=result.pass_expiry_ms,
        )
    if result.outcome == "absent":
        return RoomStatus("absent", result.state, 0, 0, result.size, None, 5, result.throttled)
    ahead = result.position - 1
    ticket = tickets.ticket_issue(room_id=room.pk, user_id=user_id, score=result.score, now_ms=now)
    cap = max(1, min(45, room.silence_timeout_seconds // 3))
    opens_ms = clock.to_ms(room.opens_at)
    if now < opens_ms:
        # Before opening the pre-queue order must stay secret (whatever the state,
        # paused included), or re-joining until a good draw would pay off.
        wait_to_open = (opens_ms - now) // 1000
        poll_after = int(min(cap, max(1, wait_to_open // 4)))
        return RoomStatus("prequeued", result.state, 0, 0, result.size, None, poll_after, False, ticket=ticket)
    wait = None
    if result.state not in ("paused", "closed", "sold_out"):
        wait = eta.eta_seconds(ahead=ahead, pace=pace, configured_rate=room.admit_rate, now_ms=now)
    rate = eta.people_per_tick(pace, configured_rate=room.admit_rate)
    poll_after = poll_interval(ahead=ahead, rate=rate, silence_timeout=room.silence_timeout_seconds)
    return RoomStatus(
        "queued", result.state, result.position, ahead, result.size, wait, poll_after, result.throttled, ticket=ticket
    )


def room_leave(*, room_id: int, user_id: int) -> None:
    room_redis.leave(room_id=room_id, user_id=user_id)


# --- access passes ------------------------------------------------------------


@dataclass(frozen=True)
class ConsumedPass:
    room_id: int
    user_id: int
    expiry_ms: int


def pass_issue(*, room_id: int, user_id: int, expiry_ms: int) -> str:
    """A pass signed with the secret key, bound to the room, the user and this admission's expiry."""
    return signing.dumps({"r": room_id, "u": user_id, "x": expiry_ms}, salt=PASS_SALT)


def pass_room(*, token: str, user_id: int) -> int | None:
    """The room a genuine pass of this user was signed for (no Redis, expiry unchecked), else None.

    Lets a protected action use a pass only where its room stands (coupons: a
    pass sent with another campaign's claim is ignored, not consumed).
    """
    try:
        payload = signing.loads(token, salt=PASS_SALT)
        room_id, owner = int(payload["r"]), int(payload["u"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return room_id if owner == user_id else None


def pass_consume(*, token: str, user_id: int, now_ms: int | None = None) -> ConsumedPass:
    """Check the signature and the owner, then use the pass once in Redis (W4).

    The caller then reports back: pass_settle once its claim has taken a slot (or found it
    needs none), pass_restore when it could not use the pass (the user keeps the turn)."""
    try:
        payload = signing.loads(token, salt=PASS_SALT)
        room_id, owner, expiry_ms = int(payload["r"]), int(payload["u"]), int(payload["x"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise PassInvalid(_("This access pass is not valid.")) from exc
    if owner != user_id:
        # Worded as a forgery is: a pass someone else holds must not confirm that it is genuine.
        raise PassInvalid(_("This access pass is not valid."))
    if expiry_ms <= (now_ms if now_ms is not None else clock.now_ms()):
        raise PassInvalid(_("This access pass has expired; join the room again."))
    outcome = room_redis.consume(room_id=room_id, user_id=user_id, expiry_ms=expiry_ms, now_ms=now_ms)
    if outcome == -2:
        raise PassRoomClosed()
    if outcome not in (1, 2):
        raise PassInvalid(_("This access pass was already used or has expired."))
    consumed = ConsumedPass(room_id, user_id, expiry_ms)
    _pass_use_record(consumed)
    return consumed


def _pass_use_record(consumed: ConsumedPass) -> None:
    """Write the use to PostgreSQL before the claim goes on: Redis may forget it (a failover,
    a flush), and only this row then keeps the pass from working twice (W4 under W8).

    Outside a transaction the INSERT commits on its own (one round trip); inside a caller's, a
    savepoint keeps a conflict from breaking it."""
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if in_transaction else contextlib.nullcontext():
            AccessPassUse.objects.create(
                room_id=consumed.room_id, user_id=consumed.user_id, expiry_ms=consumed.expiry_ms
            )
    except IntegrityError as exc:
        # Used before, and Redis forgot it (or the room is gone): it stays used, nothing was taken.
        pass_settle(consumed=consumed)
        raise PassInvalid(_("This access pass was already used or has expired.")) from exc
    except DatabaseError:
        pass_restore(consumed=consumed, recorded=False)  # PostgreSQL is away: the user keeps the turn (503)
        raise


def pass_settle(*, consumed: ConsumedPass) -> None:
    """The claim that used this pass has taken its slot, or took none and never will (best effort:
    a lost report only keeps the pass counted against the stock until USING_SECONDS; stock.py)."""
    try:
        room_redis.settle(room_id=consumed.room_id, user_id=consumed.user_id, expiry_ms=consumed.expiry_ms)
    except RedisError as exc:
        logger.warning("could not settle the pass of user %s: %s", consumed.user_id, exc)


def pass_restore(*, consumed: ConsumedPass, recorded: bool = True) -> None:
    """Give the place back after a claim failed on our side (best effort): the pass is unused
    again, in Redis and in PostgreSQL, unless Redis refuses (expired, closed, full, re-queued)."""
    try:
        restored = room_redis.restore(room_id=consumed.room_id, user_id=consumed.user_id, expiry_ms=consumed.expiry_ms)
    except RedisError as exc:
        logger.warning("could not restore the pass of user %s: %s", consumed.user_id, exc)
        return
    if restored and recorded:
        try:
            AccessPassUse.objects.filter(
                room_id=consumed.room_id, user_id=consumed.user_id, expiry_ms=consumed.expiry_ms
            ).delete()
        except DatabaseError as exc:  # the pass stays used after a failover: the user re-joins
            logger.warning("could not give back the pass use of user %s: %s", consumed.user_id, exc)


def room_url(*, slug: str) -> str:
    return reverse("room-detail", args=[slug])


# --- the tick, back-pressure, sold out, sweeping -----------------------------------


@dataclass(frozen=True)
class Pressure:
    pending_grants: int
    latency_ms: float

    def too_high(self, room: WaitingRoom) -> bool:
        backlog = room.max_pending_grants and self.pending_grants > room.max_pending_grants
        slow = room.max_store_latency_ms and self.latency_ms > room.max_store_latency_ms
        return bool(backlog or slow)


def pressure_measure(*, room: WaitingRoom) -> Pressure:
    """The protected campaign's pending backlog and the slower of the two stores' round trips."""
    from coupons.models import Grant

    started = time.perf_counter()
    fc_redis.client().ping()
    redis_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    db_ms = (time.perf_counter() - started) * 1000
    pending = 0
    if room.campaign_id and room.max_pending_grants:
        pending = Grant.objects.filter(campaign_id=room.campaign_id, status=Grant.Status.PENDING).count()
    return Pressure(pending_grants=pending, latency_ms=max(redis_ms, db_ms))


def _campaign_gate_check(room: WaitingRoom, stock: CampaignStock) -> WaitingRoom | None:
    """Follow the protected campaign: hold the room while it is sold out, reopen it when a
    slot comes back (a grant failed), close it when the campaign ends. Returns the room to
    tick, or None when it must not admit now."""
    if stock.ended:
        if room.status != Status.CLOSED:
            room_close(room=room, reason="campaign_ended")
        return None
    remaining = stock.remaining
    sold_out = room.status == Status.CLOSED and room.closed_reason == "sold_out"
    if remaining == 0 and not sold_out:
        room_close(room=room, reason="sold_out")
        return None
    if sold_out:
        if not remaining:
            return None
        room = _room_update(room, status=Status.QUEUEING, closed_reason="")
        logger.info("room %s reopens: %s slot(s) came back", room.slug, remaining)
    return room


def room_tick(
    *, room: WaitingRoom, now_ms: int | None = None, pressure: Pressure | None = None
) -> room_redis.TickResult:
    """One admission step: follow the campaign, apply back-pressure, then the tick script.

    Admission is capped by the campaign's remaining stock minus the passes outstanding (W6):
    the settle mark is read before the stock, in that order (waitingroom/stock.py)."""
    mark, remaining = 0, None
    if room.campaign_id:
        mark = room_redis.settle_mark(room_id=room.pk)
        stock = campaign_stock(campaign_id=room.campaign_id)
        if stock is not None:
            checked = _campaign_gate_check(room, stock)
            if checked is None:
                return room_redis.TickResult("held", 0, 0, "sold_out" if room.closed_reason == "sold_out" else "closed")
            room, remaining = checked, stock.remaining
    if room.status == Status.CLOSED:
        return room_redis.TickResult("held", 0, 0, "closed")
    pressure = pressure or pressure_measure(room=room)
    admit = not pressure.too_high(room)
    if not admit:
        logger.info("room %s holds admission: %s", room.slug, pressure)
    tick = partial(room_redis.tick, room_id=room.pk, admit=admit, now_ms=now_ms, stock=remaining, settle_mark=mark)
    result = tick()
    if result.outcome == "missing":
        _room_meta_ensure(room.pk)
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
    rooms = WaitingRoom.objects.exclude(status=Status.CLOSED) | WaitingRoom.objects.filter(closed_reason="sold_out")
    for room in rooms:
        try:
            admitted[room.slug] = room_tick(room=room, now_ms=now_ms).admitted
        except Exception:
            logger.exception("tick of room %s failed", room.slug)
    return admitted


def room_sweep_silent(
    *, room: WaitingRoom, now_ms: int | None = None, batch: int = 1000, max_batches: int = 200
) -> int:
    """Remove queued users silent for a whole window (W5): one pass over the queue per silence window,
    in short script calls of `batch` users (about a millisecond each), carried on by the next run
    after `max_batches` (200,000 users a run: a million-user queue takes five runs)."""
    removed = 0
    for _batch in range(max_batches):
        step = room_redis.sweep(room_id=room.pk, batch=batch, now_ms=now_ms)
        removed += step.removed
        if step.progress != "more":
            break
    return removed


def rooms_sweep_silent(*, now_ms: int | None = None) -> int:
    # Uses of passes that have expired prove nothing any more: an expired pass is refused anyway.
    AccessPassUse.objects.filter(expiry_ms__lt=now_ms if now_ms is not None else clock.now_ms()).delete()
    return sum(
        room_sweep_silent(room=room, now_ms=now_ms) for room in WaitingRoom.objects.exclude(status=Status.CLOSED)
    )
