"""Token generations in Redis: key names and the few commands the accounts app sends (DESIGN §2).

One string per user, `accounts:tokgen:<user id>`, holding the generation every
valid bearer token of the user carries, NO_USER when the user is gone or
inactive, or REVOKING while a revoke is being committed (readers then ask
PostgreSQL). No hash tag: each call touches one key, so the keys spread over a
Redis Cluster's nodes.
"""

import functools

from redis.commands.core import Script

from config import redis as fc_redis

# A user that no longer exists, or may not log in, has no valid generation.
NO_USER = -1
# A revoke is on its way to the database: the cached value may be stale, ask PostgreSQL.
REVOKING = -2


def generation_key(user_id: int) -> str:
    return fc_redis.key("accounts", "tokgen", user_id)


@functools.cache
def _publish_script() -> Script:
    return fc_redis.script_register("accounts", "generation_publish")


def generation_get(*, user_id: int) -> int | None:
    value = fc_redis.client().get(generation_key(user_id))
    return None if value is None else int(value)


def generation_fill(*, user_id: int, generation: int, ttl_ms: int) -> int:
    """Cache a generation read from PostgreSQL unless the key holds one already; returns what it holds.

    SET NX: a revoke that published (or marked) meanwhile is newer than our read, and wins."""
    client = fc_redis.client()
    if client.set(generation_key(user_id), generation, px=ttl_ms, nx=True):
        return generation
    value = client.get(generation_key(user_id))
    return generation if value is None else int(value)


def generation_fill_many(*, generations: dict[int, int], ttl_ms: int) -> None:
    """generation_fill for many users in one round trip, answers ignored (bulk token issue)."""
    pipe = fc_redis.client().pipeline(transaction=False)
    for user_id, generation in generations.items():
        pipe.set(generation_key(user_id), generation, px=ttl_ms, nx=True)
    pipe.execute()


def generation_mark_revoking(*, user_id: int, ttl_ms: int) -> None:
    """Before a revoke commits: readers stop trusting the cached value (and ask PostgreSQL)."""
    fc_redis.client().set(generation_key(user_id), REVOKING, px=ttl_ms)


def generation_publish(*, user_id: int, generation: int, ttl_ms: int) -> int:
    """After a commit: the generation as the database has it (scripts/generation_publish.lua)."""
    return int(_publish_script()(keys=[generation_key(user_id)], args=[generation, ttl_ms], client=fc_redis.client()))
