"""firstcome benchmarks: `make bench` (everything) or `python bench/run.py <section>...`.

Sections (each can run on its own; figures accumulate in .run/bench/results.json
and `report` turns them into docs/benchmarks.md and its charts):

  setup     a fresh benchmark database, 50,000 users and their bearer tokens
  servers   the web server and worker model, chosen by measurement
  b1        spike claim: 200,000 claims for 10,000 slots from 50,000 users, the
            no-op ceilings, the three classic approaches on the same burst, the
            Redis ceiling (redis-benchmark)
  b2        drain: 10,000 accepted grants to succeeded with 1 and 2 workers
  b3        waiting room with 1,000,000 queued: tick, memory, join/status over HTTP
  b4        ranking cost: the same burst with and without leaderboards
  eta       the waiting room's ETA against the moment each user is admitted (W7)
  report    write docs/benchmarks.md and docs/benchmarks/*.png

Everything runs on this machine with the production settings
(config.settings.bench), the benchmark's own database and Redis db, real
server and Celery worker processes, and wrk as the load generator.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import stack

RESULTS = stack.WORK / "results.json"
TOKENS = stack.WORK / "tokens.txt"
# The sizes the issue asks for; smaller ones (environment) are for trying the harness out.
USERS = int(os.environ.get("BENCH_USERS", 50_000))
SLOTS = int(os.environ.get("BENCH_SLOTS", 10_000))
SPIKE_REQUESTS = int(os.environ.get("BENCH_SPIKE_REQUESTS", 200_000))
# The side-by-side burst every approach gets: the spike's shape (slots : requests,
# the same users and connections) at a quarter of its size, so the slowest
# baseline fits the time budget.
COMPARE_REQUESTS = int(os.environ.get("BENCH_COMPARE_REQUESTS", 12_000))
COMPARE_SLOTS = SLOTS * COMPARE_REQUESTS // SPIKE_REQUESTS
# Latency at equal load: firstcome and the locked baseline are each offered the
# same rate, PACED_SHARE of what the locked baseline sustained at saturation,
# for about PACED_SECONDS (a closed loop at saturation only measures queueing:
# latency = connections / throughput).
PACED_SHARE = 0.6
PACED_SECONDS = 12
NOOP_REQUESTS = 15_000  # the ceilings are steady states: a shorter burst measures them as well
CONNECTIONS = 256
# The server production runs (Procfile); the `servers` section measured the candidates.
PRODUCTION_SERVER = os.environ.get("BENCH_SERVER", "granian")
WORKER_PROCESSES = 2


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def results_load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def results_save(section: str, data: dict) -> None:
    results = results_load()
    results[section] = {**data, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True))


# --- setup --------------------------------------------------------------------


def section_setup() -> None:
    from bench import baselines

    started = time.monotonic()
    stack.database_recreate()
    baselines.tables_create()
    user_ids = stack.users_create(USERS)
    stack.tokens_write(user_ids, TOKENS)
    results_save(
        "machine",
        {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": _version(["psql", "--version"]),
            "redis": _version(["redis-server", "--version"]),
            "wrk": _version(["wrk", "--version"]),
            "kernel": platform.release(),
        },
    )
    log(f"setup: database, {USERS:,} users and tokens in {time.monotonic() - started:.0f} s")


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def _ensure_setup() -> None:
    if not TOKENS.exists():
        section_setup()


# --- helpers -----------------------------------------------------------------


def claim_path(slug: str) -> str:
    return f"/api/v1/campaigns/{slug}/claims/"


def drain_wait(campaign_id: int, timeout: float = 180) -> dict:
    """Wait until no grant of the campaign is pending; returns the seconds it took after the call."""
    from coupons.models import Grant

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not Grant.objects.filter(campaign_id=campaign_id, status=Grant.Status.PENDING).exists():
            break
        time.sleep(0.2)
    return {"drain_seconds_after_burst": round(time.monotonic() - started, 1)}


def campaign_counts(campaign_id: int) -> dict:
    """Every row of the campaign, counted: the invariants after the burst and the drain."""
    from django.db.models import Count, Sum

    from coupons.models import Campaign, Grant, LedgerEntry

    campaign = Campaign.objects.get(pk=campaign_id)
    grants = Grant.objects.filter(campaign=campaign)
    by_status = dict(grants.values_list("status").annotate(n=Count("id")))
    live = grants.filter(status__in=Grant.LIVE)
    live_count = live.count()
    users_twice = live.values("user_id").annotate(n=Count("id")).filter(n__gt=1).count()
    slots_twice = live.values("slot").annotate(n=Count("id")).filter(n__gt=1).count()
    entries = LedgerEntry.objects.filter(grant__campaign=campaign)
    return {
        "quantity": campaign.quantity,
        "grants_by_status": by_status,
        "live_grants": live_count,
        "over_issue": max(0, live_count - campaign.quantity),
        "users_with_two_live_grants": users_twice,
        "slots_held_twice": slots_twice,
        "ledger_entries": entries.count(),
        "ledger_total": entries.aggregate(s=Sum("amount"))["s"] or 0,
        "succeeded_total": by_status.get(Grant.Status.SUCCEEDED, 0) * campaign.amount,
    }


class Stack:
    """A running web server (+ grant workers) for one section."""

    def __init__(self, server: str = PRODUCTION_SERVER, workers: int = WORKER_PROCESSES) -> None:
        self.server_kind = server
        self.workers = workers
        self.procs: list[stack.Proc] = []

    def __enter__(self) -> Stack:
        if self.workers:
            self.procs.append(stack.worker_start("grants", processes=self.workers))
        self.web = stack.server_start(self.server_kind)
        self.procs.append(self.web)
        return self

    def __exit__(self, *exc) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    @property
    def url(self) -> str:
        return self.web.extra["url"]

    def fire(self, path: str, **kwargs) -> dict:
        kwargs.setdefault("connections", CONNECTIONS)
        return stack.fire(self.url + path, TOKENS, **kwargs)


# --- servers --------------------------------------------------------------------


def section_servers(seconds: float = 5) -> None:
    """Each candidate server with the claim's no-op stack and a sold-out claim (the
    request most of a spike consists of), at the same connections; best claim rate wins."""
    _ensure_setup()
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

    _ensure_setup()
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
    claim_args = ["EVALSHA", claim_sha, "8", keys.meta, keys.next, keys.free, keys.holders, keys.leases,
                  f"{keys.rate_limit}:u:__rand_int__", f"{keys.rate_limit}:ip:-", keys.stats,
                  "__rand_int__", "bench-grant", str(settings.GRANT_LEASE_SECONDS * 1000), "", "", ""]  # fmt: skip
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


# --- B2 / B3: the drain and the waiting room have their own scripts -------------


def _script_json(script: str, *args: str, timeout: int = 600) -> dict:
    output = stack.WORK / f"{script}.json"
    output.unlink(missing_ok=True)
    argv = [sys.executable, str(stack.ROOT / "bench" / f"{script}.py"), *args, "--json", str(output)]
    run = subprocess.run(argv, cwd=stack.ROOT, env=stack.bench_env(), timeout=timeout)
    if run.returncode != 0 or not output.exists():
        raise RuntimeError(f"bench/{script}.py failed ({run.returncode})")
    return json.loads(output.read_text())


def section_b2() -> None:
    results_save("b2", _script_json("drain", "--grants", str(SLOTS), "--old-grants", "500"))


def section_b3(queued: int = 1_000_000, chunk: int = 100_000) -> None:
    """bench/room_scale.py measures the Redis side (memory, tick, status) on its own room;
    then a room open in real time gets `queued` users through the join script and
    join and status are driven over HTTP at that size."""
    from config import redis as fc_redis
    from waitingroom import redis as room_redis

    _ensure_setup()
    data = _script_json("room_scale", "--users", str(queued))
    room = stack.room_create(
        slug=f"bench-room-http-{int(time.time())}", title="bench: join and status over HTTP", max_active=1, admit_rate=1
    )
    keys = room_redis.RoomKeys.of(room.pk)
    try:
        started = time.monotonic()
        fake_ids = range(100_000_000, 100_000_000 + queued)  # users the HTTP tokens never name
        for first in range(0, queued, chunk):
            batch = fc_redis.ScriptBatch()
            for user_id in fake_ids[first : first + chunk]:
                room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0, batch=batch)
            stack.batch_send(batch, "queued")
        log(f"b3: {queued:,} queued in {time.monotonic() - started:.0f} s (pipelined join script)")
        with Stack(workers=0) as s:
            # new arrivals (and their retries) join at the back of the queue
            data["http_join"] = s.fire(f"/api/v1/rooms/{room.slug}/join/", seconds=8)
            # every token's user is queued now, so each status call finds its user
            from accounts.models import User

            batch = fc_redis.ScriptBatch()
            for user_id in User.objects.filter(username__startswith="bench-").values_list("pk", flat=True):
                room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0, batch=batch)
            stack.batch_send(batch, "queued")
            data["http_status"] = s.fire(f"/api/v1/rooms/{room.slug}/status/", seconds=8, method="GET")
        data["http_queue_size"] = room_redis.counts(room_id=room.pk)[0]
    finally:
        fc_redis.client().unlink(*keys.all())
        room.delete()
    log(
        f"b3: join {data['http_join']['rps']:.0f}/s {data['http_join']['codes']}, "
        f"status {data['http_status']['rps']:.0f}/s {data['http_status']['codes']}"
    )
    data["http_conditions"] = (
        f"{stack.SERVERS[PRODUCTION_SERVER][1]}; a room open now holding {queued:,} queued users; 8 s each, "
        f"{CONNECTIONS} connections, tokens of {USERS:,} users at random (join: first joins and re-joins; "
        "status: every user queued)"
    )
    results_save("b3", data)


# --- ETA (W7) -------------------------------------------------------------------------

# Lines the ETA is measured on (bench/room_eta.py): each runs on the injected clock, so a
# minute of admission takes seconds; `silent_every` N: one user in N joins and never polls.
ETA_SCENARIOS = {
    "plain": {"people": 1_500, "rate": 15, "quantity": None, "silent_every": 0, "pause": None},
    "silent": {"people": 1_500, "rate": 15, "quantity": None, "silent_every": 5, "pause": None},
    "silent_stock": {"people": 1_500, "rate": 15, "quantity": 1_000, "silent_every": 8, "pause": None},
    "pause": {"people": 1_500, "rate": 15, "quantity": None, "silent_every": 0, "pause": (30, 45)},
    # max_active too small for the passes the silent users hold unused (20% of 15 a second for
    # 60 s is 180 places of 150): admission stalls until they expire, which the pace does not foresee
    "max_active_bound": {
        "people": 1_500,
        "rate": 15,
        "quantity": None,
        "silent_every": 5,
        "pause": None,
        "max_active": 150,
    },
}


def section_eta() -> None:
    """The ETA each polling user was told against the tick that admitted them, per line shape
    (in process, on the benchmark's stores; no web server: the estimator is the subject)."""
    from bench import room_eta
    from config import redis as fc_redis
    from waitingroom import redis as room_redis

    stack.database_ensure()
    rows = {}
    for name, shape in ETA_SCENARIOS.items():
        user_ids = stack.users_create(shape["people"], prefix="eta-")
        every = shape["silent_every"]
        silent = {u for i, u in enumerate(user_ids) if every and i % every == every - 1}
        stamp = f"{name}-{int(time.time())}"
        campaign = stack.campaign_create(slug=f"eta-{stamp}", quantity=shape["quantity"]) if shape["quantity"] else None
        room = stack.room_create(
            slug=f"eta-{stamp}",
            title=f"bench: ETA, {name}",
            campaign=campaign,
            max_active=shape.get("max_active", shape["rate"] * 60),
            admit_rate=shape["rate"],
            silence_timeout_seconds=30,
            pass_ttl_seconds=60,
            rate_user_burst=0,
        )
        started = time.monotonic()
        try:
            run = room_eta.simulate(
                room=room,
                campaign=campaign,
                user_ids=user_ids,
                silent=silent,
                t0_ms=(int(time.time()) + 1) * 1000,
                pause=shape["pause"],
            )
        finally:
            fc_redis.client().unlink(*room_redis.RoomKeys.of(room.pk).all())
        measured = room_eta.errors(run, warmup_seconds=10, told_from=shape["pause"][1] if shape["pause"] else 0)
        rows[name] = {
            **shape,
            **measured.as_dict(),
            "admitted": len(run.admitted_at),
            "polls": run.polls,
            "told_none": run.told_none,
            "seconds_simulated": run.seconds,
            "seconds_taken": round(time.monotonic() - started, 1),
        }
        log(f"eta {name}: {measured}")
    results_save(
        "eta",
        {
            "rows": rows,
            "conditions": "one room per line shape, admission ticks and status polls through the services on "
            "the injected clock (a tick a second, polls 1 ms after it, each user on their poll_after), admitted "
            "users claim at their next poll; silence timeout 30 s, pass 60 s, max_active 60 × the rate unless "
            "said; errors over every number told from 10 s after the first admission on (after the resume for "
            "the paused line)",
        },
    )


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

    _ensure_setup()
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
            campaign = stack.campaign_create(slug=f"b4-{round_number}-{int(time.time())}", quantity=slots)
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


# --- main -------------------------------------------------------------------------

SECTIONS = {
    "setup": section_setup,
    "servers": section_servers,
    "b1": section_b1,
    "b2": section_b2,
    "b3": section_b3,
    "eta": section_eta,
    "b4": section_b4,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", help="sections to run (default: all, then report)")
    args = parser.parse_args()
    wanted = args.sections or [*SECTIONS, "report"]
    stack.django_setup()
    started = time.monotonic()
    took: dict[str, int] = {}
    for name in wanted:
        if name == "report":
            from bench import report

            if not args.sections:  # a whole run: its times go into the report it writes
                results_save("run", {"seconds": round(time.monotonic() - started), "sections": wanted,
                                     "section_seconds": took})  # fmt: skip
            report.write(results_load())
            log("report: docs/benchmarks.md and docs/benchmarks/*.png written")
            continue
        section_started = time.monotonic()
        SECTIONS[name]()
        took[name] = round(time.monotonic() - section_started)
        log(f"{name} took {took[name]} s")
    log(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
