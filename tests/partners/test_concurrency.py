"""Partner claims and creates under concurrency, zero-query repeats, and a revoke seen by every web process."""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from coupons.models import Campaign, ExternalClient, Grant
from coupons.services.gate import gate_meta_publish
from partners.models import CampaignCreateRecord, PartnerAPIKey
from partners.services import campaigns as partner_campaigns
from partners.services.keys import partner_key_revoke
from tests import processes
from tests.coupons.invariants import check_invariants
from tests.partners.factories import claim_path, key_client, make_key, make_partner, open_campaign, terms

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def acme_plain() -> str:
    return make_key(make_partner("acme"), rate_burst=0)[1]  # no key bucket: the races are the point here


def without_client_buckets(slug: str) -> None:
    """Turn the per-client bucket off on the partner's campaign (staff may, in the admin): every
    racing request then reaches the gate instead of a 429."""
    campaign = Campaign.objects.get(slug=f"acme-{slug}")
    campaign.rate_user_burst = 0
    campaign.save(update_fields=["rate_user_burst"])
    gate_meta_publish(campaign=campaign)


def in_threads(count: int, work) -> list:
    """Run work(i) in `count` threads released together by a barrier; each closes its DB connection."""
    barrier = threading.Barrier(count)
    released = []

    def run(index: int):
        try:
            released.append(barrier.wait(timeout=30))
            return work(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(run, range(count)))
    assert len(released) == count  # every thread passed the barrier: they started together
    return results


def test_24_threads_claiming_for_one_client_make_one_grant(acme_plain):
    # given
    open_campaign(key_client(acme_plain), "drop", quantity=5)
    without_client_buckets("drop")

    # when: 24 requests for the same client at once (its first claim: the client is made meanwhile)
    def claim(_):
        response = key_client(acme_plain).post(claim_path("drop"), {"client_id": "shop-7"}, format="json")
        return response.status_code, response.json()

    answers = in_threads(24, claim)

    # then: one 202, every other one a repeat of it (or "in progress": never another grant)
    statuses = Counter(status for status, _ in answers)
    assert statuses[202] == 1, statuses
    assert set(statuses) <= {200, 202, 409}, statuses
    assert all(body["code"] == "claim_in_progress" for status, body in answers if status == 409)
    grant_ids = {body["grant_id"] for status, body in answers if status in (200, 202)}
    assert len(grant_ids) == 1
    assert Grant.objects.count() == 1 and str(Grant.objects.get().pk) in grant_ids
    assert ExternalClient.objects.count() == 1
    assert User.objects.filter(username__startswith="~acme:").count() == 1  # no orphan shadow user


def test_40_clients_against_a_stock_of_10_get_exactly_10_grants(acme_plain):
    campaign_body = open_campaign(key_client(acme_plain), "drop", quantity=10)
    assert campaign_body["counts"]["remaining"] == 10

    def claim(index: int):
        response = key_client(acme_plain).post(claim_path("drop"), {"client_id": f"c-{index}"}, format="json")
        return response.status_code, response.json()

    answers = in_threads(40, claim)

    # then: count every row
    statuses = Counter(status for status, _ in answers)
    assert statuses == {202: 10, 409: 30}, statuses
    assert {body["code"] for status, body in answers if status == 409} == {"sold_out"}
    accepted = {body["grant_id"] for status, body in answers if status == 202}
    campaign = Campaign.objects.get(namespace="acme")
    counts = check_invariants(campaign, acknowledged=accepted, drained=False)
    assert counts["live"] == 10 and counts["pending"] == 10
    grants = Grant.objects.filter(campaign=campaign)
    assert {str(pk) for pk in grants.values_list("id", flat=True)} == accepted
    assert sorted(grants.values_list("slot", flat=True)) == list(range(1, 11))
    assert ExternalClient.objects.filter(namespace="acme").count() == 40
    assert grants.values("user").distinct().count() == 10
    read = key_client(acme_plain).get("/api/v1/partner/campaigns/drop/").json()
    assert read["counts"] == {"remaining": 0, "pending": 10, "succeeded": 0, "failed": 0}


def waiting_on_locks() -> int:
    """Sessions of the test database waiting for a lock (seen from a connection of its own)."""
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname=settings_dict["NAME"],
        autocommit=True,
    ) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        return row[0]


