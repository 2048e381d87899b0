"""Two checkouts (or worktrees, or xdist workers) testing at once never meet on the shared stores."""

import os
import subprocess
import sys

from django.conf import settings

from tests.processes import ROOT

# Tests that flush Redis, count exact broker messages and start a real worker: any
# key, queue or database shared between the two runs makes one of them fail.
SELECTION = [
    "tests/coupons/test_drain.py::test_claims_publish_one_drain_per_ring_not_one_message_per_grant",
    "tests/coupons/test_drain.py::test_the_sweeper_starts_a_drain_for_grants_whose_drain_was_lost",
    "tests/coupons/test_drain.py::test_two_workers_draining_one_campaign_pay_each_grant_exactly_once",
    "tests/coupons/test_claim.py::test_redis_flush_rebuilds_the_gate_from_postgresql",
    "tests/coupons/test_claim.py::test_failed_grant_frees_the_slot_and_the_user_may_claim_again",
]


def _run(run_id: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["TEST_RUN_ID"] = run_id
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SELECTION],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_runs_at_once_on_the_same_stores_both_pass():
    # given: two runs with their own run ids (two checkouts), on this run's PostgreSQL and Redis
    first, second = (f"{settings.TEST_RUN_ID.split('-')[0]}{tag}" for tag in ("iso1", "iso2"))
    # when: both run the same store-heavy selection at the same time
    runs = [_run(first), _run(second)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    # then: both pass, every test of each
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-4000:]
        assert f"{len(SELECTION)} passed" in output, output[-2000:]
