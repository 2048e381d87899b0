"""The campaign gate in Redis: key names, the Lua scripts and typed wrappers (DESIGN §3).

Every key of one campaign shares the hash tag `{camp:<id>}`, so each script
runs on one node of a Redis Cluster too.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from redis.commands.core import Script

from config import redis as fc_redis
from config.ratelimit import bucket_keys

SLUG_MAP_KEY = "campaigns:slugs"


@dataclass(frozen=True)
class GateKeys:
    meta: str
    next: str  # first-free: the highest slot handed out; chosen seats: how many were sold (seats_sold)
    free: str
    holders: str  # user -> "<slot>:<grant id>" of their live grant (chosen seats: the seat they bought)
    leases: str
    rebuild_lock: str
    seats: str  # chosen seats: slot -> "sold" | "held:<user>:<token>:<expiry>"
    seat_holder: str  # user -> "<slot>:<token>"
    fence: str  # the fencing-token counter
    seat_holds: str  # slot -> hold expiry, for the sweep
    seat_session: str  # user -> end of the shopping session a waiting-room pass opened
    doorbell: str  # set while a drain of the campaign's pending grants is asked for and not started
    rate_limit: str  # prefix of the claim and hold token buckets ("<prefix>:u:<user>", "<prefix>:ip:<ip>")
    stats: str  # outcome -> count of claim.lua answers, "hold:<outcome>" -> of seat_hold.lua's (kept by rebuilds)
    provisional: str  # user -> grant id of a hold whose grant row is not known to be committed yet (I8)

    @classmethod
    def of(cls, campaign_id: int) -> "GateKeys":
        return _gate_keys(fc_redis.key(f"{{camp:{campaign_id}}}"))

    @property
    def seats_sold(self) -> str:
        """The seats' sold counter: the `next` key itself, so remaining.lua's quantity − next + free
        answers for both allocations (a seat campaign has no free list)."""
        return self.next

    def all(self) -> tuple[str, ...]:
        """Every key a rebuild replaces (the fence counter is only ever raised, never reset;
        the doorbell and the token buckets are no state of the gate)."""
        return (
            self.meta,
            self.next,
            self.free,
            self.holders,
            self.leases,
            self.seats,
            self.seat_holder,
            self.seat_holds,
            self.provisional,
        )


@functools.lru_cache(maxsize=4096)
def _gate_keys(base: str) -> GateKeys:
    """The key names under one campaign's tag, built once per process (every claim needs them)."""
    names = ("meta", "next", "free", "holders", "leases", "rebuild-lock", "seats", "seat-holder", "fence")
    more = ("seat-holds", "seat-session", "doorbell", "rl", "stats", "provisional")
    return GateKeys(*(f"{base}:{name}" for name in (*names, *more)))


@dataclass(frozen=True, kw_only=True)
class ClaimResult:
    outcome: str  # accepted | duplicate | in_flight | sold_out | not_open | closed | cancelled | missing | rate_limited
    # | choose_seat | admission_required | retired
    slot: int = 0  # accepted, duplicate, in_flight: the user's slot
    grant_id: str = ""  # accepted, duplicate, in_flight: the grant the slot is held for
    remaining: int = 0
    retry_after_ms: int = 0  # rate_limited: the ms until the buckets have a token again
    room_slug: str = ""  # admission_required: the room in front of the campaign
    ended: str = ""  # retired: how the campaign ended (sold_out | closed | cancelled), the answer to a late click


