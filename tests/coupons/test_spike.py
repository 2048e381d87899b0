"""The spike: 10,000 slots, 20,000 users and their repeats over HTTP from 32 clients; count every row."""

import random
import time
from collections import Counter, defaultdict

import pytest

from accounts.models import User
from accounts.services import api_token_generation_warm_many
from accounts.tokens import api_token_build
from config.http_load import Call, fire
from coupons.models import Grant
from tests.coupons.factories import published_campaign
from tests.coupons.invariants import check_invariants

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.load]

SLOTS = 10_000
USERS = 20_000
REPEATS = 6_000  # the same users again: retries and double clicks
CLIENTS = 32


def make_users(count: int, prefix: str) -> list[User]:
    users = User.objects.bulk_create(
        [User(username=f"{prefix}{i}", password="!") for i in range(count)], batch_size=5000
    )
    api_token_generation_warm_many(generations={u.pk: 0 for u in users})  # as api_token_issue would
    return users


def test_spike_gives_exactly_n_grants_one_per_user(web_server):
    # All from 127.0.0.1: no per-IP limit. The busiest user sends 6 requests, so a
    # burst of 10 never refuses one, however the requests fall in time.
    campaign = published_campaign(quantity=SLOTS, amount=10, rate_ip_burst=0, rate_user_burst=10)
    users = make_users(USERS, "spike")
    tokens = {u.pk: api_token_build(user=u)[0] for u in users}
    path = f"/api/v1/campaigns/{campaign.slug}/claims/"
    rng = random.Random(7)
    calls = [Call("POST", path, tokens[u.pk], u.pk) for u in users]
    calls += [Call("POST", path, tokens[u.pk], u.pk) for u in rng.choices(users, k=REPEATS)]
    rng.shuffle(calls)
    started = time.monotonic()
    results = fire(web_server.extra["url"], calls, concurrency=CLIENTS)
    fired = time.monotonic()
    print(f"\nfire: {fired - started:.1f}s")

    assert len(results) == len(calls)
    statuses = Counter(r.status for r in results)
    assert set(statuses) <= {200, 202, 409}, f"unexpected statuses {statuses}\n{web_server.output()[-3000:]}"
    accepted = [r for r in results if r.status == 202]
    assert len(accepted) == SLOTS
    assert all(r.body["code"] == "sold_out" for r in results if r.status == 409)
    # one 202 per user at most, and every repeat names that same grant
    grant_of_user: dict[int, str] = {}
    for r in accepted:
        assert r.call.tag not in grant_of_user, "a user was accepted twice"
        grant_of_user[r.call.tag] = r.body["grant_id"]
    repeats_by_user = defaultdict(set)
    for r in results:
        if r.status == 200:
            repeats_by_user[r.call.tag].add(r.body["grant_id"])
    for user_id, grant_ids in repeats_by_user.items():
        assert grant_ids == {grant_of_user[user_id]}, "a repeat named another grant"
    assert len({r.body["slot"] for r in accepted}) == SLOTS

    # No worker runs here: the drain is proven by test_transfers; this counts the acknowledgements.
    counts = check_invariants(campaign, acknowledged=set(grant_of_user.values()), drained=False)
    assert counts == {"pending": SLOTS, "succeeded": 0, "failed": 0, "live": SLOTS}
    rows = dict(Grant.objects.filter(campaign=campaign).values_list("id", "user_id"))
    assert {str(k): v for k, v in rows.items()} == {g: u for u, g in grant_of_user.items()}
    print(f"\nspike: {len(calls)} requests from {CLIENTS} clients -> {dict(statuses)}")
