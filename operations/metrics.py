"""/metrics: every operational number as Prometheus metric families, read at scrape time.

Counters come from Redis (claims and seat holds by outcome counted inside the
scripts, grants settled and their latency counted by the drain, Celery tasks by
end state), gauges (grants by status, remaining stock, queue size, active
users) from PostgreSQL and Redis through operations/live.py.
"""

from config.metrics import counters, tasks_key
from coupons.metrics import GRANT_LATENCY_BUCKETS, TRANSFER_FAILURE_KINDS, grants_key
from operations import live


class FirstcomeCollector:
    """Everything above, as Prometheus metric families, read at scrape time."""

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

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
