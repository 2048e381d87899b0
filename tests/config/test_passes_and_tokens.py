"""Forged, expired, foreign and reused credentials over HTTP: access passes, bearer tokens, seat fencing tokens.

Each is refused with its documented code and leaves every row and every gate
key as it was. The service-level cases live beside the code they test
(tests/waitingroom/test_room.py, tests/accounts/test_tokens.py,
tests/coupons/test_seats.py); these go through the API as a client would.
"""

import http.client
import json
import threading
import time
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.settings import api_settings

from accounts import services as account_services
from coupons import redis as gate
from coupons import seats, services
from coupons.models import Grant, LedgerEntry, Seat, Wallet
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import assert_error, client_with
from tests.config.test_authorization import state
from tests.coupons.factories import published_campaign
from tests.coupons.test_seats import funded_user, seat_campaign
from tests.waitingroom.factories import published_room
from waitingroom import redis as room_redis
from waitingroom import services as room_services

pytestmark = pytest.mark.django_db(transaction=True)


def now_ms() -> int:
    return int(time.time() * 1000)


def admitted(room, user, *, at_ms: int | None = None) -> str:
    room_services.room_join(room_id=room.pk, user_id=user.pk, now_ms=at_ms)
    room_services.room_tick(room=room, now_ms=at_ms)
    status = room_services.room_status(room=room, user_id=user.pk, now_ms=at_ms)
    assert status.outcome == "admitted"
    return status.access_pass


def claim(client: APIClient, campaign, access_pass: str):
    return client.post(f"/api/v1/campaigns/{campaign.slug}/claims/", {"access_pass": access_pass}, format="json")


def test_forged_foreign_and_expired_passes_are_refused_and_change_nothing():
    campaign = published_campaign(quantity=5)
    room = published_room(campaign=campaign, pass_ttl_seconds=60, opens_at=timezone.now() - timedelta(hours=1))
    owner, other, late = UserFactory.create_batch(3)
    # admitted 10 minutes ago (the scripts' clock override): the pass ran out long since
    expired_pass = admitted(room, late, at_ms=now_ms() - 600_000)
    access_pass = admitted(room, owner)
    expiry_ms = room_services.room_status(room=room, user_id=owner.pk).pass_expires_ms
    forged = access_pass[:-4] + ("AAAA" if not access_pass.endswith("AAAA") else "BBBB")
    cases = [
        (owner, forged, "forged signature"),
        (
            owner,
            room_services.pass_issue(room_id=room.pk, user_id=owner.pk, expiry_ms=expiry_ms + 1),
            "another admission's",
        ),
        (other, access_pass, "someone else's"),
        (late, expired_pass, "expired"),
        (owner, "x" * 1000, "garbage"),
    ]
    before = state()
    details = {}
    for user, token, why in cases:
        response = claim(client_with(account_services.api_token_issue(user=user)[0]), campaign, token)
        assert_error(response, 403, "pass_invalid")
        details[why] = response.json()["detail"]
        assert state() == before, why
    # someone else's pass reads exactly like a forged one: a stolen pass teaches nothing
    assert details["someone else's"] == details["forged signature"]
    assert not Grant.objects.exists()
    # the owner's real pass still works, once
    owner_client = client_with(account_services.api_token_issue(user=owner)[0])
    first = claim(owner_client, campaign, access_pass)
    assert first.status_code == 202
    again = claim(owner_client, campaign, access_pass)  # a second click: the same grant, nothing new
    assert (again.status_code, again.json()["grant_id"]) == (200, first.json()["grant_id"])
    assert Grant.objects.count() == 1


def test_a_pass_is_used_up_only_by_the_campaign_its_room_protects():
    protected = published_campaign(quantity=5)
    room = published_room(campaign=protected)
    roomless, seats_roomless = published_campaign(quantity=5), seat_campaign()
    elsewhere = published_campaign(quantity=5)
    published_room(campaign=elsewhere)
    user = UserFactory()
    services.wallet_adjust(user_id=user.pk, amount=100_000, reference="test-fund")
    client = client_with(account_services.api_token_issue(user=user)[0])
    access_pass = admitted(room, user)

    # sent with claims and holds of other campaigns the pass is ignored: they answer as without it
    assert claim(client, roomless, access_pass).status_code == 202
    hold_url = f"/api/v1/campaigns/{seats_roomless.slug}/seats/A-1/hold/"
    hold = client.post(hold_url, {"access_pass": access_pass}, format="json")
    assert hold.status_code == 200, hold.content
    assert_error(claim(client, elsewhere, access_pass), 403, "admission_required")
    assert room_services.room_status(room=room, user_id=user.pk).outcome == "admitted"  # still the user's turn

    # where its room stands it is used, once
    first = claim(client, protected, access_pass)
    assert first.status_code == 202, first.content
    assert room_services.room_status(room=room, user_id=user.pk).outcome == "absent"
    assert Grant.objects.filter(user=user).count() == 2


