"""The waiting room in Redis: key names, the Lua scripts and typed wrappers (DESIGN §4).

Every key of one room shares the hash tag `{room:<id>}`. What lives here is
either reconstructible or safely discardable (docs/waitingroom.md says which).
"""

import functools
from dataclasses import dataclass, fields

from redis.commands.core import Script

from config import redis as fc_redis
from config.ratelimit import bucket_keys
from waitingroom.tickets import Ticket

# How long a consumed pass counts as outstanding when its claim never reports
# back (a process that crashed between the consume and the claim script):
# far longer than a claim takes, short enough not to hold a place for long.
USING_SECONDS = 30

# Pre-queue draws are random below this (scripts/lib/heartbeat.lua packs the
# draw and the arrival number into one score below 2^52).
PREQUEUE_DRAWS = 2**25


@dataclass(frozen=True)
class RoomKeys:
    meta: str
    queue: str  # the only per-user structure of a queued user
    active: str
    seq: str
    hb: str  # heartbeat bitmap of the current silence window, by arrival number
    hb_prev: str  # ... of the previous window (scripts/lib/heartbeat.lua)
    using: str  # "<user>:<pass expiry>" -> deadline: passes consumed whose claim has not reported back (protected.py)
    settled: str  # "<user>:<pass expiry>" -> settle number: claims that reported back, until a tick drops them
    used: str  # "<user>:<pass expiry>" -> pass expiry: passes used or given up (consume.lua)

    @classmethod
    def of(cls, room_id: int) -> "RoomKeys":
        return _room_keys(fc_redis.key(f"{{room:{room_id}}}"))

    def all(self) -> tuple[str, ...]:
        return tuple(getattr(self, field.name) for field in fields(self))

    @property
    def rate_limit(self) -> str:
        """Prefix of the join token buckets ("<prefix>:u:<user>", "<prefix>:ip:<ip>"); they expire
        on their own and are no state of the room, so all() leaves them out."""
        return self.meta.removesuffix(":meta") + ":rl"


@functools.lru_cache(maxsize=4096)
def _room_keys(base: str) -> RoomKeys:
    """The key names under one room's tag, built once per process (every join and status poll needs them)."""
    return RoomKeys(*(f"{base}:{field.name}" for field in fields(RoomKeys)))


@functools.cache
def _script(name: str) -> Script:
    """Load a Lua file once per process, its "-- include:" lines pasted in (config/redis.py)."""
    return fc_redis.script_register("waitingroom", name)


def _run(name: str, keys: list[str], args: list) -> list | int:
    return _script(name)(keys=keys, args=args, client=fc_redis.client())


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _now_arg(now_ms: int | None) -> str | int:
    return "" if now_ms is None else now_ms


def _ticket_args(ticket: Ticket | None) -> list[str | int]:
    return ["", ""] if ticket is None else [ticket.score, ""]  # the second: unused (see status.lua)


@dataclass(frozen=True, kw_only=True)
class JoinResult:
    outcome: str  # queued | prequeued | admitted | not_open | closed | sold_out | missing | rate_limited
    position: int = 0  # 1 = next in line, when queued
    size: int = 0
    score: int | None = None  # arrival score (admission order), when queued
    retry_after_ms: int = 0  # rate_limited: the ms until the buckets have a token again


def join(
    *,
    room_id: int,
    user_id: int,
    prequeue_draw: int,
    now_ms: int | None = None,
    batch: fc_redis.ScriptBatch | None = None,
    client_ip: str | None = None,
    ticket: Ticket | None = None,
) -> JoinResult | None:
    """Run join.lua; with a `batch` the call is queued (bench/room_scale.py fills a room this way).

    `prequeue_draw` (random, below PREQUEUE_DRAWS) orders the pre-queue; `client_ip` None
    skips the per-IP bucket (calls that come from no request); `ticket` is an arrival ticket
    whose signature the caller checked (waitingroom/tickets.py)."""
    k = RoomKeys.of(room_id)
    user_bucket, ip_bucket, by_ip = bucket_keys(k.rate_limit, user_id=user_id, client_ip=client_ip)
    keys = [k.meta, k.queue, k.active, k.seq, k.hb, k.hb_prev, user_bucket, ip_bucket]
    args = [user_id, _now_arg(now_ms), prequeue_draw, by_ip, *_ticket_args(ticket)]
    if batch is not None:
        batch.add(_script("join"), keys, args)
        return None
    outcome, position, size, score = _run("join", keys, args)
    outcome = _text(outcome)
    if outcome == "rate_limited":  # join.lua answers the wait in the position's place
        return JoinResult(outcome=outcome, retry_after_ms=int(position), size=int(size))
    return JoinResult(outcome=outcome, position=int(position), size=int(size), score=_score(score))