@dataclass(frozen=True, kw_only=True)
class GateMeta:
    """The gate's meta hash: every field claim.lua and seat_hold.lua read (their headers list
    these names), built in one place (coupons/services/gate.py) and written here."""

    state: str  # live | closed | cancelled (the window decides the rest, by the Redis clock)
    opens_at_ms: int
    closes_at_ms: int
    quantity: int
    room: str  # id of the waiting room in front, or ""
    room_slug: str
    allocation: str  # first_free | chosen
    rate_limits: dict[str, int | float]  # rl_user_burst, rl_user_rate, rl_ip_burst, rl_ip_rate (config/ratelimit.py)

    def fields(self) -> dict[str, str | int | float]:
        """The hash as Redis holds it (HSET mapping)."""
        return {
            "state": self.state,
            "opens_at_ms": self.opens_at_ms,
            "closes_at_ms": self.closes_at_ms,
            "quantity": self.quantity,
            "room": self.room,
            "room_slug": self.room_slug,
            "allocation": self.allocation,
            **self.rate_limits,
        }


@dataclass(frozen=True)
class Hold:
    """A slot held in Redis for a grant; the lease member names all three."""

    slot: int
    user_id: int
    grant_id: str

    @property
    def lease_member(self) -> str:
        return f"{self.slot}:{self.user_id}:{self.grant_id}"

    @classmethod
    def from_lease(cls, member: str | bytes) -> "Hold":
        text = member.decode() if isinstance(member, bytes) else member
        slot, user_id, grant_id = text.split(":", 2)
        return cls(int(slot), int(user_id), grant_id)


@functools.cache
def _script(name: str) -> Script:
    """Load a Lua file once per process; calls pass the current client explicitly."""
    return fc_redis.script_register("coupons", name)


def text(value: bytes | str | int) -> str | int:
    return value.decode() if isinstance(value, bytes) else value


def claim(
    *,
    campaign_id: int,
    user_id: int,
    grant_id: str,
    lease_ms: int,
    now_ms: int | None = None,
    room_id: int | None = None,
    client_ip: str | None = None,
    token_spent: bool = False,
    token_generation: tuple[str, int] | None = None,
) -> ClaimResult:
    """Run claim.lua; `client_ip` None skips the per-IP bucket (calls that come from no request);
    `token_spent`: pass_token() already spent this call's token; `token_generation`: (key, generation)
    of the caller's bearer token, checked first in the script (standalone Redis only)."""
    keys = GateKeys.of(campaign_id)
    user_bucket, ip_bucket, by_ip = bucket_keys(keys.rate_limit, user_id=user_id, client_ip=client_ip)
    call_keys = [
        keys.meta,
        keys.next,
        keys.free,
        keys.holders,
        keys.leases,
        user_bucket,
        ip_bucket,
        keys.stats,
        keys.provisional,
    ]
    args = [
        user_id,
        grant_id,
        lease_ms,
        "" if now_ms is None else now_ms,
        "" if room_id is None else room_id,
        by_ip,
        "1" if token_spent else "",
    ]
    if token_generation is not None:
        call_keys.append(token_generation[0])
        args.append(token_generation[1])
    reply = _script("claim")(keys=call_keys, args=args, client=fc_redis.client())
    outcome, slot, grant, remaining = (text(v) for v in reply)
    outcome, slot, grant, remaining = str(outcome), int(slot), str(grant), int(remaining)
    # claim.lua's reply is positional and reuses two places (its header says which); the result names them.
    if outcome == "rate_limited":
        return ClaimResult(outcome=outcome, retry_after_ms=slot, remaining=remaining)
    if outcome == "admission_required":
        return ClaimResult(outcome=outcome, room_slug=grant, remaining=remaining)
    if outcome == "retired":
        return ClaimResult(outcome=outcome, ended=grant, remaining=remaining)
    return ClaimResult(outcome=outcome, slot=slot, grant_id=grant, remaining=remaining)


def release(
    *, campaign_id: int, hold: Hold, reuse_slot: bool = True, batch: fc_redis.ScriptBatch | None = None
) -> bool | None:
    """Give the hold's slot back if this grant still holds it; with a `batch` the call is queued."""
    keys = GateKeys.of(campaign_id)
    call_keys = [keys.holders, keys.leases, keys.free, keys.provisional]
    args = [hold.user_id, hold.slot, hold.grant_id, "1" if reuse_slot else "0"]
    if batch is not None:
        batch.add(_script("release"), call_keys, args)
        return None
    return bool(_script("release")(keys=call_keys, args=args, client=fc_redis.client()))


