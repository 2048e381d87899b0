"""B2 "drain": how fast accepted claims reach `succeeded` with the ledger backend (issue 7).

Usage: DJANGO_SETTINGS_MODULE=config.settings.bench \\
       .venv/bin/python bench/drain.py [--grants 10000] [--old-grants 2000] [--json /tmp/drain.json]

Everything runs on the benchmark's own stores (config.settings.bench: database
`firstcome_bench`, created and migrated if missing; Redis db 10, prefix
`fcbench`). For 1 and then 2 worker processes (`celery worker -Q grants,default
--concurrency 1 --pool prefork`, the same settings) it makes a fresh credit
campaign and takes its N slots through the claim service in-process (setup, not
timed; the claims' own drain messages are held back so nothing starts early).
The clock starts when the last claim's ring publishes the drain, exactly as a
claim does after its commit, and stops at the last grant's completion (its
completed_at; the harness polls COUNT to notice the end). Afterwards every row
is checked: N succeeded, one ledger entry each, and every wallet's balance
equals the sum of its entries. For context it also times the old per-grant
path (one grant_transfer_task per grant) with 2 workers on fewer grants.
"""

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import stack  # noqa: E402

SETUP_THREADS = 4  # claims of the setup overlap their round trips; not timed


def campaign_with_pending_grants(*, label: str, user_ids: list[int]):
    """A published, open credit campaign whose every slot was claimed through the claim service."""
    from coupons.models import Grant
    from coupons.services import claims

    campaign = stack.campaign_create(slug=f"drain-{label}-{uuid.uuid4().hex[:8]}", quantity=len(user_ids))

    def claim_chunk(chunk: list[int]) -> None:
        with connection.cursor() as cursor:  # setup only: the claims' commits need not wait for the disk
            cursor.execute("SET synchronous_commit TO off")
        try:
            for user_id in chunk:
                claims.claim_create(campaign_id=campaign.pk, user_id=user_id)
        finally:
            connection.close()

    held_back = claims.drain_enqueue
    claims.drain_enqueue = lambda campaign_id: True  # the timed part starts the drain
    try:
        with ThreadPoolExecutor(max_workers=SETUP_THREADS) as pool:
            list(pool.map(claim_chunk, [user_ids[i::SETUP_THREADS] for i in range(SETUP_THREADS)]))
    finally:
        claims.drain_enqueue = held_back
    pending = Grant.objects.filter(campaign=campaign, status=Grant.Status.PENDING).count()
    assert pending == len(user_ids), f"setup: {pending} pending grants for {len(user_ids)} claims"
    return campaign


# --- workers ------------------------------------------------------------------


