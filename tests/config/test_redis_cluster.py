"""The Redis-touching suites pass unchanged on a private 3-master Redis Cluster (DESIGN §9, docs/scaling.md)."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest
from django.conf import settings
from django.test import override_settings

from coupons import redis as gate
from coupons.models import Grant
from tests import redis_cluster
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign

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


@pytest.mark.django_db(transaction=True)
def test_a_dead_master_takes_down_only_its_own_campaigns(client):
    """With cluster-require-full-coverage off (docs/scaling.md), campaigns on the surviving masters
    keep serving claims; those on the dead one answer 503, never 500, and leave no row behind."""
    # given: the app on a private cluster, and campaigns spread over its masters
    cluster = redis_cluster.start(masters=3, options=("--cluster-require-full-coverage", "no"))
    options = {**settings.CACHES["default"]["OPTIONS"], "CLIENT_CLASS": "config.redis_cluster.ClusterClient"}
    caches = {"default": {**settings.CACHES["default"], "LOCATION": cluster.url, "OPTIONS": options}}
    try:
        with override_settings(
            CACHES=caches,
            REDIS_CLUSTER=True,
            REDIS_URL=cluster.url,
            SESSION_ENGINE="django.contrib.sessions.backends.db",
        ):
            campaigns = [published_campaign(quantity=5) for _ in range(24)]
            redis_client = gate.fc_redis.client()
            port_of = {c.pk: redis_client.get_node_from_key(gate.GateKeys.of(c.pk).meta).port for c in campaigns}
            assert len(set(port_of.values())) == 3
            # the master that also holds the one key shared by all campaigns (slug -> id)
            dead_port = redis_client.get_node_from_key(gate.fc_redis.key(gate.SLUG_MAP_KEY)).port

            # when: that master crashes, and a user claims in every campaign
            cluster.kill(dead_port)
            client.force_login(UserFactory())
            answers = {
                c.pk: client.post(f"/api/v1/campaigns/{c.slug}/claims/", content_type="application/json")
                for c in campaigns
            }
    finally:
        cluster.stop()

    # then
    for campaign_id, response in answers.items():
        if port_of[campaign_id] == dead_port:
            assert response.status_code == 503 and response.json()["code"] == "store_unavailable"
        else:
            assert response.status_code == 202, response.content
    live = {campaign_id for campaign_id, port in port_of.items() if port != dead_port}
    assert set(Grant.objects.values_list("campaign_id", flat=True)) == live
