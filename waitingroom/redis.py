"""The waiting room in Redis: key names, the Lua scripts and typed wrappers (DESIGN §4).

Every key of one room shares the hash tag `{room:<id>}`. What lives here is
either reconstructible or safely discardable (docs/waitingroom.md says which).
"""

import functools
import importlib.resources
from dataclasses import dataclass

from redis.commands.core import Script

from config import redis as fc_redis


@dataclass(frozen=True)
class RoomKeys:
    meta: str
    queue: str
    active: str
    seen: str
    seq: str

    @classmethod
    def of(cls, room_id: int) -> "RoomKeys":
        tag = f"{{room:{room_id}}}"
        return cls(*(fc_redis.key(tag, name) for name in ("meta", "queue", "active", "seen", "seq")))

    def all(self) -> tuple[str, ...]:
        return (self.meta, self.queue, self.active, self.seen, self.seq)


@functools.cache
def _script(name: str) -> Script:
    source = importlib.resources.files("waitingroom").joinpath("scripts", f"{name}.lua").read_text()
    return fc_redis.client().register_script(source)


def _run(name: str, keys: list[str], args: list) -> list | int:
    return _script(name)(keys=keys, args=args, client=fc_redis.client())


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _now_arg(now_ms: int | None) -> str | int:
    return "" if now_ms is None else now_ms


@dataclass(frozen=True)
class JoinResult:
    outcome: str  # queued | prequeued | admitted | not_open | closed | sold_out | missing
    position: int
    size: int
    score: float | None  # arrival score (admission order), when queued


def join(
    *,
    room_id: int,
    user_id: int,
    prequeue_score: int,
    now_ms: int | None = None,
    batch: fc_redis.ScriptBatch | None = None,
) -> JoinResult | None:
    """Run join.lua; with a `batch` the call is queued (bench/room_scale.py fills a room this way)."""
    k = RoomKeys.of(room_id)
    keys, args = [k.meta, k.queue, k.active, k.seen, k.seq], [user_id, _now_arg(now_ms), prequeue_score]
    if batch is not None:
        batch.add(_script("join"), keys, args)
        return None
    outcome, position, size, score = _run("join", keys, args)
    return JoinResult(_text(outcome), int(position), int(size), float(_text(score)) if _text(score) else None)


@dataclass(frozen=True)
class StatusResult:
    outcome: str  # admitted | queued | absent | missing
    position: int
    size: int
    pass_expiry_ms: int
    rate_ema: float
    state: str  # scheduled | queueing | paused | closed | sold_out
    throttled: bool


def status(
    *, room_id: int, user_id: int, now_ms: int | None = None, batch: fc_redis.ScriptBatch | None = None
) -> StatusResult | None:
    """Run status.lua (also the heartbeat); with a `batch` the call is queued."""
    k = RoomKeys.of(room_id)
    keys, args = [k.meta, k.queue, k.active, k.seen], [user_id, _now_arg(now_ms)]
    if batch is not None:
        batch.add(_script("status"), keys, args)
        return None
    outcome, position, size, expiry, ema, state, throttled = _run("status", keys, args)
    return StatusResult(
        _text(outcome), int(position), int(size), int(expiry), float(_text(ema)), _text(state), _text(throttled) == "1"
    )


@dataclass(frozen=True)
class TickResult:
    outcome: str  # ok | duplicate | missing
    admitted: int
    expired: int
    state: str
    dropped: int = 0  # silent users skipped at the front


def tick(*, room_id: int, admit: bool, silence_cutoff_ms: int, now_ms: int | None = None) -> TickResult:
    k = RoomKeys.of(room_id)
    outcome, admitted, expired, state, dropped = _run(
        "tick", [k.meta, k.queue, k.active, k.seen], [_now_arg(now_ms), "1" if admit else "0", silence_cutoff_ms]
    )
    return TickResult(_text(outcome), int(admitted), int(expired), _text(state), int(dropped))


def consume(*, room_id: int, user_id: int, expiry_ms: int, now_ms: int | None = None) -> int:
    """1 consumed, 0 not admitted or already used, -1 expired."""
    return int(_run("consume", [RoomKeys.of(room_id).active], [user_id, expiry_ms, _now_arg(now_ms)]))


def restore(*, room_id: int, user_id: int, expiry_ms: int) -> bool:
    k = RoomKeys.of(room_id)
    return bool(_run("restore", [k.active, k.meta, k.queue], [user_id, expiry_ms]))


def sweep(*, room_id: int, cutoff_ms: int, batch: int) -> int:
    k = RoomKeys.of(room_id)
    return int(_run("sweep", [k.queue, k.seen], [cutoff_ms, batch]))


def leave(*, room_id: int, user_id: int) -> None:
    k = RoomKeys.of(room_id)
    pipe = fc_redis.client().pipeline(transaction=True)
    pipe.zrem(k.queue, user_id)
    pipe.zrem(k.seen, user_id)
    pipe.zrem(k.active, user_id)
    pipe.execute()


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