def remaining(*, campaign_id: int) -> int | None:
    """Slots left, in O(1); None when Redis has no state for the campaign."""
    keys = GateKeys.of(campaign_id)
    value = int(_script("remaining")(keys=[keys.meta, keys.next, keys.free], client=fc_redis.client()))
    return None if value < 0 else value


def lease_drop(*, campaign_id: int, hold: Hold) -> None:
    fc_redis.client().zrem(GateKeys.of(campaign_id).leases, hold.lease_member)


def leases_drop(*, campaign_id: int, holds: list[Hold], batch: fc_redis.ScriptBatch) -> None:
    """Queue one ZREM of many leases (grants that succeeded) in the caller's round trip."""
    if holds:
        batch.add_command("ZREM", GateKeys.of(campaign_id).leases, *(hold.lease_member for hold in holds))


def lease_extend(*, campaign_id: int, hold: Hold, deadline_ms: int) -> None:
    fc_redis.client().zadd(GateKeys.of(campaign_id).leases, {hold.lease_member: deadline_ms}, xx=True)


def leases_expired(*, campaign_id: int, now_ms: int, limit: int = 500) -> list[Hold]:
    members = fc_redis.client().zrangebyscore(GateKeys.of(campaign_id).leases, "-inf", now_ms, start=0, num=limit)
    return [Hold.from_lease(m) for m in members]


def meta_set(*, campaign_id: int, meta: GateMeta) -> bool:
    """Update an existing gate's meta; False if the gate is missing (rebuild instead). A retired
    gate's tombstone is left as it is (True: there is nothing to rebuild)."""
    args = [item for pair in meta.fields().items() for item in pair]
    updated = _script("meta_update")(keys=[GateKeys.of(campaign_id).meta], args=args, client=fc_redis.client())
    return bool(updated)


def is_retired(*, campaign_id: int) -> bool:
    """Whether the gate is a tombstone (one HGET)."""
    return text(fc_redis.client().hget(GateKeys.of(campaign_id).meta, "state") or b"") == "retired"


def meta_get(*, campaign_id: int) -> dict[str, str]:
    raw = fc_redis.client().hgetall(GateKeys.of(campaign_id).meta)
    return {text(k): text(v) for k, v in raw.items()}


@dataclass(frozen=True)
class Confirmed:
    repaired: bool  # Redis had lost the hold and got it back
    rang: bool  # this call set the drain doorbell: the caller must ask for a drain


def confirm(*, campaign_id: int, hold: Hold, lease_deadline_ms: int | None, ring_seconds: int | None) -> Confirmed:
    """Write a committed live grant back into the gate if Redis lost it, and ring the doorbell.

    With `ring_seconds` the campaign's drain doorbell is set (NX, expiring) in the
    same call; `rang` tells whether this call set it, i.e. whether no drain was
    already asked for since the last one started (see grant_drain).
    """
    keys = GateKeys.of(campaign_id)
    reply = _script("confirm")(
        keys=[keys.holders, keys.leases, keys.free, keys.next, keys.doorbell, keys.provisional],
        args=[
            hold.user_id,
            hold.slot,
            hold.grant_id,
            "" if lease_deadline_ms is None else lease_deadline_ms,
            "" if ring_seconds is None else ring_seconds,
        ],
        client=fc_redis.client(),
    )
    repaired, rang = (int(v) for v in reply)
    return Confirmed(repaired=bool(repaired), rang=bool(rang))


def doorbell_ring(*, campaign_id: int, seconds: int, batch: fc_redis.ScriptBatch) -> None:
    """Queue the doorbell's SET NX EX (a drain asking for help); its reply is truthy if it rang."""
    batch.add_command("SET", GateKeys.of(campaign_id).doorbell, "1", "NX", "EX", seconds)


def doorbell_clear(*, campaign_id: int) -> None:
    """A drain starts (or a ring could not be delivered): the next committed claim rings again."""
    fc_redis.client().delete(GateKeys.of(campaign_id).doorbell)