class Workers:
    """N real Celery worker processes with one pool process each, on the bench settings."""

    def __init__(self, count: int, logs: Path) -> None:
        self.names = [f"drain{i}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}" for i in range(count)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(DJANGO_SETTINGS_MODULE="config.settings.bench", PYTHONUNBUFFERED="1", DJANGO_CONN_MAX_AGE="none")
        self.procs = []
        for name in self.names:
            log = (logs / f"{name.split('@')[0]}.log").open("w")
            self.procs.append(
                subprocess.Popen(
                    [
                        str(VENV_BIN / "celery"),
                        "-A",
                        "config",
                        "worker",
                        "-Q",
                        "grants,default",
                        "-n",
                        name,
                        "--concurrency",
                        "1",
                        "--pool",
                        "prefork",
                        "--without-mingle",
                        "--without-gossip",
                        "--loglevel",
                        "WARNING",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def strangers(self) -> list[str]:
        """Workers on the same broker that are not ours: they would take some of the work."""
        from config.celery import app

        replies = app.control.ping(timeout=0.5) or []
        return sorted({name for reply in replies for name in reply} - set(self.names))

    def wait_ready(self, timeout: float = 60) -> None:
        from config.celery import app

        deadline = time.monotonic() + timeout
        waiting = set(self.names)
        while waiting and time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError("a worker exited during startup; see its log")
            for reply in app.control.ping(destination=list(waiting), timeout=0.5) or []:
                waiting -= set(reply)
        if waiting:
            raise RuntimeError(f"workers not ready: {sorted(waiting)}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


# --- one measurement ------------------------------------------------------------


def wait_settled(campaign, *, expected: int, timeout: float) -> None:
    from coupons.models import Grant

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Grant.objects.filter(campaign=campaign, status=Grant.Status.SUCCEEDED).count() >= expected:
            return
        time.sleep(0.25)
    raise RuntimeError(f"timed out: not every grant of {campaign.slug} succeeded within {timeout} s")


def verify(campaign) -> None:
    """Every row: N succeeded, one ledger credit each, balances equal to the sum of their entries."""
    from django.db.models import Count

    from coupons.models import Grant, LedgerEntry

    grants = Grant.objects.filter(campaign=campaign)
    counts = dict(grants.values_list("status").annotate(n=Count("id")).order_by())
    assert counts == {"succeeded": campaign.quantity}, f"grant statuses {counts}"
    entries = LedgerEntry.objects.filter(grant__campaign=campaign)
    assert entries.count() == campaign.quantity, "ledger entries != succeeded grants"
    assert entries.values("grant_id").distinct().count() == campaign.quantity, "a grant credited twice"
    assert not entries.exclude(amount=campaign.amount).exists(), "a wrong amount"
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM coupons_wallet w
               WHERE w.user_id IN (SELECT user_id FROM coupons_grant WHERE campaign_id = %s)
                 AND w.balance <> (SELECT COALESCE(sum(e.amount), 0) FROM coupons_ledgerentry e
                                   WHERE e.wallet_id = w.id)""",
            [campaign.pk],
        )
        assert cursor.fetchone()[0] == 0, "a wallet's balance differs from the sum of its entries"


def measure(*, label: str, workers: int, user_ids: list[int], logs: Path, per_grant: bool = False) -> dict:
    from django.db.models import Max

    from coupons import redis as gate
    from coupons.models import Grant
    from coupons.services.claims import confirm_quietly
    from coupons.tasks import grant_transfer_task

    campaign = campaign_with_pending_grants(label=label, user_ids=user_ids)
    gate.doorbell_clear(campaign_id=campaign.pk)
    pool = Workers(workers, logs)
    try:
        pool.wait_ready()
        strangers = pool.strangers()
        if strangers:
            raise RuntimeError(f"other workers consume the bench broker, the figures would be wrong: {strangers}")
        if per_grant:
            ids = [
                str(pk)
                for pk in Grant.objects.filter(campaign=campaign).order_by("created_at").values_list("pk", flat=True)
            ]
            started = timezone.now()
            for grant_id in ids:  # what every claim did before the drain: one message per grant
                grant_transfer_task.delay(grant_id)
        else:
            last = Grant.objects.filter(campaign=campaign).order_by("-created_at").first()
            started = timezone.now()
            # What the last claim does after its commit: confirm its hold and ring the doorbell.
            confirm_quietly(
                campaign_id=campaign.pk, hold=gate.Hold(last.slot, last.user_id, str(last.pk)), pending=True
            )
        wait_settled(campaign, expected=len(user_ids), timeout=300)
        finished = Grant.objects.filter(campaign=campaign).aggregate(m=Max("completed_at"))["m"]
    finally:
        pool.stop()
    verify(campaign)
    seconds = (finished - started).total_seconds()
    # a batch's grants share one completion time: this counts the transactions that delivered them
    batches = Grant.objects.filter(campaign=campaign).order_by().values("completed_at").distinct().count()
    return {
        "grants": len(user_ids),
        "seconds": round(seconds, 3),
        "grants_per_s": round(len(user_ids) / seconds, 1),
        "transactions": batches,
    }


def conditions(grants: int, old_grants: int, load: tuple[float, float, float]) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    from config import redis as fc_redis

    redis_version = fc_redis.client().info("server")["redis_version"]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} cores ({cpu}) shared by the workers, PostgreSQL {pg} and Redis {redis_version} "
        f"(and whatever else runs: load average {load[0]:.1f} at the start); "
        f"ledger backend; {grants} grants of one credit campaign claimed in-process before the clock starts; "
        f"GRANT_DRAIN_BATCH={settings.GRANT_DRAIN_BATCH}; workers: celery -Q grants,default --concurrency 1 "
        f"--pool prefork each, config.settings.bench; old per-grant path on {old_grants} grants with 2 workers"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grants", type=int, default=10_000)
    parser.add_argument("--old-grants", type=int, default=2_000, help="grants for the per-grant path (0: skip)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    load = os.getloadavg()
    stack.database_ensure()
    user_ids = stack.users_create(max(args.grants, args.old_grants), prefix="drain-bench-")
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="drain-bench-") as tmp:
        logs = Path(tmp)
        try:
            for workers in (1, 2):
                results[f"workers_{workers}"] = measure(
                    label=f"w{workers}", workers=workers, user_ids=user_ids[: args.grants], logs=logs
                )
            if args.old_grants:
                results["per_grant_workers_2"] = measure(
                    label="old", workers=2, user_ids=user_ids[: args.old_grants], logs=logs, per_grant=True
                )
        except Exception:
            for log in logs.glob("*.log"):
                print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
            raise
    results["conditions"] = conditions(args.grants, args.old_grants, load)

    print(f"{'path':<28}{'grants':>8}{'seconds':>10}{'grants/s':>10}")
    for key in ("workers_1", "workers_2", "per_grant_workers_2"):
        if key in results:
            row = results[key]
            print(f"{key:<28}{row['grants']:>8}{row['seconds']:>10.2f}{row['grants_per_s']:>10.0f}")
    if "per_grant_workers_2" in results:
        ratio = results["workers_2"]["grants_per_s"] / results["per_grant_workers_2"]["grants_per_s"]
        results["drain_vs_per_grant_2_workers"] = round(ratio, 1)
        print(f"drain / per-grant, 2 workers: {ratio:.1f}x")
    print(results["conditions"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