def _score(value) -> int | None:
    """An arrival score: an integer below 2^53, which Redis writes like a double ("4.5e15" never; digits)."""
    text = _text(value)
    return int(float(text)) if text else None


def _number(value) -> float | None:
    text = _text(value)
    return float(text) if text else None


@dataclass(frozen=True, kw_only=True)
class StatusResult:
    outcome: str  # admitted | queued | absent | missing
    position: int
    size: int
    pass_expiry_ms: int
    rate_ema: float | None  # people admitted a telling tick (None before the first tick)
    state: str  # scheduled | queueing | paused | closed | sold_out
    throttled: bool
    pos_ema: float | None = None  # places of the line passed a telling tick (admitted + silent skipped)
    admissible: int | None = None  # admissions the stock still allows after the last tick (None: no cap)
    last_tick_ms: int | None = None
    score: int | None = None  # the queued user's arrival score


def status(
    *,
    room_id: int,
    user_id: int,
    now_ms: int | None = None,
    batch: fc_redis.ScriptBatch | None = None,
    ticket: Ticket | None = None,
    token_generation: tuple[str, int] | None = None,
) -> StatusResult | None:
    """Run status.lua (also the heartbeat); with a `batch` the call is queued. A user Redis does
    not know goes back to the place of `ticket`, an arrival ticket whose signature the caller checked.
    `token_generation`: (key, generation) of the caller's bearer token, checked first in the script
    (standalone Redis only; outcome "token_unverified" when Redis does not hold it)."""
    k = RoomKeys.of(room_id)
    keys = [k.meta, k.queue, k.active, k.hb, k.hb_prev, k.seq]
    args = [user_id, _now_arg(now_ms), *_ticket_args(ticket)]
    if token_generation is not None:
        keys.append(token_generation[0])
        args.append(token_generation[1])
    if batch is not None:
        batch.add(_script("status"), keys, args)
        return None
    reply = _run("status", keys, args)
    outcome, position, size, expiry, ema, state, throttled, pos_ema, admissible, last_tick, score = reply
    admissible, last_tick = _number(admissible), _number(last_tick)
    return StatusResult(
        outcome=_text(outcome),
        position=int(position),
        size=int(size),
        pass_expiry_ms=int(expiry),
        rate_ema=_number(ema),
        state=_text(state),
        throttled=_text(throttled) == "1",
        pos_ema=_number(pos_ema),
        admissible=None if admissible is None else int(admissible),
        last_tick_ms=None if last_tick is None else int(last_tick),
        score=_score(score),
    )


@dataclass(frozen=True, kw_only=True)
class LineResult:
    outcome: str  # ok | missing
    state: str
    size: int
    throttled: bool
    rate_ema: float | None
    pos_ema: float | None
    admissible: int | None
    last_tick_ms: int | None
    opens_at_ms: int | None
    front: int  # places of the front zone (schedule.front_size of the pace)
    front_score: int | None  # the score of the last place of the front zone (None: an empty line)
    marks: list[tuple[int, int]]  # (rank from 0, score), the front first; none before opening


def line(
    *,
    room_id: int,
    front_seconds: int,
    front_min: int,
    configured_rate: int,
    least_gap: int,
    gap_share: int,
    now_ms: int | None = None,
) -> LineResult:
    """Run line.lua: what every queued user is told, read in one round trip."""
    k = RoomKeys.of(room_id)
    args = [_now_arg(now_ms), front_seconds, least_gap, gap_share, front_min, configured_rate]
    reply = _run("line", [k.meta, k.queue], args)
    outcome, state, size, throttled, ema, pos_ema, admissible, last_tick, opens_at, front, front_score, flat = reply
    admissible, last_tick, opens_at = _number(admissible), _number(last_tick), _number(opens_at)
    return LineResult(
        outcome=_text(outcome),
        state=_text(state),
        size=int(size),
        throttled=_text(throttled) == "1",
        rate_ema=_number(ema),
        pos_ema=_number(pos_ema),
        admissible=None if admissible is None else int(admissible),
        last_tick_ms=None if last_tick is None else int(last_tick),
        opens_at_ms=None if opens_at is None else int(opens_at),
        front=int(front),
        front_score=_score(front_score),
        marks=[(int(flat[i]), _score(flat[i + 1])) for i in range(0, len(flat), 2)],
    )


