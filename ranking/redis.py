"""Leaderboards in Redis sorted sets: key names, score packing and the record script (DESIGN §6).

Every key shares the hash tag `{rank}`, so one script call updates the day, week
and all-time keys of every board of a metric atomically, in one round trip. On
Redis Cluster all leaderboards therefore live on one node; they are small.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.commands.core import Script

from config import redis as fc_redis

SHIFT = 2**32
MAX_VALUE = 2**21 - 1
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def seconds_since_epoch(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds())


def pack(value: int, t: int, *, descending: bool) -> int:
    """The exact score for a value reached at t; values saturate at MAX_VALUE, as in record.lua."""
    value = max(0, min(value, MAX_VALUE))
    return value * SHIFT + ((SHIFT - 1 - t) if descending else t)


def unpack(score: float) -> int:
    """The value part of a packed score."""
    return int(score) // SHIFT


def board_key(board_slug: str, period_key: str) -> str:
    return fc_redis.key("{rank}", board_slug, period_key)


def view_keys(*, client_ip_bucket: str, member: str, visitor: str) -> tuple[str, str]:
    """The client IP's beacon bucket and a visitor's once-a-minute mark for a member, beside the boards
    (one hash tag, so view.lua can touch them in one call)."""
    return fc_redis.key("{rank}", "rl-view", client_ip_bucket), fc_redis.key("{rank}", "seen", member, visitor)


@functools.cache
def _script(name: str) -> Script:
    return fc_redis.script_register("ranking", name)


def record(
    *,
    keys: list[tuple[str, bool, int]],
    member: str,
    mode: str,
    amount: int,
    t: int,
    drops: list[str] = (),
    batch: fc_redis.ScriptBatch | None = None,
):
    """Run record.lua over (key, descending, ttl) triples, deleting the merges in `drops` (stale
    now); with a `batch` the call is queued."""
    args: list = [member, mode, amount, t]
    for _, descending, ttl in keys:
        args += ["desc" if descending else "asc", ttl]
    for _ in drops:
        args += ["drop", 0]
    key_names = [key for key, _, _ in keys] + list(drops)
    if batch is not None:
        batch.add(_script("record"), key_names, args)
        return None
    return _script("record")(keys=key_names, args=args, client=fc_redis.client())


def merge(*, key: str, buckets: list[str], descending: bool, aggregate: str, ttl_ms: int) -> int:
    """Merge hour buckets into `key` unless a merge is already there (merge.lua); its size."""
    args = ["desc" if descending else "asc", aggregate, ttl_ms]
    return int(_script("merge")(keys=[key, *buckets], args=args, client=fc_redis.client()))


def view_count(
    *,
    bucket: str,
    mark: str,
    burst: int,
    per_second: float,
    mark_seconds: int,
    keys: list[tuple[str, bool, int]],
    drops: list[str],
    member: str,
    amount: int,
    t: int,
    now_ms: int | None = None,
) -> tuple[str, int]:
    """Run view.lua: (outcome, number) — ("rate_limited", ms), ("repeat", 0) or ("counted", views)."""
    args: list = [burst, per_second, "" if now_ms is None else now_ms, mark_seconds, member, amount, t]
    for _, descending, ttl in keys:
        args += ["desc" if descending else "asc", ttl]
    for _ in drops:
        args += ["drop", 0]
    names = [bucket, mark, *(key for key, _, _ in keys), *drops]
    outcome, number = _script("view")(keys=names, args=args, client=fc_redis.client())
    return (outcome.decode() if isinstance(outcome, bytes) else outcome), int(number)


@dataclass(frozen=True)
class Entry:
    member: str
    value: int
    score: float


def entries(*, key: str, start: int, stop: int, descending: bool) -> list[Entry]:
    client = fc_redis.client()
    rows = client.zrange(key, start, stop, desc=descending, withscores=True)
    return [Entry(m.decode() if isinstance(m, bytes) else m, unpack(s), s) for m, s in rows]


def rank_of(*, key: str, member: str, descending: bool) -> int | None:
    """0-based position in board order."""
    client = fc_redis.client()
    return client.zrevrank(key, member) if descending else client.zrank(key, member)


def count_better(*, key: str, value: int, descending: bool) -> int:
    """How many members have a strictly better value (competition rank − 1)."""
    client = fc_redis.client()
    if descending:
        return client.zcount(key, (value + 1) * SHIFT, "+inf")
    return client.zcount(key, "-inf", f"({value * SHIFT}")


def keys_delete(*, board_slug: str) -> int:
    """Delete every period key of a board (after its slug, metric or direction changed)."""
    client = fc_redis.client()
    names = list(client.scan_iter(match=board_key(board_slug, "*"), count=500))
    return client.delete(*names) if names else 0


def size(*, key: str) -> int:
    return fc_redis.client().zcard(key)


def replace(*, key: str, scores: dict[str, int], ttl: int) -> None:
    """Swap in a rebuilt key atomically (written aside, then RENAME)."""
    client = fc_redis.client()
    temp = f"{key}:rebuild"
    pipe = client.pipeline(transaction=True)
    pipe.delete(temp)
    if scores:
        pipe.zadd(temp, scores)
        pipe.execute_command("RENAME", temp, key)  # pipe.rename is blocked on a RedisCluster pipeline
        if ttl:
            pipe.expire(key, ttl)
    else:
        pipe.delete(key)
    pipe.execute()
