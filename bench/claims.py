"""Sections of the claim path: the server model, B1 (the spike), the Redis ceiling, B2 (the drain) and
B4 (what the leaderboards cost)."""

from __future__ import annotations

import re
import subprocess
import time

from bench import stack
from bench.common import (
    COMPARE_REQUESTS,
    COMPARE_SLOTS,
    CONNECTIONS,
    NOOP_REQUESTS,
    PACED_SECONDS,
    PACED_SHARE,
    PRODUCTION_SERVER,
    SLOTS,
    SPIKE_REQUESTS,
    USERS,
    WORKER_PROCESSES,
    Stack,
    campaign_counts,
    claim_path,
    drain_wait,
    ensure_setup,
    log,
    results_save,
    script_json,
)

# --- servers --------------------------------------------------------------------


def section_servers(seconds: float = 5) -> None:
    """Each candidate server with the claim's no-op stack and a sold-out claim (the
    request most of a spike consists of), at the same connections; best claim rate wins."""
    ensure_setup()
    campaign = stack.campaign_create(slug=f"servers-{int(time.time())}", quantity=1)
    rows = []
    for kind in stack.SERVERS:
        with Stack(server=kind, workers=0) as s:
            s.fire(claim_path(campaign.slug), seconds=2)  # warm up; also sells the one slot out
            noop = s.fire("/bench/noop/api/", seconds=seconds)
            claim = s.fire(claim_path(campaign.slug), seconds=seconds)
            rows.append({"server": kind, "description": s.web.extra["description"], "noop_api": noop, "claim": claim})
            log(f"servers: {kind}: no-op {noop['rps']:.0f}/s, claim {claim['rps']:.0f}/s (p99 {claim['p99_ms']} ms)")
    best = max(rows, key=lambda r: r["claim"]["rps"])
    results_save(
        "servers",
        {
            "rows": rows,
            "best": best["server"],
            "production": PRODUCTION_SERVER,
            "conditions": f"{seconds:.0f} s per figure, {CONNECTIONS} connections, wrk 2 threads, "
            f"{USERS:,} users' tokens at random; claim = sold-out campaign (a Redis-only answer)",
        },
    )


# --- B1 -------------------------------------------------------------------------


