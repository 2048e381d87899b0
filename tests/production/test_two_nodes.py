"""Two web nodes behind nginx's upstream: a spike through both stays exact, and rolling a new
version through them one at a time (drain, stop, start, put back) loses no claim."""

import random
import threading
import time
from collections import Counter

import pytest

from accounts.tokens import api_token_build
from config.http_load import Call, fire
from coupons.models import Grant
from tests.coupons.factories import published_campaign
from tests.coupons.invariants import check_claim_answers, check_invariants
from tests.coupons.test_spike import make_users
from tests.processes import wait_until
from tests.production.client import established, loopback_addresses

pytestmark = [pytest.mark.production, pytest.mark.load]

CLIENTS = 32


@pytest.fixture(scope="module")
def site(topology_factory):
    return topology_factory(web_nodes=2)


def upstreams_of(site, path: str) -> Counter:
    """Which web node nginx passed each request for `path` to (its access log)."""
    counts: Counter = Counter()
    for line in (site.run_dir / "nginx-access.log").read_text().splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[3] == path:
            counts[fields[-4]] += 1
    return counts


def test_a_spike_through_two_nodes_gives_exactly_n_grants_one_per_user(site, orm):
    # given: 1,500 slots, 3,000 users and 1,000 repeats, from 32 clients at 32 addresses
    slots, users_count, repeats = 1_500, 3_000, 1_000
    campaign = published_campaign(quantity=slots, amount=10, rate_user_burst=10)
    users = make_users(users_count, "two-nodes-")
    tokens = {u.pk: api_token_build(user=u)[0] for u in users}
    path = f"/api/v1/campaigns/{campaign.slug}/claims/"
    rng = random.Random(17)
    calls = [Call("POST", path, tokens[u.pk], u.pk) for u in users]
    calls += [Call("POST", path, tokens[u.pk], u.pk) for u in rng.choices(users, k=repeats)]
    rng.shuffle(calls)

    # when: all of it goes through nginx over TLS
    started = time.monotonic()
    results = fire(
        site.url,
        calls,
        concurrency=CLIENTS,
        ssl_context=site.ssl_context(),
        source_addresses=loopback_addresses(CLIENTS, block=20),
    )
    print(f"\ntwo nodes: {len(calls)} requests in {time.monotonic() - started:.1f} s")

    # then: exactly `slots` accepted, one per user, every repeat names its user's grant
    assert len(results) == len(calls)
    grant_of_user = check_claim_answers(results, slots=slots)
    # both nodes took a fair share
    nodes = upstreams_of(site, path)
    assert set(nodes) == {f"127.0.0.1:{port}" for port in site.web_ports}, nodes
    assert min(nodes.values()) > 0.3 * len(calls), nodes

    # then: the topology's worker delivers every grant, and every row is counted
    wait_until(
        lambda: not Grant.objects.filter(campaign=campaign, status=Grant.Status.PENDING).exists(),
        timeout=60,
        message="the drain to settle every grant",
    )
    counts = check_invariants(campaign, acknowledged=set(grant_of_user.values()), drained=True, full=True)
    assert counts["succeeded"] == counts["live"] == slots and counts["failed"] == 0, counts


class Firing:
    """Claims fired without pause from CLIENTS addresses until stopped; every answer kept."""

    def __init__(self, site, path: str, tokens: list[str]):
        self.results: list = []
        self.stop = threading.Event()
        self.tokens = iter(tokens)
        self.thread = threading.Thread(target=self._run, args=(site, path))
        self.thread.start()

    def _run(self, site, path: str) -> None:
        addresses = loopback_addresses(CLIENTS, block=21)
        while not self.stop.is_set():
            batch = [Call("POST", path, token) for token in (next(self.tokens) for _ in range(CLIENTS * 4))]
            self.results += fire(
                site.url, batch, concurrency=CLIENTS, ssl_context=site.ssl_context(), source_addresses=addresses
            )

    def finish(self) -> list:
        self.stop.set()
        self.thread.join()
        return self.results


def test_rolling_a_new_version_through_the_nodes_loses_no_claim(site, orm):
    # given: claims arriving without pause
    campaign = published_campaign(quantity=100_000, amount=10)
    users = make_users(20_000, "rolling-")
    tokens = [api_token_build(user=u)[0] for u in users]
    firing = Firing(site, f"/api/v1/campaigns/{campaign.slug}/claims/", tokens)
    try:
        time.sleep(1)
        # when: each node in turn is drained, stopped, started again (the new version) and put back,
        # as docs/deploy.md describes
        for port in site.web_ports:
            site.nginx_reload(down={port})
            wait_until(lambda: established(port) == 0, timeout=40, message=f"nginx to let go of {port}")  # noqa: B023
            site.web_service(port).stop()
            site.start_web(port)
            site.nginx_reload(down=())
            time.sleep(1)
        time.sleep(1)
    finally:
        results = firing.finish()

    # then: every claim was answered as a claim is (no 502 from a node going away), and each 202 is a row
    statuses = Counter(r.status for r in results)
    print(f"\nrolling restart: {len(results)} claims -> {dict(statuses)}")
    assert set(statuses) == {202}, f"{statuses}\n{site.logs()}"
    assert len(results) > 500
    acknowledged = {r.body["grant_id"] for r in results}
    wait_until(
        lambda: not Grant.objects.filter(campaign=campaign, status=Grant.Status.PENDING).exists(),
        timeout=60,
        message="the drain to settle every grant",
    )
    counts = check_invariants(campaign, acknowledged=acknowledged, drained=True)
    assert counts["succeeded"] == len(acknowledged)
