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
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import jwt
import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.settings import api_settings

from accounts import services as account_services
from accounts.authentication import BearerTokenAuthentication
from accounts.models import User
from coupons import redis as gate
from coupons.models import Grant, LedgerEntry, Seat, Wallet
from coupons.seats.selectors import seat_map
from coupons.services.wallets import wallet_adjust
from tests import processes
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import assert_error, client_with
from tests.config.test_authorization import state
from tests.config.world import build_world
from tests.coupons.factories import published_campaign
from tests.coupons.test_seats import funded_user, seat_campaign
from tests.waitingroom.factories import published_room
from waitingroom import redis as room_redis
from waitingroom.services.admission import room_tick
from waitingroom.services.passes import pass_issue
from waitingroom.services.queue import room_join, room_status

pytestmark = pytest.mark.django_db(transaction=True)


def now_ms() -> int:
    return int(time.time() * 1000)


def admitted(room, user, *, at_ms: int | None = None) -> str:
    room_join(room_id=room.pk, user_id=user.pk, now_ms=at_ms)
    room_tick(room=room, now_ms=at_ms)
    status = room_status(room=room, user_id=user.pk, now_ms=at_ms)
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
    expiry_ms = room_status(room=room, user_id=owner.pk).pass_expires_ms
    forged = access_pass[:-4] + ("AAAA" if not access_pass.endswith("AAAA") else "BBBB")
    cases = [
        (owner, forged, "forged signature"),
        (
            owner,
            pass_issue(room_id=room.pk, user_id=owner.pk, expiry_ms=expiry_ms + 1),
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
    wallet_adjust(user_id=user.pk, amount=100_000, reference="test-fund")
    client = client_with(account_services.api_token_issue(user=user)[0])
    access_pass = admitted(room, user)

    # sent with claims and holds of other campaigns the pass is ignored: they answer as without it
    assert claim(client, roomless, access_pass).status_code == 202
    hold_url = f"/api/v1/campaigns/{seats_roomless.slug}/seats/A-1/hold/"
    hold = client.post(hold_url, {"access_pass": access_pass}, format="json")
    assert hold.status_code == 200, hold.content
    assert_error(claim(client, elsewhere, access_pass), 403, "admission_required")
    assert room_status(room=room, user_id=user.pk).outcome == "admitted"  # still the user's turn

    # where its room stands it is used, once
    first = claim(client, protected, access_pass)
    assert first.status_code == 202, first.content
    assert room_status(room=room, user_id=user.pk).outcome == "absent"
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
    assert seat_map(campaign_id=campaign.pk, user_id=None)[0].state == "sold"


def signed(payload: dict) -> str:
    """A token signed with the real key (as after a leak, before rotation), carrying whatever claims."""
    return jwt.encode(payload, api_settings.SIGNING_KEY, algorithm="HS256")


# Claims a token we issue never carries, each well signed: every one is 401, never 500.
MALFORMED_CLAIMS: dict[str, Callable[[dict], dict]] = {
    "user_id a word": lambda p: {**p, "user_id": "abc"},
    "user_id with a sign": lambda p: {**p, "user_id": f"+{p['user_id']}"},
    "user_id with leading zeros": lambda p: {**p, "user_id": f"00{p['user_id']}"},
    "user_id with spaces": lambda p: {**p, "user_id": f" {p['user_id']} "},
    "user_id a decimal": lambda p: {**p, "user_id": f"{p['user_id']}.0"},
    "user_id a float": lambda p: {**p, "user_id": int(p["user_id"]) + 0.5},
    "user_id a list": lambda p: {**p, "user_id": [p["user_id"]]},
    "user_id an object": lambda p: {**p, "user_id": {"id": p["user_id"]}},
    "user_id null": lambda p: {**p, "user_id": None},
    "user_id true": lambda p: {**p, "user_id": True},
    "user_id beyond bigint": lambda p: {**p, "user_id": str(10**30)},
    "user_id negative": lambda p: {**p, "user_id": -int(p["user_id"])},
    "user_id zero": lambda p: {**p, "user_id": "0"},
    "no user_id": lambda p: {k: v for k, v in p.items() if k != "user_id"},
    "gen a string": lambda p: {**p, "gen": str(p["gen"])},
    "gen true": lambda p: {**p, "gen": True},
    "gen a float": lambda p: {**p, "gen": p["gen"] + 0.0},
    "no gen": lambda p: {k: v for k, v in p.items() if k != "gen"},
    "username an object": lambda p: {**p, "username": {"name": p["username"]}},
    "no username": lambda p: {k: v for k, v in p.items() if k != "username"},
    "exp a word": lambda p: {**p, "exp": "tomorrow"},
    "exp a list": lambda p: {**p, "exp": [p["exp"]]},
    "exp beyond any date": lambda p: {**p, "exp": 10**30},
    "no exp": lambda p: {k: v for k, v in p.items() if k != "exp"},
    "token_type refresh": lambda p: {**p, "token_type": "refresh"},
    "token_type a number": lambda p: {**p, "token_type": 1},
    "no token_type": lambda p: {k: v for k, v in p.items() if k != "token_type"},
    "no jti": lambda p: {k: v for k, v in p.items() if k != "jti"},
    "iat a word": lambda p: {**p, "iat": "long ago"},
    "nbf in the future": lambda p: {**p, "nbf": p["exp"]},
}


def bearer_endpoints(world) -> list[tuple[str, str]]:
    """(method, path) of endpoints that read a bearer token, reads and writes."""
    seat = f"/api/v1/campaigns/{world.seat_campaign.slug}/seats/A-2"
    return [
        ("GET", "/api/v1/me/"),
        ("GET", "/api/v1/wallet/"),
        ("GET", f"/api/v1/rooms/{world.room.slug}/status/"),
        ("POST", f"/api/v1/campaigns/{world.campaign.slug}/claims/"),
        ("POST", f"{seat}/hold/"),
        ("POST", f"/api/v1/rooms/{world.room.slug}/join/"),
        ("POST", "/api/v1/auth/token/revoke/"),
    ]


@pytest.mark.parametrize("why", list(MALFORMED_CLAIMS))
def test_malformed_token_claims_are_401_everywhere_and_change_nothing(why):
    world = build_world()
    payload = jwt.decode(world.token(world.other), options={"verify_signature": False})
    token = signed(MALFORMED_CLAIMS[why](payload))
    before = state()
    for method, path in bearer_endpoints(world):
        client = client_with(token)
        response = client.get(path) if method == "GET" else client.post(path, {}, format="json")
        assert response.status_code == 401, (why, method, path, response.status_code, response.content[:300])
        assert response.json()["code"] in ("token_not_valid", "token_revoked"), (why, path, response.json())
    assert state() == before, why


def test_staff_claims_inside_a_token_grant_nothing():
    world = build_world()
    stats = f"/api/v1/rooms/{world.room.slug}/stats/"
    payload = jwt.decode(world.token(world.other), options={"verify_signature": False})
    for claims in ({"is_staff": True}, {"is_superuser": True}, {"is_staff": True, "is_superuser": True}):
        response = client_with(signed({**payload, **claims})).get(stats)
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied"), claims
        assert client_with(signed({**payload, **claims})).get("/api/v1/me/").status_code == 200
    # and a real staff member's own token does not carry it either (staff endpoints need a session)
    assert client_with(world.token(world.superuser)).get(stats).status_code == 403


# --- revocation: a user deleted, deactivated or with a new password ---------------------


def admin_client(world) -> Client:
    client = Client()
    client.force_login(world.superuser)
    return client


def set_new_password(user) -> None:
    user.set_password("a-whole-new-pass-phrase")
    user.save()


def make_password_unusable(user) -> None:
    user.set_unusable_password()
    user.save()


def deactivate_by_save(user) -> None:
    user.is_active = False
    user.save()


# name -> what happens to the user (the world is there for the admin's session)
REVOCATIONS: dict[str, Callable] = {
    "deleted": lambda world, user: user.delete(),
    "deleted in the admin": lambda world, user: admin_client(world).post(
        f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"}
    ),
    "deactivated": lambda world, user: account_services.user_deactivate(user=user),
    "deactivated by a save": lambda world, user: deactivate_by_save(user),
    "new password": lambda world, user: set_new_password(user),
    "new password in the admin": lambda world, user: admin_client(world).post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": "a-whole-new-pass-phrase", "password2": "a-whole-new-pass-phrase", "usable_password": "true"},
    ),
    "password made unusable": lambda world, user: make_password_unusable(user),
    "tokens revoked": lambda world, user: account_services.api_token_revoke(user=user),
}


@pytest.mark.parametrize("how", list(REVOCATIONS))
def test_a_revoked_token_is_401_token_revoked_everywhere_and_changes_nothing(how):
    world = build_world()
    victim = UserFactory()
    token = world.token(victim)
    assert client_with(token).get("/api/v1/me/").status_code == 200  # the generation is cached
    REVOCATIONS[how](world, victim)
    assert User.objects.filter(pk=victim.pk, is_active=True).exists() == (
        how not in ("deleted", "deleted in the admin", "deactivated", "deactivated by a save")
    ), "the action did not happen"
    before = state()
    for method, path in bearer_endpoints(world):
        client = client_with(token)
        response = client.get(path) if method == "GET" else client.post(path, {}, format="json")
        assert response.status_code == 401, (how, method, path, response.status_code, response.content[:300])
        assert response.json()["code"] == "token_revoked", (how, path, response.json())
    assert state() == before, how  # no place in the queue, no seat held, no grant, no slot taken


@pytest.mark.parametrize("action", ["claim", "revoke", "wallet", "join", "hold"])
def test_a_request_whose_user_is_deleted_while_it_runs_never_answers_5xx(action, monkeypatch):
    world = build_world()
    victim = UserFactory()
    token = world.token(victim)
    paths = {method_path[1].rsplit("/", 2)[-2]: method_path for method_path in bearer_endpoints(world)}
    method, path = {
        "claim": paths["claims"],
        "revoke": paths["revoke"],
        "wallet": paths["wallet"],
        "join": paths["join"],
        "hold": paths["hold"],
    }[action]
    authenticate = BearerTokenAuthentication.get_user
    deleted = []

    def authenticate_then_delete(self, validated_token):
        user = authenticate(self, validated_token)
        User.objects.filter(pk=victim.pk).delete()  # committed: the user is gone once authentication passed
        deleted.append(user.pk)
        return user

    monkeypatch.setattr(BearerTokenAuthentication, "get_user", authenticate_then_delete)
    # The lean claim (config/api/lean.py) authenticates without get_user: its token passes in the
    # claim script (or just before it, on a cluster), so the user is deleted once that script answered.
    script_claim = gate.claim

    def claim_then_delete(**kwargs):
        result = script_claim(**kwargs)
        if not deleted and result.outcome != "token_unverified":
            User.objects.filter(pk=victim.pk).delete()
            deleted.append(victim.pk)
        return result

    monkeypatch.setattr(gate, "claim", claim_then_delete)
    client = client_with(token)
    response = client.get(path) if method == "GET" else client.post(path, {}, format="json")
    assert deleted == [victim.pk]  # the interleaving happened: authenticated, then deleted
    assert response.status_code < 500, (action, response.status_code, response.content[:300])
    if action in ("claim", "revoke"):  # they write rows of the user: the deletion is what they meet
        assert_error(response, 401, "token_revoked")
    assert not Grant.objects.filter(user_id=victim.pk).exists()
    assert gate.holder_of(campaign_id=world.campaign.pk, user_id=victim.pk) is None  # the slot went back


# The stated bound (docs/security.md, "Revocation"): from the commit of a revoke, no web
# process answers the old token with anything but 401 a second later.
REVOCATION_BOUND_SECONDS = 1.0


class Poller(threading.Thread):
    """GET /api/v1/me/ with a token, over and over on one connection, noting when each request was sent."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(daemon=True)
        host, port = base_url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=10)
        self.token = token
        self.answers: list[tuple[float, int]] = []  # (monotonic time sent, status)
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                sent = time.monotonic()
                self.connection.request("GET", "/api/v1/me/", headers={"Authorization": f"Bearer {self.token}"})
                response = self.connection.getresponse()
                response.read()
                self.answers.append((sent, response.status))
        finally:
            self.connection.close()

    def first(self, status: int, after: float = 0.0) -> float | None:
        return next((sent for sent, answer in self.answers if answer == status and sent >= after), None)


def all_answered(pollers: list[Poller], status: int, then_seconds: float = 0.0) -> bool:
    """Every poller has had `status`, and has gone on polling `then_seconds` since."""
    return all((first := p.first(status)) and p.answers[-1][0] >= first + then_seconds for p in pollers)


@pytest.mark.parametrize("cache_seconds", ["0", "0.5"], ids=["no in-memory cache", "the longest cache allowed"])
def test_revocation_reaches_every_web_process_within_a_second(tmp_path, cache_seconds):
    # given two web servers, one process each, each keeping generations in memory for `cache_seconds`
    servers = [
        processes.start_web(
            tmp_path, name=f"web{n}", workers=1, threads=2, API_TOKEN_GENERATION_CACHE_SECONDS=cache_seconds
        )
        for n in (1, 2)
    ]
    world = build_world()
    actions = {
        "deleted": lambda user: user.delete(),
        "deactivated": lambda user: account_services.user_deactivate(user=user),
        "new password": set_new_password,
        "tokens revoked": lambda user: account_services.api_token_revoke(user=user),
    }
    staleness = {}
    try:
        for how, act in actions.items():
            user = UserFactory()
            pollers = [Poller(server.extra["url"], world.token(user)) for server in servers]
            for poller in pollers:
                poller.start()
            processes.wait_until(partial(all_answered, pollers, 200), timeout=10, message="both servers answer")
            # when the user is revoked in a third process (neither server hears of it but through the stores)
            act(user)
            committed = time.monotonic()
            processes.wait_until(
                partial(all_answered, pollers, 401, then_seconds=0.3),
                timeout=10,
                interval=0.05,
                message=f"both servers refuse the token ({how})",
            )
            for poller in pollers:
                poller.stop.set()
                poller.join(timeout=10)
            # then every request sent a second after the commit was refused, by both processes, for good
            for server, poller in zip(servers, pollers, strict=True):
                refused_from = poller.first(401)
                assert all(status == 401 for sent, status in poller.answers if sent >= refused_from), how
                last_accepted = max(sent for sent, status in poller.answers if status == 200)
                assert last_accepted - committed <= REVOCATION_BOUND_SECONDS, (how, server.extra["url"])
                staleness[(how, server.extra["port"])] = round(last_accepted - committed, 3)
    finally:
        for server in servers:
            server.stop()
    print(f"\nlast old-token 200 after the commit, s (cache {cache_seconds} s):", staleness)