def post_json(base_url: str, path: str, token: str, body: dict) -> tuple[int, dict]:
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection.request("POST", path, body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


@pytest.mark.load
def test_one_pass_sent_by_50_parallel_requests_claims_once(web_server):
    campaign = published_campaign(quantity=5)
    room = published_room(campaign=campaign)
    user = UserFactory()
    access_pass = admitted(room, user)
    token = account_services.api_token_issue(user=user)[0]
    path = f"/api/v1/campaigns/{campaign.slug}/claims/"
    barrier = threading.Barrier(50)
    results = []

    def send():
        barrier.wait()
        results.append(post_json(web_server.extra["url"], path, token, {"access_pass": access_pass}))

    threads = [threading.Thread(target=send) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 50
    accepted = [body for status, body in results if status == 202]
    assert len(accepted) == 1, web_server.output()[-3000:]
    for status, body in results:
        # the pass is used once; the other 49 name that same grant, once it is committed, or are refused
        # (each spends a token of the user's bucket, so most are rate limited)
        assert (
            (status == 200 and body["grant_id"] == accepted[0]["grant_id"])
            or (status, body.get("code")) in {(403, "pass_invalid"), (429, "rate_limited"), (409, "claim_in_progress")}
            or status == 202
        ), (status, body)
    assert Grant.objects.filter(campaign=campaign).count() == 1
    assert room_redis.counts(room_id=room.pk) == (0, 0)  # nobody queued, nobody left active


def test_forged_expired_and_revoked_bearer_tokens_cannot_claim_and_change_nothing():
    campaign = published_campaign(quantity=5)
    user = UserFactory()
    good, _ = account_services.api_token_issue(user=user)
    payload = jwt.decode(good, options={"verify_signature": False})
    signing_key = api_settings.SIGNING_KEY
    forged = {
        "alg none": jwt.encode(payload, key=None, algorithm="none"),
        "another key": jwt.encode(payload, "not-our-key-0123456789abcdef0123456789", algorithm="HS256"),
        "expired": account_services.api_token_issue(user=user, lifetime=timedelta(seconds=-1))[0],
        "no generation": jwt.encode({k: v for k, v in payload.items() if k != "gen"}, signing_key, algorithm="HS256"),
        "nobody": jwt.encode({**payload, "user_id": "987654321"}, signing_key, algorithm="HS256"),
        "garbage": "Bearer.is.not-a-token",
    }
    path = f"/api/v1/campaigns/{campaign.slug}/claims/"
    before = state()
    for why, token in forged.items():
        response = client_with(token).post(path)
        assert response.status_code == 401, (why, response.content)
        assert response.json()["code"] in ("token_not_valid", "token_revoked"), why
        assert state() == before, why
    account_services.api_token_revoke(user=user)
    revoked = state()
    assert_error(client_with(good).post(path), 401, "token_revoked")
    assert state() == revoked
    assert gate.holder_of(campaign_id=campaign.pk, user_id=user.pk) is None


def test_stale_and_foreign_seat_tokens_are_refused_and_change_nothing():
    campaign = seat_campaign()
    alice, bob = funded_user(), funded_user()
    alice_client = client_with(account_services.api_token_issue(user=alice)[0])
    bob_client = client_with(account_services.api_token_issue(user=bob)[0])
    base = f"/api/v1/campaigns/{campaign.slug}/seats"
    first = alice_client.post(f"{base}/A-1/hold/", {}, format="json").json()
    alice_client.post(f"{base}/A-2/hold/", {}, format="json")  # switching frees A-1; the old token is stale
    bob_hold = bob_client.post(f"{base}/A-1/hold/", {}, format="json").json()
    before = state()
    balances = dict(Wallet.objects.values_list("user_id", "balance"))

    stale = alice_client.post(f"{base}/A-1/confirm/", {"token": first["token"]}, format="json")
    assert_error(stale, 409, "hold_expired")
    stolen = alice_client.post(f"{base}/A-1/confirm/", {"token": bob_hold["token"]}, format="json")
    assert_error(stolen, 409, "hold_expired")  # bob's token is no use to alice
    guessed = alice_client.post(f"{base}/A-1/confirm/", {"token": bob_hold["token"] + 1000}, format="json")
    assert_error(guessed, 409, "hold_expired")
    assert alice_client.post(f"{base}/A-1/release/", {"token": bob_hold["token"]}, format="json").status_code == 204
    assert state() == before  # the release by a non-holder let go of nothing
    assert dict(Wallet.objects.values_list("user_id", "balance")) == balances
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PURCHASE).exists()
    assert Seat.objects.get(campaign=campaign, label="A-1").status == Seat.Status.FREE
    # and the real holder still buys it
    assert bob_client.post(f"{base}/A-1/confirm/", {"token": bob_hold["token"]}, format="json").status_code == 201
    assert seats.seat_map(campaign_id=campaign.pk, user_id=None)[0].state == "sold"
