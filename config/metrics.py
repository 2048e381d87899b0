"""Operational metrics for /metrics (Prometheus) and the live dashboard.

Counters live in Redis, so every web process, worker and node adds to the same
numbers and a scrape of any web node sees them all:

- claims and seat holds by outcome: counted inside claim.lua and seat_hold.lua
  (the campaign's `stats` hash, no extra round trip on the hot path);
- grants settled, grant latency (a histogram) and transfer failures by kind:
  added by the drain in the Redis round trip each batch already makes;
- Celery tasks by name and state: one HINCRBY per task, from Celery's signals.

Gauges (grants by status, remaining stock, queue size, active users) are read
from PostgreSQL and Redis when scraped. A Redis flush resets the counters;
Prometheus treats that as a counter reset.
"""

import contextlib
import logging
from collections import Counter
from collections.abc import Iterable

from redis.exceptions import RedisError

from config import redis as fc_redis

logger = logging.getLogger(__name__)

# Seconds from a claim's acceptance to its grant settling: a drain settles most
# within a second, retries take seconds to minutes.
GRANT_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
TRANSFER_FAILURE_KINDS = ("transient", "permanent", "exhausted")


def _key(name: str) -> str:
    # one hash tag for the global counters: on a Redis Cluster they sit together
    return fc_redis.key("{metrics}", name)


def grants_key() -> str:
    return _key("grants")


def tasks_key() -> str:
    return _key("tasks")


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


def task_finished(*, task: str, state: str) -> None:
    """Count one Celery task run by its end state (succeeded, failed, retried); best effort."""
    with contextlib.suppress(RedisError):
        fc_redis.client().hincrby(tasks_key(), f"{task}:{state}", 1)


def counters(key: str) -> dict[str, int]:
    return {
        field.decode() if isinstance(field, bytes) else field: int(value)
        for field, value in fc_redis.client().hgetall(key).items()
    }


class FirstcomeCollector:
    """Everything above, as Prometheus metric families, read at scrape time."""

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        from config import live

        claims = CounterMetricFamily(
            "firstcome_claims", "Claim answers by outcome (claim.lua), per campaign", labels=["campaign", "outcome"]
        )
        holds = CounterMetricFamily(
            "firstcome_seat_holds", "Seat hold answers by outcome, per campaign", labels=["campaign", "outcome"]
        )
        grants = GaugeMetricFamily("firstcome_grants", "Grants by status (PostgreSQL)", labels=["campaign", "status"])
        remaining = GaugeMetricFamily("firstcome_remaining", "Slots left to claim", labels=["campaign"])
        queued = GaugeMetricFamily("firstcome_room_queued", "Users waiting in line", labels=["room"])
        active = GaugeMetricFamily("firstcome_room_active", "Admitted users holding a place", labels=["room"])
        admitted = CounterMetricFamily("firstcome_room_admitted", "Users admitted so far", labels=["room"])
        rate = GaugeMetricFamily("firstcome_room_admission_rate", "Observed admissions per second", labels=["room"])
        paused = GaugeMetricFamily("firstcome_room_paused", "1 while admission is paused", labels=["room"])

        def room(room_live):
            queued.add_metric([room_live.slug], room_live.queued)
            active.add_metric([room_live.slug], room_live.active)
            admitted.add_metric([room_live.slug], room_live.admitted)
            rate.add_metric([room_live.slug], room_live.rate_ema)
            paused.add_metric([room_live.slug], 1 if room_live.state == "paused" else 0)

        for campaign in live.campaigns_live(live.campaigns_recent()):
            for outcome, count in sorted(campaign.claims.items()):
                claims.add_metric([campaign.slug, outcome], count)
            for outcome, count in sorted(campaign.holds.items()):
                holds.add_metric([campaign.slug, outcome], count)
            for status, count in campaign.grants.items():
                grants.add_metric([campaign.slug, status], count)
            if campaign.remaining is not None:
                remaining.add_metric([campaign.slug], campaign.remaining)
            if campaign.room:
                room(campaign.room)
        for room_live in live.rooms_without_campaign():
            room(room_live)
        yield from (claims, holds, grants, remaining, queued, active, admitted, rate, paused)

        counts = counters(grants_key())
        buckets, cumulative = [], 0
        for upper in (*GRANT_LATENCY_BUCKETS, "+Inf"):
            cumulative += counts.get(f"latency_le:{upper}", 0)
            buckets.append((str(upper), cumulative))
        yield HistogramMetricFamily(
            "firstcome_grant_latency_seconds",
            "From a claim's acceptance to its grant settling (succeeded or failed)",
            buckets=buckets,
            sum_value=counts.get("latency_sum_ms", 0) / 1000,
        )
        settled = CounterMetricFamily(
            "firstcome_grants_settled",
            "Grants the transfer queue settled, by outcome (seat sales settle in their request and are not counted)",
            labels=["outcome"],
        )
        for outcome in ("succeeded", "failed"):
            settled.add_metric([outcome], counts.get(f"settled:{outcome}", 0))
        yield settled
        failures = CounterMetricFamily(
            "firstcome_transfer_failures",
            "Transfer failures by kind (transient: retried; permanent; exhausted: retries used up)",
            labels=["kind"],
        )
        for kind in TRANSFER_FAILURE_KINDS:
            failures.add_metric([kind], counts.get(f"transfer_failures:{kind}", 0))
        yield failures
        tasks = CounterMetricFamily("firstcome_celery_tasks", "Celery task runs by end state", labels=["task", "state"])
        for name, count in sorted(counters(tasks_key()).items()):
            task, _, state = name.rpartition(":")
            tasks.add_metric([task, state], count)
        yield tasks


def exposition() -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FirstcomeCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
