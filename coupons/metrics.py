"""The grants' counters in Redis (/metrics reads them: operations/metrics.py).

Grants settled, grant latency (a histogram) and transfer failures by kind,
added by the drain in the Redis round trip each batch already makes, so every
worker on every node adds to the same numbers. A Redis flush resets them;
Prometheus treats that as a counter reset.
"""

import logging
from collections import Counter
from collections.abc import Iterable

from redis.exceptions import RedisError

from config import metrics
from config import redis as fc_redis

logger = logging.getLogger(__name__)

# Seconds from a claim's acceptance to its grant settling: a drain settles most
# within a second, retries take seconds to minutes.
GRANT_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
TRANSFER_FAILURE_KINDS = ("transient", "permanent", "exhausted")


def grants_key() -> str:
    return metrics.key("grants")


def _bucket_field(seconds: float) -> str:
    for upper in GRANT_LATENCY_BUCKETS:
        if seconds <= upper:
            return f"latency_le:{upper}"
    return "latency_le:+Inf"


def grants_settled(
    *,
    batch: fc_redis.ScriptBatch,
    latencies: Iterable[float],
    succeeded: int,
    failures: Counter[str],
) -> None:
    """Queue the counters of settled grants on `batch` (the round trip the caller makes anyway).

    `latencies`: seconds from each settled grant's creation to its completion;
    `failures`: transfer failures by kind (transient: retried; permanent, exhausted: the grant failed)."""
    fields: Counter[str] = Counter()
    total_ms = 0
    for seconds in latencies:
        seconds = max(seconds, 0.0)  # creation and completion come from two machines' clocks
        fields[_bucket_field(seconds)] += 1
        fields["latency_count"] += 1
        total_ms += round(seconds * 1000)
    if total_ms:
        fields["latency_sum_ms"] += total_ms
    if succeeded:
        fields["settled:succeeded"] += succeeded
    for kind, count in failures.items():
        fields[f"transfer_failures:{kind}"] += count
        if kind != "transient":
            fields["settled:failed"] += count
    for field, count in fields.items():
        batch.add_command("HINCRBY", grants_key(), field, count)


def grants_settled_now(**counts) -> None:
    """grants_settled in a round trip of its own (the per-grant path); best effort."""
    batch = fc_redis.ScriptBatch()
    grants_settled(batch=batch, **counts)
    try:
        batch.execute()
    except RedisError as exc:
        logger.warning("could not count settled grants: %s", exc)
