"""The queue: join (idempotent), status (also the heartbeat) and leave."""

import secrets
from dataclasses import dataclass
from functools import partial

from config import clock
from config.errors import TokenUnverified
from config.ratelimit import RateLimited
from waitingroom import eta, schedule, tickets
from waitingroom import redis as room_redis
from waitingroom.errors import RoomClosed, RoomNotOpen, RoomSoldOut
from waitingroom.models import WaitingRoom
from waitingroom.services.passes import pass_issue
from waitingroom.services.rooms import room_meta_ensure

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
        room_meta_ensure(room_id)
        result = join()
    if result.outcome == "rate_limited":
        raise RateLimited.after(result.retry_after_ms)
    if result.outcome in JOIN_REJECTIONS:
        raise JOIN_REJECTIONS[result.outcome]()
    return result


@dataclass(frozen=True, kw_only=True)
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
    # True: poll this status every poll_after s; False: read the room's line document after
    # poll_after s and poll status again when it puts you in the front zone (schedule.py)
    front: bool = True
    score: int | None = None  # the arrival score in the ticket (the page places itself with it)
    eta_uncertain: bool = False  # the wait is an estimate to tell as a range (eta.eta_uncertain)


def room_status(
    *,
    room: WaitingRoom,
    user_id: int,
    now_ms: int | None = None,
    ticket: str | None = None,
    token_generation: tuple[str, int] | None = None,
) -> RoomStatus:
    """Where the user stands; also their heartbeat. Admitted users get their signed pass, queued
    ones a fresh arrival ticket; a user Redis no longer knows is put back at their `ticket`'s place.
    With `token_generation` (the caller's bearer token: its generation key and value) the status
    script checks it first and TokenUnverified is raised, nothing done, unless Redis holds exactly
    that generation (the lean path)."""

    def status(**kwargs) -> room_redis.StatusResult:
        result = room_redis.status(
            room_id=room.pk, user_id=user_id, now_ms=now_ms, token_generation=token_generation, **kwargs
        )
        if result.outcome == "token_unverified":
            raise TokenUnverified()
        return result

    result = status()
    if result.outcome == "missing":
        room_meta_ensure(room.pk)
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
        return RoomStatus(
            outcome="absent",
            state=result.state,
            position=0,
            ahead=0,
            size=result.size,
            eta_seconds=None,
            poll_after=5,
            throttled=result.throttled,
        )
    ahead = result.position - 1
    ticket = tickets.ticket_issue(room_id=room.pk, user_id=user_id, score=result.score)
    cap = max(1, min(schedule.MAX_INTERVAL, room.silence_timeout_seconds // 3))
    opens_ms = clock.to_ms(room.opens_at)
    if now < opens_ms:
        # Before opening the pre-queue order must stay secret (whatever the state,
        # paused included), or re-joining until a good draw would pay off.
        wait_to_open = (opens_ms - now) // 1000
        poll_after = int(min(cap, max(1, wait_to_open // 4)))
        return RoomStatus(
            outcome="prequeued",
            state=result.state,
            position=0,
            ahead=0,
            size=result.size,
            eta_seconds=None,
            poll_after=poll_after,
            throttled=False,
            ticket=ticket,
            front=False,  # the line document says when the room opens
            score=result.score,
        )
    wait = None
    if result.state not in ("paused", "closed", "sold_out"):
        wait = eta.eta_seconds(ahead=ahead, pace=pace, configured_rate=room.admit_rate, now_ms=now)
    rate = eta.people_per_tick(pace, configured_rate=room.admit_rate)
    front = schedule.in_front(position=result.position, rate=rate)
    if front:
        poll_after = schedule.front_poll_interval(silence_timeout=room.silence_timeout_seconds)
    else:
        poll_after = schedule.line_interval(ahead=ahead, rate=rate)
    return RoomStatus(
        outcome="queued",
        state=result.state,
        position=result.position,
        ahead=ahead,
        size=result.size,
        eta_seconds=wait,
        poll_after=poll_after,
        throttled=result.throttled,
        ticket=ticket,
        front=front,
        score=result.score,
        eta_uncertain=eta.eta_uncertain(pace=pace, throttled=result.throttled, eta=wait),
    )


def room_leave(*, room_id: int, user_id: int) -> None:
    room_redis.leave(room_id=room_id, user_id=user_id)