def test_12_concurrent_creates_with_one_idempotency_key_make_one_campaign(acme_plain, monkeypatch):
    # given: the first create holds its transaction open until the 11 others wait on its key's row
    create = partner_campaigns._create
    held = threading.Event()
    seen_waiting = []

    def create_when_the_others_wait(**kwargs):
        if not held.is_set():
            held.set()
            deadline = time.monotonic() + 20
            while waiting_on_locks() < 11 and time.monotonic() < deadline:
                time.sleep(0.01)  # polling a condition, not sleeping for it
            seen_waiting.append(waiting_on_locks())
        return create(**kwargs)

    monkeypatch.setattr(partner_campaigns, "_create", create_when_the_others_wait)
    body = terms("drop", quantity=3)

    # when
    def post(_):
        client = key_client(acme_plain)
        response = client.post("/api/v1/partner/campaigns/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
        return response.status_code, response.json()

    answers = in_threads(12, post)

    # then: the race happened (11 waited), one campaign was made, and everyone heard about it
    assert seen_waiting == [11]
    assert Counter(status for status, _ in answers) == {201: 1, 200: 11}
    assert {(body["slug"], body["status"]) for _, body in answers} == {("drop", "draft")}
    assert Campaign.objects.filter(namespace="acme").count() == 1
    assert CampaignCreateRecord.objects.count() == 1


def test_an_idempotency_key_reused_with_another_body_is_422_and_makes_nothing(acme_plain):
    client = key_client(acme_plain)
    body = terms("drop")
    first = client.post("/api/v1/partner/campaigns/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = client.post("/api/v1/partner/campaigns/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    other = client.post("/api/v1/partner/campaigns/", {**body, "quantity": 11}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (first.status_code, again.status_code) == (201, 200)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    no_key = client.post("/api/v1/partner/campaigns/", body, format="json")
    assert (no_key.status_code, no_key.json()["code"]) == (409, "slug_taken")
    assert Campaign.objects.count() == 1


def test_repeat_and_sold_out_claims_of_a_known_client_make_no_database_query(acme_plain):
    client = key_client(acme_plain)
    open_campaign(client, "drop", quantity=1)
    assert client.post(claim_path("drop"), {"client_id": "winner"}, format="json").status_code == 202
    late = client.post(claim_path("drop"), {"client_id": "late"}, format="json")  # the client is made here
    assert late.json()["code"] == "sold_out"

    with CaptureQueriesContext(connection) as queries:
        repeat = client.post(claim_path("drop"), {"client_id": "winner"}, format="json")
        sold_out = client.post(claim_path("drop"), {"client_id": "late"}, format="json")

    assert (repeat.status_code, repeat.json()["duplicate"]) == (200, True)
    assert (sold_out.status_code, sold_out.json()["code"]) == (409, "sold_out")
    assert len(queries) == 0, [q["sql"] for q in queries]


def test_a_revoked_key_is_refused_within_a_second_by_every_web_process(tmp_path, acme_plain):
    # given: two web processes, each of which has accepted the key (and would have cached it, if it did)
    key = PartnerAPIKey.objects.get(prefix=acme_plain.split(".")[0])
    webs = [processes.start_web(tmp_path, name=f"web-{i}", workers=1, threads=2) for i in range(2)]
    try:
        headers = {"Authorization": f"Api-Key {acme_plain}"}
        for web in webs:
            assert get(web, headers) == 200

        # when
        partner_key_revoke(key=key)
        revoked_at = time.monotonic()

        # then: each process refuses it from its next request on, well within a second
        refused_after = {}
        for index, web in enumerate(webs):
            while get(web, headers) != 401:
                assert time.monotonic() - revoked_at < 1.0, f"web-{index} still accepts the key"
            refused_after[index] = time.monotonic() - revoked_at
        assert all(seconds < 1.0 for seconds in refused_after.values()), refused_after
        print(f"\nrevoked key refused after {refused_after}")
    finally:
        for web in webs:
            web.stop()


def get(web, headers: dict[str, str]) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", web.extra["port"], timeout=5)
    try:
        conn.request("GET", "/api/v1/partner/campaigns/", headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()
