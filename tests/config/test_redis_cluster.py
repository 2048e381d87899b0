"""The Redis-touching suites pass unchanged on a private 3-master Redis Cluster (DESIGN §9, docs/scaling.md)."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest
from django.conf import settings

from tests import redis_cluster

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or bool(settings.TEST_REDIS_CLUSTER_URL),
    reason="needs redis-server on PATH; and a run already on the cluster does not start another",
)


def test_redis_suites_pass_on_a_three_master_cluster(tmp_path):
    # given: a private cluster on loopback ports, and a database of the inner run's own
    cluster = redis_cluster.start(masters=3)
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firstcome") + "_cluster"
    report = tmp_path / "cluster.xml"
    try:
        # when: the same test files run against it
        run = subprocess.run(
            [sys.executable, "-m", "pytest", *redis_cluster.CLUSTER_SUITES, "-q", "-p", "no:cacheprovider",
             "-m", "not chaos and not load", f"--junitxml={report}"],
            cwd=redis_cluster.ROOT, env=redis_cluster.pytest_env(cluster, database_url),
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        cluster.stop()

    # then: everything passed, the cluster's own checks ran (not skipped), and only the
    # standalone-only tests were skipped
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    cases = ElementTree.parse(report).getroot().iter("testcase")
    skipped = {case.get("name") for case in cases if case.find("skipped") is not None}
    assert "test_campaigns_and_rooms_spread_over_every_master" not in skipped
    assert skipped <= {"test_redis_refusing_writes_is_503_not_500"}, skipped
