"""Seats in Redis: the hold, check, settle and sweep scripts of a chosen-seat campaign (DESIGN §5).

The seat keys live in the campaign's gate (coupons/redis.py, GateKeys), under
its hash tag, and a rebuild replaces them with the rest of the gate.
"""

import functools
from dataclasses import dataclass

from redis.commands.core import Script

from config import redis as fc_redis
from config.ratelimit import bucket_keys
from coupons.redis import GateKeys, text


@functools.cache
def _script(name: str) -> Script:
    """Load a Lua file of coupons/seats/scripts once per process."""
    return fc_redis.script_register("coupons.seats", name)


@dataclass(frozen=True, kw_only=True)
class SeatHoldResult:
    outcome: str  # held | seat_taken | no_seat | not_open | closed | cancelled | missing | rate_limited
    # | already_booked | admission_required
    token: int = 0  # held: the hold's fencing token
    expiry_ms: int = 0  # held: when the hold ends
    retry_after_ms: int = 0  # rate_limited: the ms until the buckets have a token again


def seat_hold(
    *,
    campaign_id: int,
    user_id: int,
    slot: int,
    hold_ms: int,
    session_ms: int,
    room_id: int | None = None,
    now_ms: int | None = None,
    client_ip: str | None = None,
    token_spent: bool = False,
) -> SeatHoldResult:
    keys = GateKeys.of(campaign_id)
    user_bucket, ip_bucket, by_ip = bucket_keys(keys.rate_limit, user_id=user_id, client_ip=client_ip)
    outcome, token, expiry = _script("seat_hold")(
        keys=[
            keys.meta,
            keys.seats,
            keys.seat_holder,
            keys.fence,
            keys.seat_holds,
            keys.seat_session,
            user_bucket,
            ip_bucket,
            keys.stats,
            keys.holders,
        ],
        args=[
            user_id,
            slot,
            hold_ms,
            "" if now_ms is None else now_ms,
            "" if room_id is None else room_id,
            session_ms,
            by_ip,
            "1" if token_spent else "",
        ],
        client=fc_redis.client(),
    )
    outcome = str(text(outcome))
    if outcome == "rate_limited":  # seat_hold.lua answers the wait in the token's place
        return SeatHoldResult(outcome=outcome, retry_after_ms=int(token))
    return SeatHoldResult(outcome=outcome, token=int(token), expiry_ms=int(expiry))


def seat_check(*, campaign_id: int, user_id: int, slot: int, token: int, now_ms: int | None = None) -> str:
    """ "ok" | "sold" | "not_holder" | "expired"."""
    reply = _script("seat_check")(
        keys=[GateKeys.of(campaign_id).seats],
        args=[user_id, slot, token, "" if now_ms is None else now_ms],
        client=fc_redis.client(),
    )
    return str(text(reply))


def seat_settle(
    *, campaign_id: int, action: str, slot: int, user_id: int, token: int | str, grant_id: str = ""
) -> bool:
    """After PostgreSQL decided: "sold" marks the seat sold and its buyer booked (`grant_id`: the sale's
    grant), "release" lets go of this user's hold with this token."""
    keys = GateKeys.of(campaign_id)
    changed = _script("seat_settle")(
        keys=[keys.seats, keys.seat_holder, keys.seat_holds, keys.seats_sold, keys.holders],
        args=[action, slot, user_id, token, grant_id],
        client=fc_redis.client(),
    )
    return bool(changed)


def seat_sweep(*, campaign_id: int, batch: int, now_ms: int | None = None) -> int:
    keys = GateKeys.of(campaign_id)
    args = ["" if now_ms is None else now_ms, batch]
    keys_used = [keys.seats, keys.seat_holder, keys.seat_holds, keys.seat_session]
    return int(_script("seat_sweep")(keys=keys_used, args=args, client=fc_redis.client()))


def seat_buyers(*, campaign_id: int) -> dict[int, str]:
    """user -> "<slot>:<grant id>" of every buyer Redis knows about (reconcile's drift check)."""
    raw = fc_redis.client().hgetall(GateKeys.of(campaign_id).holders)
    return {int(text(k)): str(text(v)) for k, v in raw.items()}


def seat_states(*, campaign_id: int) -> dict[int, str]:
    """slot -> "sold" | "held:<user>:<token>:<expiry>" for every seat Redis knows about."""
    raw = fc_redis.client().hgetall(GateKeys.of(campaign_id).seats)
    return {int(text(k)): str(text(v)) for k, v in raw.items()}


def fence_raise(*, campaign_id: int, at_least: int) -> None:
    """Move the fencing counter up to at least this value (never down)."""
    client = fc_redis.client()
    key = GateKeys.of(campaign_id).fence
    current = int(client.get(key) or 0)
    if current < at_least:
        client.incrby(key, at_least - current)