def section_b1() -> None:
    from bench import baselines

    ensure_setup()
    out: dict = {}
    with Stack() as s:
        # The ceilings: a bare Django view and the claim's stack doing nothing.
        out["noop_django"] = s.fire("/bench/noop/django/", requests=NOOP_REQUESTS)
        out["noop_api"] = s.fire("/bench/noop/api/", requests=NOOP_REQUESTS)
        log(f"b1: no-op django {out['noop_django']['rps']:.0f}/s, no-op api {out['noop_api']['rps']:.0f}/s")

        # The side-by-side comparison: every approach gets the same burst.
        compare = {}
        campaign = stack.campaign_create(slug=f"b1-compare-{int(time.time())}", quantity=COMPARE_SLOTS)
        figures = s.fire(claim_path(campaign.slug), requests=COMPARE_REQUESTS)
        figures.update(drain_wait(campaign.pk))
        counts = campaign_counts(campaign.pk)
        compare["firstcome"] = {
            **figures,
            "quantity": counts["quantity"],
            "accepted_rows": counts["live_grants"],
            "duplicate_rows": counts["users_with_two_live_grants"],
            "over_issue": counts["over_issue"],
        }
        log(f"b1: firstcome {figures['rps']:.0f}/s p99 {figures['p99_ms']} ms, over-issue {counts['over_issue']}")
        for approach in ("count-insert", "locked", "redis-incr"):
            stock = f"{approach}-{int(time.time())}"
            baselines.stock_create(stock=stock, quantity=COMPARE_SLOTS)
            figures = s.fire(f"/bench/baseline/{approach}/{stock}/", requests=COMPARE_REQUESTS)
            compare[approach] = {**figures, **baselines.stock_counts(stock=stock)}
            log(
                f"b1: {approach} {figures['rps']:.0f}/s p99 {figures['p99_ms']} ms, "
                f"over-issue {compare[approach]['over_issue']}, duplicates {compare[approach]['duplicate_rows']}"
            )
        out["compare"] = compare

        # The same two approaches at an equal offered load both can carry.
        rate = round(PACED_SHARE * compare["locked"]["rps"])
        requests = rate * PACED_SECONDS
        slots = max(1, SLOTS * requests // SPIKE_REQUESTS)
        paced = {"offered_rps": rate, "requests": requests, "slots": slots}
        campaign = stack.campaign_create(slug=f"b1-paced-{int(time.time())}", quantity=slots)
        paced["firstcome"] = s.fire(claim_path(campaign.slug), requests=requests, rate=rate)
        paced["firstcome"].update(over_issue=campaign_counts(campaign.pk)["over_issue"])
        stock = f"locked-paced-{int(time.time())}"
        baselines.stock_create(stock=stock, quantity=slots)
        paced["locked"] = s.fire(f"/bench/baseline/locked/{stock}/", requests=requests, rate=rate)
        paced["locked"].update(over_issue=baselines.stock_counts(stock=stock)["over_issue"])
        paced["p99_ratio"] = round(paced["locked"]["p99_ms"] / max(paced["firstcome"]["p99_ms"], 0.01), 2)
        out["paced"] = paced
        log(
            f"b1: paced at {rate}/s: firstcome p99 {paced['firstcome']['p99_ms']} ms, "
            f"locked p99 {paced['locked']['p99_ms']} ms ({paced['p99_ratio']}x)"
        )

        # The spike itself: 200,000 claims, then the drain, then every row counted.
        campaign = stack.campaign_create(slug=f"b1-spike-{int(time.time())}", quantity=SLOTS)
        spike = s.fire(claim_path(campaign.slug), requests=SPIKE_REQUESTS)
        spike.update(drain_wait(campaign.pk))
        spike["counts"] = campaign_counts(campaign.pk)
        out["spike"] = spike
        log(f"b1: spike {spike['rps']:.0f}/s p50 {spike['p50_ms']} p99 {spike['p99_ms']} ms {spike['codes']}")
        log(f"b1: counts {spike['counts']}")
    out["redis_ceiling"] = redis_ceiling()
    out["conditions"] = (
        f"{stack.SERVERS[PRODUCTION_SERVER][1]}; {WORKER_PROCESSES} Celery worker processes draining meanwhile; "
        f"{CONNECTIONS} connections from wrk (2 threads); each request carries the token of one of "
        f"{USERS:,} users drawn at random (repeats = retries and double clicks); {SLOTS:,} slots"
    )
    results_save("b1", out)


def redis_ceiling(requests: int = 200_000) -> dict:
    """redis-benchmark: the claim script by EVALSHA with random users, beside a trivial script."""
    from django.conf import settings

    from coupons import redis as gate

    campaign = stack.campaign_create(slug=f"b1-redis-{int(time.time())}", quantity=SLOTS)
    keys = gate.GateKeys.of(campaign.pk)
    client = __import__("config.redis", fromlist=["client"]).client()
    claim_sha = client.script_load(gate._script("claim").script)
    trivial_sha = client.script_load("return 1")
    kwargs = client.connection_pool.connection_kwargs
    base = ["redis-benchmark", "-h", kwargs.get("host", "127.0.0.1"), "-p", str(kwargs.get("port", 6379)),
            "--dbnum", str(kwargs.get("db", 0)), "-c", "50", "-n", str(requests), "--csv"]  # fmt: skip
    if kwargs.get("password"):
        base += ["-a", kwargs["password"]]
    claim_args = ["EVALSHA", claim_sha, "9", keys.meta, keys.next, keys.free, keys.holders, keys.leases,
                  f"{keys.rate_limit}:u:__rand_int__", f"{keys.rate_limit}:ip:-", keys.stats, keys.provisional,
                  "__rand_int__", "bench-grant", str(settings.GRANT_LEASE_SECONDS * 1000), "", "", "", ""]  # fmt: skip
    out = {}
    for name, args in (("trivial_script", ["EVALSHA", trivial_sha, "0"]), ("claim_script", claim_args)):
        run = subprocess.run([*base, "-r", str(USERS), *args], capture_output=True, text=True, timeout=300)
        match = re.findall(r'"([\d.]+)"', run.stdout.strip().splitlines()[-1]) if run.stdout.strip() else []
        if not match:
            raise RuntimeError(f"redis-benchmark gave no figures: {run.stdout} {run.stderr}")
        out[name] = {"rps": float(match[0]), "p50_ms": float(match[4]) if len(match) > 4 else None}
    holders = client.hlen(keys.holders)
    out["claim_script_holders"] = holders
    out["conditions"] = f"redis-benchmark, {requests:,} calls, 50 connections, random user among {USERS:,}"
    log(f"b1: redis ceiling {out}")
    return out


# --- B2: the drain has its own script (bench/drain.py) -----------------------------


def section_b2() -> None:
    results_save("b2", script_json("drain", "--grants", str(SLOTS), "--old-grants", "500"))


# --- B4 ---------------------------------------------------------------------------


def paired_ratio(samples: dict[str, list[dict]], key: str) -> float:
    """with / without, as the median over the adjacent pairs of rounds (A B, B A, A B).

    The i-th round of each variant ran next to each other, so a pair shares the
    host's state of that moment; the host's drift over the whole run (seen as
    2x between the first and the last pair) then cancels out of each ratio."""
    import statistics

    pairs = zip(samples["with_rankings"], samples["without_rankings"], strict=True)
    return round(statistics.median(with_[key] / without[key] for with_, without in pairs), 3)


def section_b4(requests: int = 6_000, slots: int = 1_500, rounds: int = 3) -> None:
    """The same burst with three leaderboards and with none, in rounds ordered
    A B B A A B (the host drifts more between two runs than rankings cost, so one
    run each decides nothing); medians are compared. Claims are counted on the boards when
    their grant settles in the worker, so the end-to-end rate is compared too."""
    import statistics

    from ranking import services as ranking
    from ranking.models import Board

    ensure_setup()
    saved = list(Board.objects.all())
    samples: dict[str, list[dict]] = {"with_rankings": [], "without_rankings": []}
    try:
        for round_number in range(rounds * 2):
            # A B B A A B: a drift of the host over the run weighs on both variants alike
            variant = "with_rankings" if round_number % 4 in (0, 3) else "without_rankings"
            Board.objects.all().delete()
            if variant == "with_rankings":
                for board in saved:
                    board.save(force_insert=True)
            ranking.boards_forget()
            # listed: an unlisted drop records no ranking events, and their cost is what b4 measures
            campaign = stack.campaign_create(
                slug=f"b4-{round_number}-{int(time.time())}", quantity=slots, unlisted=False
            )
            with Stack() as s:  # fresh workers: they read the boards anew
                started = time.monotonic()
                figures = s.fire(claim_path(campaign.slug), requests=requests)
                figures.update(drain_wait(campaign.pk))
                total = time.monotonic() - started
            figures["boards"] = Board.objects.count()
            figures["end_to_end_seconds"] = round(total, 2)
            figures["claims_settled_per_s"] = round(slots / total, 1)
            samples[variant].append(figures)
            log(f"b4: {variant}: {figures['rps']:.0f} req/s, {slots} settled in {total:.1f} s")
    finally:
        Board.objects.all().delete()
        for board in saved:
            board.save(force_insert=True)
    out: dict = {"samples": samples}
    for variant, rows in samples.items():
        out[variant] = {
            "boards": rows[0]["boards"],
            "rps": statistics.median(r["rps"] for r in rows),
            "p99_ms": statistics.median(r["p99_ms"] for r in rows),
            "claims_settled_per_s": statistics.median(r["claims_settled_per_s"] for r in rows),
        }
    out["ratio_rps"] = paired_ratio(samples, "rps")
    out["ratio_settled"] = paired_ratio(samples, "claims_settled_per_s")
    out["conditions"] = (
        f"{requests:,} claims for {slots:,} slots per round, {rounds} rounds of each variant in the order "
        "A B B A A B; the ratio is the median of the ratios of the adjacent pairs (A B, B A, A B), "
        f"the rates are medians; {CONNECTIONS} connections, {WORKER_PROCESSES} worker processes; "
        "with = the 3 boards of the data migration"
    )
    results_save("b4", out)
