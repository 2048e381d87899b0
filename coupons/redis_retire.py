"""A finished drop's gate in Redis: the tombstone that replaces it once the drop is retired (retire.lua).

Split from coupons/redis.py by concern: the live gate there, its end here.
"""

from dataclasses import dataclass

from config import redis as fc_redis
from coupons.redis import GateKeys, _script


@dataclass(frozen=True, kw_only=True)
class Tombstone:
    """What a retired gate keeps (retire.lua): enough to answer a late click without rebuilding it."""

    ended: str  # sold_out | closed | cancelled
    remaining: int
    closes_at_ms: int
    rate_limits: dict[str, int | float]  # rl_user_burst, rl_user_rate, rl_ip_burst, rl_ip_rate


def retire(*, campaign_id: int, tombstone: Tombstone) -> int:
    """Replace the campaign's gate by its tombstone (retire.lua); returns how many keys were deleted."""
    keys = GateKeys.of(campaign_id)
    limits = tombstone.rate_limits
    return int(
        _script("retire")(
            keys=[
                keys.meta,
                keys.next,
                keys.free,
                keys.holders,
                keys.leases,
                keys.seats,
                keys.seat_holder,
                keys.fence,
                keys.seat_holds,
                keys.seat_session,
                keys.doorbell,
                keys.stats,
                keys.provisional,
            ],
            args=[
                tombstone.ended,
                tombstone.remaining,
                tombstone.closes_at_ms,
                limits["rl_user_burst"],
                limits["rl_user_rate"],
                limits["rl_ip_burst"],
                limits["rl_ip_rate"],
            ],
            client=fc_redis.client(),
        )
    )