@dataclass(frozen=True, kw_only=True)
class TickResult:
    outcome: str  # ok | duplicate | missing
    admitted: int
    expired: int
    state: str
    dropped: int = 0  # silent users skipped at the front
    redis_us: int = 0  # the script's own run time, by the Redis clock


def tick(
    *, room_id: int, admit: bool, now_ms: int | None = None, stock: int | None = None, settle_mark: int = 0
) -> TickResult:
    """Run tick.lua; `stock` caps admission at stock − passes outstanding (W6), `settle_mark` is
    settle_mark() read before `stock` was (waitingroom/protected.py says why that order)."""
    k = RoomKeys.of(room_id)
    outcome, admitted, expired, state, dropped, redis_us = _run(
        "tick",
        [k.meta, k.queue, k.active, k.hb, k.hb_prev, k.using, k.settled, k.used],
        [_now_arg(now_ms), "1" if admit else "0", "" if stock is None else stock, settle_mark],
    )
    return TickResult(
        outcome=_text(outcome),
        admitted=int(admitted),
        expired=int(expired),
        state=_text(state),
        dropped=int(dropped),
        redis_us=int(redis_us),
    )


def settle_mark(*, room_id: int) -> int:
    """How many claims have reported back so far (the tick's mark)."""
    return int(fc_redis.client().hget(RoomKeys.of(room_id).meta, "settle_seq") or 0)


def pass_member(user_id: int, expiry_ms: int) -> str:
    return f"{user_id}:{expiry_ms}"


def consume(*, room_id: int, user_id: int, expiry_ms: int, now_ms: int | None = None) -> int:
    """1 consumed, 2 taken on trust (Redis knows nothing of this pass: PostgreSQL must decide),
    0 already used or given up, -1 expired, -2 the room is closed (nothing consumed)."""
    k = RoomKeys.of(room_id)
    return int(
        _run(
            "consume",
            [k.active, k.meta, k.using, k.used, k.queue],
            [user_id, expiry_ms, _now_arg(now_ms), pass_member(user_id, expiry_ms), USING_SECONDS * 1000],
        )
    )


def settle(*, room_id: int, user_id: int, expiry_ms: int) -> bool:
    """The claim of a consumed pass took its slot or never will: `using` → `settled` (protected.py)."""
    k = RoomKeys.of(room_id)
    return bool(_run("settle", [k.meta, k.using, k.settled], [pass_member(user_id, expiry_ms)]))


def restore(*, room_id: int, user_id: int, expiry_ms: int) -> bool:
    k = RoomKeys.of(room_id)
    return bool(
        _run(
            "restore",
            [k.active, k.meta, k.queue, k.using, k.used],
            [user_id, expiry_ms, pass_member(user_id, expiry_ms)],
        )
    )


def leave(*, room_id: int, user_id: int) -> None:
    """Out of the queue, and a pass held is given up (leave.lua)."""
    k = RoomKeys.of(room_id)
    _run("leave", [k.queue, k.active, k.used], [user_id])


def meta_write(*, room_id: int, fields: dict[str, str | int]) -> None:
    fc_redis.client().hset(RoomKeys.of(room_id).meta, mapping=fields)


def meta_get(*, room_id: int) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in fc_redis.client().hgetall(RoomKeys.of(room_id).meta).items()}


def counts(*, room_id: int) -> tuple[int, int]:
    """(queue size, active) in one round trip."""
    k = RoomKeys.of(room_id)
    pipe = fc_redis.client().pipeline(transaction=False)
    pipe.zcard(k.queue)
    pipe.zcard(k.active)
    queued, active = pipe.execute()
    return int(queued), int(active)


def retire(*, room_id: int, state: str, opens_at_ms: int, silence_ms: int, rate_limits: dict[str, int | float]) -> int:
    """Replace a closed room's state by its tombstone (retire.lua); returns how many users were still queued."""
    k = RoomKeys.of(room_id)
    args = [state, opens_at_ms, silence_ms]
    args += [rate_limits[name] for name in ("rl_user_burst", "rl_user_rate", "rl_ip_burst", "rl_ip_rate")]
    return int(_run("retire", list(k.all()), args))