def hold_parse(value: bytes | str | None, user_id: int) -> Hold | None:
    if value is None:
        return None
    slot, grant_id = text(value).split(":", 1)
    return Hold(int(slot), user_id, grant_id)


def holder_of(*, campaign_id: int, user_id: int) -> Hold | None:
    """The user's hold in this campaign, if Redis has one (one HGET)."""
    return hold_parse(fc_redis.client().hget(GateKeys.of(campaign_id).holders, user_id), user_id)


def hold_state(*, campaign_id: int, user_id: int) -> tuple[Hold | None, str | None]:
    """The user's hold and the grant id of its provisional mark, if any (one round trip)."""
    keys = GateKeys.of(campaign_id)
    pipe = fc_redis.client().pipeline(transaction=False)
    pipe.hget(keys.holders, user_id)
    pipe.hget(keys.provisional, user_id)
    held, mark = pipe.execute()
    return hold_parse(held, user_id), None if mark is None else str(text(mark))


@dataclass(frozen=True, kw_only=True)
class PassToken:
    """pass_token.lua's answer: whether the gate exists, the room in front, and the token's fate."""

    missing: bool
    room: str  # id of the waiting room in front of the campaign, "" for none
    retry_after_ms: int  # 0: a token was spent


def pass_token(
    *, campaign_id: int, user_id: int, client_ip: str | None, now_ms: int | None, stats_prefix: str
) -> PassToken:
    """Spend the rate-limit token of an action carrying a pass, before the pass is used up (pass_token.lua)."""
    keys = GateKeys.of(campaign_id)
    user_bucket, ip_bucket, by_ip = bucket_keys(keys.rate_limit, user_id=user_id, client_ip=client_ip)
    outcome, room, wait = _script("pass_token")(
        keys=[keys.meta, user_bucket, ip_bucket, keys.stats],
        args=["" if now_ms is None else now_ms, by_ip, stats_prefix],
        client=fc_redis.client(),
    )
    return PassToken(missing=text(outcome) == "missing", room=str(text(room)), retry_after_ms=int(wait))


def room_of(*, campaign_id: int) -> str | None:
    """Id of the waiting room in front of the campaign ("" for none), or None when the gate is missing."""
    value = fc_redis.client().hget(GateKeys.of(campaign_id).meta, "room")
    return None if value is None else str(text(value))


def slug_lookup(slug: str) -> int | None:
    value = fc_redis.client().hget(fc_redis.key(SLUG_MAP_KEY), slug)
    return None if value is None else int(value)


def slug_remember(slug: str, campaign_id: int) -> None:
    fc_redis.client().hset(fc_redis.key(SLUG_MAP_KEY), slug, campaign_id)


def stats_many(campaign_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Each campaign's answers by outcome so far (claim.lua's, and seat_hold.lua's as "hold:<outcome>")."""
    ids = list(campaign_ids)
    pipe = fc_redis.client().pipeline(transaction=False)
    for campaign_id in ids:
        pipe.hgetall(GateKeys.of(campaign_id).stats)
    replies = pipe.execute() if ids else []
    return {
        campaign_id: {text(field): int(count) for field, count in reply.items()}
        for campaign_id, reply in zip(ids, replies, strict=True)
    }


def stats_correct(*, campaign_id: int, heard: str | None, counted: str | None = "accepted") -> None:
    """The script counted `counted` ("accepted"; None: nothing, as for "in_flight"), but PostgreSQL had
    the last word and the client heard `heard` instead (duplicate, claim_in_progress, store_unavailable
    when the insert failed; None: nothing yet, another attempt answers): move the count."""
    key = GateKeys.of(campaign_id).stats
    pipe = fc_redis.client().pipeline(transaction=False)
    if counted is not None:
        pipe.hincrby(key, counted, -1)
    if heard is not None:
        pipe.hincrby(key, heard, 1)
    pipe.execute()
