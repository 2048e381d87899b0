"""What every benchmark section shares: the figures file, the workload's sizes, the stack of server and
workers a section runs against, and the counts it checks afterwards (bench/run.py runs the sections)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime

from bench import stack, wrk

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


def ensure_setup() -> None:
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
        return wrk.fire(self.url + path, TOKENS, **kwargs)


def script_json(script: str, *args: str, timeout: int = 600) -> dict:
    output = stack.WORK / f"{script}.json"
    output.unlink(missing_ok=True)
    argv = [sys.executable, str(stack.ROOT / "bench" / f"{script}.py"), *args, "--json", str(output)]
    run = subprocess.run(argv, cwd=stack.ROOT, env=stack.bench_env(), timeout=timeout)
    if run.returncode != 0 or not output.exists():
        raise RuntimeError(f"bench/{script}.py failed ({run.returncode})")
    return json.loads(output.read_text())
