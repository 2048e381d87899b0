"""The campaigns every page lists, in Redis: the version of their rows and the stock of many at once.

The pages everyone refreshes read both on every request (coupons/published.py): one script call on
a standalone Redis, a pipeline of one remaining.lua per campaign on a Redis Cluster (the campaigns'
keys are in as many hash slots). A campaign's own gate is coupons/redis.py.
"""

import functools
import uuid
from collections.abc import Iterable

from django.conf import settings
from redis.commands.core import Script

from config import redis as fc_redis
from coupons.redis import GateKeys

CAMPAIGNS_VERSION_KEY = "campaigns:version"  # replaced after every committed change of a campaign row


@functools.cache
def _script(name: str) -> Script:
    return fc_redis.script_register("coupons", name)


def remaining_many(campaign_ids: Iterable[int]) -> dict[int, int | None]:
    """remaining() for several campaigns in one round trip (one per node on a Redis Cluster)."""
    return campaigns_version_and_remaining(campaign_ids)[1]


def campaigns_version_replace(*, if_missing: bool = False) -> None:
    fc_redis.client().set(fc_redis.key(CAMPAIGNS_VERSION_KEY), uuid.uuid4().hex, nx=if_missing)


def campaigns_version_and_remaining(campaign_ids: Iterable[int]) -> tuple[bytes | None, dict[int, int | None]]:
    """The campaign rows' version (None when missing) and remaining() of several campaigns, in one round trip."""
    ids = list(campaign_ids)
    if not settings.REDIS_CLUSTER:  # one script call (a pipeline of one per campaign costs ~3x the CPU here)
        keys = [fc_redis.key(CAMPAIGNS_VERSION_KEY)]
        for campaign_id in ids:
            gate = GateKeys.of(campaign_id)
            keys += [gate.meta, gate.next, gate.free]
        version, *values = _script("remaining_many")(keys=keys, client=fc_redis.client())
        return version, {campaign_id: (None if v < 0 else v) for campaign_id, v in zip(ids, values, strict=True)}
    batch = fc_redis.ScriptBatch()
    batch.add_command("GET", fc_redis.key(CAMPAIGNS_VERSION_KEY))
    script = _script("remaining")
    for campaign_id in ids:
        keys = GateKeys.of(campaign_id)
        batch.add(script, [keys.meta, keys.next, keys.free], [])
    version, *values = batch.execute()
    for value in (version, *values):
        if isinstance(value, Exception):
            raise value
    return version, {campaign_id: (None if int(v) < 0 else int(v)) for campaign_id, v in zip(ids, values, strict=True)}
