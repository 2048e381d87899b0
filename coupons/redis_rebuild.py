"""The gate as a whole in Redis: the rebuild's one write and the drift check's reads (DESIGN §3).

A claim touches a few keys of its campaign (coupons/redis.py); these read or
replace all of them, in O(claims), and never run on a claim's path.
"""

from dataclasses import dataclass

from config import redis as fc_redis
from coupons.redis import GateKeys, GateMeta, Hold, hold_parse, text


@dataclass(frozen=True, kw_only=True)
class GateState:
    """A full gate state, as rebuilt from PostgreSQL."""

    meta: GateMeta
    sold_seats: list[int]
    next: int
    free: list[int]
    holds: list[Hold]
    lease_deadline_ms: dict[str, int]  # lease member -> deadline, for the holds still pending


def gate_write(*, campaign_id: int, gate: GateState) -> None:
    """Replace the campaign's gate state in one MULTI; meta goes last so claims wait for all of it."""
    keys = GateKeys.of(campaign_id)
    pipe = fc_redis.client().pipeline(transaction=True)
    pipe.delete(*keys.all())
    if gate.next:
        pipe.set(keys.next, gate.next)
    for start in range(0, len(gate.free), 5000):
        pipe.rpush(keys.free, *gate.free[start : start + 5000])
    for start in range(0, len(gate.holds), 5000):
        chunk = gate.holds[start : start + 5000]
        pipe.hset(keys.holders, mapping={h.user_id: f"{h.slot}:{h.grant_id}" for h in chunk})
    leases = list(gate.lease_deadline_ms.items())
    for start in range(0, len(leases), 5000):
        pipe.zadd(keys.leases, dict(leases[start : start + 5000]))
    pipe.hset(keys.meta, mapping=gate.meta.fields())
    if gate.sold_seats:
        pipe.hset(keys.seats, mapping={slot: "sold" for slot in gate.sold_seats})
    pipe.execute()


def gate_read_holds(*, campaign_id: int) -> dict[int, Hold]:
    """Every hold in Redis by user id (O(claims))."""
    raw = fc_redis.client().hgetall(GateKeys.of(campaign_id).holders)
    return {int(user): hold_parse(value, int(user)) for user, value in raw.items()}


@dataclass(frozen=True)
class GateSnapshot:
    """The keys of a first-free gate that a drift check compares, read in one MULTI (one instant).

    Holds stay raw text ("<slot>:<grant id>" by user id as text): a check
    compares ten thousands of them, and parsing each into a Hold would cost more
    than the read.
    """

    meta: dict[str, str]
    next: int
    free: list[int]
    holders: dict[str, str]  # user id -> "<slot>:<grant id>"
    provisional: dict[str, str]  # user id -> grant id of a hold not yet known to be committed


def gate_snapshot(*, campaign_id: int) -> GateSnapshot:
    """O(claims): for drift checks, never on a claim's path."""
    keys = GateKeys.of(campaign_id)
    pipe = fc_redis.client().pipeline(transaction=True)
    pipe.hgetall(keys.meta)
    pipe.get(keys.next)
    pipe.lrange(keys.free, 0, -1)
    pipe.hgetall(keys.holders)
    pipe.hgetall(keys.provisional)
    meta, taken, free, holders, provisional = pipe.execute()
    return GateSnapshot(
        meta={text(k): text(v) for k, v in meta.items()},
        next=int(taken or 0),
        free=[int(slot) for slot in free],
        holders={user.decode(): value.decode() for user, value in holders.items()},
        provisional={user.decode(): grant.decode() for user, grant in provisional.items()},
    )


def holders_now(*, campaign_id: int, user_ids: list[str]) -> dict[str, str | None]:
    """The raw holds of these users now (one HMGET), for a drift check's second look."""
    if not user_ids:
        return {}
    values = fc_redis.client().hmget(GateKeys.of(campaign_id).holders, user_ids)
    return {user: None if value is None else text(value) for user, value in zip(user_ids, values, strict=True)}


def lease_deadlines(*, campaign_id: int, members: list[str]) -> dict[str, int]:
    """Deadlines of these leases (one ZMSCORE); a missing lease is absent."""
    if not members:
        return {}
    scores = fc_redis.client().zmscore(GateKeys.of(campaign_id).leases, members)
    return {member: int(score) for member, score in zip(members, scores, strict=True) if score is not None}


def gate_exists(*, campaign_id: int) -> bool:
    return bool(fc_redis.client().exists(GateKeys.of(campaign_id).meta))


def rebuild_lock(*, campaign_id: int, timeout_s: float = 30.0, wait_s: float = 10.0):
    """A Redis lock so one process rebuilds a lost gate while claims wait."""
    return fc_redis.client().lock(
        GateKeys.of(campaign_id).rebuild_lock, timeout=timeout_s, blocking_timeout=wait_s, sleep=0.02
    )
