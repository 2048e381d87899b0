"""The lean path (config/api/lean.py) answers the claim and the status poll exactly as their DRF views do.

Every case is asked twice: through the route as it runs (the lean function first)
and of the DRF view alone (the lean function swapped for one that declines). The
status code, the body and every header but the request id must be the same, and
the lean function must have answered the cases it is meant for (else this would
compare DRF with itself) and declined the others.
"""

import itertools
import json
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from accounts.token_cache import bearer_identities_forget
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign
from tests.waitingroom.factories import published_room
from waitingroom.models import WaitingRoom
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join

pytestmark = pytest.mark.django_db(transaction=True)

_serial = itertools.count()
SLOW = 0.001  # one token in 1,000 s: a rate limit the test's own time never refills
IGNORED_HEADERS = {"X-Request-ID", "Content-Length"}
# Values made fresh for each request (ids, signed tickets), compared by presence only.
FRESH_KEYS = {"grant_id", "status_url", "ticket", "access_pass", "pass_expires_ms"}


@pytest.fixture(autouse=True)
def fresh_token_cache():
    bearer_identities_forget()
    yield
    bearer_identities_forget()


def unique(side: str, name: str) -> str:
    """A slug never used before in this process (slugs are remembered per process), of one length per side."""
    return f"{side}-{name}-{next(_serial):06d}"


def bearer(user) -> APIClient:
    token, _ = account_services.api_token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@contextmanager
def served(route: str, side: str):
    """Requests to `route` within go the lean way ("lean") or straight to the DRF view ("drf");
    yields the list of whether the lean function answered each."""
    view = resolve(reverse(route, kwargs={"slug": "any"})).func
    lean = view.lean
    answered: list[bool] = []

    def spy(request, *args, **kwargs):
        response = lean(request, *args, **kwargs) if side == "lean" else None
        answered.append(response is not None)
        return response

    view.lean = spy
    try:
        yield answered
    finally:
        view.lean = lean


def picture(response, *, slugs: tuple[str, ...] = ()) -> dict:
    body = response.content.decode()
    for slug in slugs:
        body = body.replace(slug, "<slug>")
    if response.get("Content-Type", "").startswith("text/html"):
        body = "<html>"  # the browsable API: the DRF view's own page either way (CSRF tokens differ)
    elif response.get("Content-Type") == "application/json" and body:
        data = json.loads(body)
        if isinstance(data, dict):
            body = {
                key: (value if key not in FRESH_KEYS or value is None else "<fresh>") for key, value in data.items()
            }
    headers = {name: value for name, value in response.items() if name not in IGNORED_HEADERS}
    for slug in slugs:
        headers = {name: value.replace(slug, "<slug>") for name, value in headers.items()}
    return {"status": response.status_code, "body": body, "headers": headers}


def compare(route: str, make, *, lean_answers: bool) -> dict:
    """`make(side)` builds its own state (slugs of the same length per side) and returns (response, slugs)."""
    pictures = {}
    for side in ("lean", "drf"):
        with served(route, side) as answered:
            response, slugs = make(side)
        pictures[side] = picture(response, slugs=slugs)
        if side == "lean":
            # a body the API's middleware refuses never reaches the route: the lean function declined nothing
            assert (answered[-1] if answered else False) is lean_answers, (answered, pictures["lean"])
    assert pictures["lean"] == pictures["drf"]
    return pictures["lean"]


# --- the claim --------------------------------------------------------------------


def claim_path(slug: str) -> str:
    return f"/api/v1/campaigns/{slug}/claims/"


def claim_case(campaign_fields=None, *, before=None, client=None, body=None, content_type="application/json", **extra):
    """A claim case: a fresh campaign per side, `before(campaign, user)` run first, then the compared claim."""

    def make(side):
        now = timezone.now()
        fields = {"quantity": 3, **(campaign_fields(now) if campaign_fields else {})}
        campaign = published_campaign(slug=unique(side, "drop"), **fields)
        user = UserFactory()
        asking = client(user) if client else bearer(user)
        if before:
            before(campaign, user, asking)
        kwargs = {"data": body, "content_type": content_type} if body else {}
        return asking.post(claim_path(campaign.slug), **kwargs, **extra), (campaign.slug,)

    return make


def sell_out(campaign, user, client):
    assert bearer(UserFactory()).post(claim_path(campaign.slug)).status_code == 202


def claim_once(campaign, user, client):
    assert client.post(claim_path(campaign.slug)).status_code == 202


def no_token(user):
    return APIClient()


def bad_token(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    return client


def revoked(campaign, user, client):
    assert client.post(claim_path(campaign.slug)).status_code == 202  # cached by this process now
    account_services.api_token_revoke(user=user)


def deactivated(campaign, user, client):
    assert client.post(claim_path(campaign.slug)).status_code == 202
    fresh = User.objects.get(pk=user.pk)
    fresh.is_active = False
    fresh.save()


def session_without_csrf(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


CLAIM_CASES = {
    "accepted": (claim_case(), True),
    "accepted, Accept: application/json": (claim_case(HTTP_ACCEPT="application/json"), True),
    "accepted, body {}": (claim_case(body="{}"), True),
    "duplicate": (claim_case(before=claim_once), True),
    "sold out": (claim_case(lambda now: {"quantity": 1}, before=sell_out), True),
    # a refusal's body is kept per kind and language (config/api/lean.py): each language its own
    "sold out, in Korean": (claim_case(lambda now: {"quantity": 1}, before=sell_out, HTTP_ACCEPT_LANGUAGE="ko"), True),
    "sold out, in English": (claim_case(lambda now: {"quantity": 1}, before=sell_out, HTTP_ACCEPT_LANGUAGE="en"), True),
    "not open": (claim_case(lambda now: {"opens_at": now + timedelta(hours=1)}), True),
    "closed": (
        claim_case(lambda now: {"opens_at": now - timedelta(days=2), "closes_at": now - timedelta(days=1)}),
        True,
    ),
    "rate limited": (
        claim_case(lambda now: {"rate_user_burst": 1, "rate_user_per_second": SLOW}, before=claim_once),
        True,
    ),
    "no token": (claim_case(client=no_token), False),
    "bad token": (claim_case(client=bad_token), False),
    "revoked token, cached": (claim_case(before=revoked), False),
    "inactive user, cached token": (claim_case(before=deactivated), False),
    "session without CSRF token": (claim_case(client=session_without_csrf), False),
    "hostile body: a list": (claim_case(body="[]"), False),
    "hostile body: malformed": (claim_case(body="{"), False),
    "hostile body: pass too long": (claim_case(body=json.dumps({"access_pass": "x" * 2000})), False),
    "hostile body: unknown pass": (claim_case(body=json.dumps({"access_pass": "forged"})), False),
    "hostile body: text/plain": (claim_case(body="hello", content_type="text/plain"), False),
    "Accept: text/html": (claim_case(HTTP_ACCEPT="text/html"), False),
    "?format=json": (claim_case(QUERY_STRING="format=json"), False),
}


@pytest.mark.parametrize("case", CLAIM_CASES)
def test_lean_claim_answers_as_the_drf_view(case, api_contract):
    make, lean_answers = CLAIM_CASES[case]
    answer = compare("api-campaign-claim", make, lean_answers=lean_answers)
    if case.startswith("sold out, in"):
        korean = "in Korean" in case
        assert any("\uac00" <= letter <= "\ud7a3" for letter in answer["body"]["detail"]) is korean
    if "text/html" in case:
        api_contract.broken.clear()  # the browsable API's page is no answer of the schema


def test_lean_claim_for_an_unknown_campaign_is_the_same_404():
    def make(side):
        slug = unique(side, "none")
        return bearer(UserFactory()).post(claim_path(slug)), (slug,)

    assert compare("api-campaign-claim", make, lean_answers=True)["status"] == 404


def test_lean_claim_behind_a_room_is_the_same_403():
    def make(side):
        campaign = published_campaign(slug=unique(side, "roomed"))
        room = published_room(slug=unique(side, "room"), campaign=campaign)
        return bearer(UserFactory()).post(claim_path(campaign.slug)), (campaign.slug, room.slug)

    assert compare("api-campaign-claim", make, lean_answers=True)["body"]["code"] == "admission_required"


def test_lean_claim_with_redis_down_is_the_same_503(monkeypatch):
    from coupons import redis as gate

    def down(**kwargs):
        raise RedisConnectionError("down")

    def make(side):
        campaign = published_campaign(slug=unique(side, "drop"))
        client = bearer(UserFactory())
        monkeypatch.setattr(gate, "claim", down)
        try:
            return client.post(claim_path(campaign.slug)), (campaign.slug,)
        finally:
            monkeypatch.undo()

    picture_ = compare("api-campaign-claim", make, lean_answers=True)
    assert (picture_["status"], picture_["body"]["code"], picture_["headers"]["Retry-After"]) == (
        503,
        "store_unavailable",
        "1",
    )


def test_get_on_the_claim_is_the_drf_views_405():
    def make(side):
        slug = unique(side, "drop")
        return bearer(UserFactory()).get(claim_path(slug)), (slug,)

    assert compare("api-campaign-claim", make, lean_answers=False)["status"] == 405


# --- the status poll --------------------------------------------------------------


def status_path(slug: str, ticket: str | None = None) -> str:
    return f"/api/v1/rooms/{slug}/status/" + (f"?ticket={ticket}" if ticket else "")


def status_case(room_fields=None, *, before=None, client=None, ticket=None, **extra):
    def make(side):
        room = published_room(slug=unique(side, "room"), **(room_fields or {}))
        user = UserFactory()
        asking = client(user) if client else bearer(user)
        if before:
            before(room, user, asking)
        return asking.get(status_path(room.slug, ticket(room, user) if ticket else None), **extra), (room.slug,)

    return make


def joined(room, user, client):
    room_join(room_id=room.pk, user_id=user.pk)


def three_ahead(room, user, client):
    for _ in range(3):
        room_join(room_id=room.pk, user_id=UserFactory().pk)
    room_join(room_id=room.pk, user_id=user.pk)


def admitted(room, user, client):
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)


def status_revoked(room, user, client):
    room_join(room_id=room.pk, user_id=user.pk)
    assert client.get(status_path(room.slug)).status_code == 200  # cached by this process now
    account_services.api_token_revoke(user=user)


def own_ticket(room, user):
    room_join(room_id=room.pk, user_id=user.pk)
    return bearer(user).get(status_path(room.slug)).json()["ticket"]


STATUS_CASES = {
    "queued": (status_case({"admit_rate": 1, "max_active": 1}, before=three_ahead), True),
    "queued, explicit ticket": (status_case({"admit_rate": 1}, ticket=own_ticket), True),
    "absent": (status_case(), True),
    "paused": (status_case({"status": WaitingRoom.Status.PAUSED}, before=joined), True),
    "admitted": (status_case(before=admitted), True),
    "forged ticket": (status_case(ticket=lambda room, user: "forged"), True),
    "no token": (status_case(client=no_token), False),
    "bad token": (status_case(client=bad_token), False),
    "revoked token, cached": (status_case(before=status_revoked), False),
    "session": (status_case(client=session_without_csrf, before=joined), False),
    "Accept: text/html": (status_case(HTTP_ACCEPT="text/html"), False),
}


@pytest.mark.parametrize("case", STATUS_CASES)
def test_lean_status_answers_as_the_drf_view(case, api_contract):
    make, lean_answers = STATUS_CASES[case]
    compare("api-room-status", make, lean_answers=lean_answers)
    if "text/html" in case:
        api_contract.broken.clear()  # the browsable API's page is no answer of the schema


def test_lean_status_for_unknown_and_partner_rooms_is_the_same_404():
    def unknown(side):
        slug = unique(side, "none")
        return bearer(UserFactory()).get(status_path(slug)), (slug,)

    def partners(side):
        room = published_room(slug=unique(side, "part"), namespace=unique(side, "partner"))
        return bearer(UserFactory()).get(status_path(room.slug)), (room.slug,)

    assert compare("api-room-status", unknown, lean_answers=True)["status"] == 404
    assert compare("api-room-status", partners, lean_answers=True)["status"] == 404


# --- revocation: exact, although the process keeps the decoded token -----------------


@pytest.mark.parametrize("how", ["revoke", "password", "deactivate", "delete"])
def test_a_revoked_token_is_refused_by_both_lean_routes_at_once(how):
    # not open yet: the lean claim answers (and keeps the token) without a grant that would keep the user's row
    campaign = published_campaign(opens_at=timezone.now() + timedelta(hours=1))
    room = published_room()
    user = UserFactory()
    client = bearer(user)
    room_join(room_id=room.pk, user_id=user.pk)
    with served("api-campaign-claim", "lean") as claims, served("api-room-status", "lean") as polls:
        assert client.post(claim_path(campaign.slug)).status_code == 409
        assert client.get(status_path(room.slug)).status_code == 200
        assert claims == [True] and polls == [True]  # the token is decoded and kept now
        started = time.monotonic()
        if how == "revoke":
            account_services.api_token_revoke(user=user)
        elif how == "password":
            user.set_password("a new password 123")
            user.save()
        elif how == "deactivate":
            user.is_active = False
            user.save()
        else:
            user.delete()
        claim = client.post(claim_path(campaign.slug))
        poll = client.get(status_path(room.slug))
        assert time.monotonic() - started < 1
    for response in (claim, poll):
        assert response.status_code == 401, response.content
        assert response.json()["code"] == "token_revoked"
    assert claims == [True, False] and polls == [True, False]  # the lean path declined; DRF said why


def test_an_expired_cached_token_is_refused(monkeypatch):
    campaign = published_campaign(quantity=5)
    user = UserFactory()
    token, _ = account_services.api_token_issue(user=user, lifetime=timedelta(seconds=2))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    with served("api-campaign-claim", "lean") as claims:
        assert client.post(claim_path(campaign.slug)).status_code == 202
        time.sleep(2.1)
        response = client.post(claim_path(campaign.slug))
    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"
    assert claims == [True, False]


def test_the_lean_routes_keep_the_drf_views_in_the_schema_and_csrf_exempt():
    from coupons.api.views import CampaignClaimApi
    from waitingroom.api.views import RoomStatusApi

    for route, view_class in (("api-campaign-claim", CampaignClaimApi), ("api-room-status", RoomStatusApi)):
        view = resolve(reverse(route, kwargs={"slug": "any"})).func
        assert view.cls is view_class and view.csrf_exempt is True
    assert Client().get("/api/v1/schema/").status_code == 200


def test_the_claim_script_checks_the_generation_on_a_standalone_redis():
    """One Redis call for the lean claim: the script refuses a generation Redis does not hold, and
    answers nothing (the DRF view then asks the usual way)."""
    from accounts import redis as accounts_redis
    from accounts.token_cache import generation_in_script
    from coupons import redis as gate

    campaign = published_campaign(quantity=5)
    user = UserFactory()
    current = (accounts_redis.generation_key(user.pk), user.api_token_generation)
    stale = (current[0], user.api_token_generation + 1)
    if not generation_in_script():
        pytest.skip("on a cluster the lean claim reads the generation before the script")
    refused = gate.claim(
        campaign_id=campaign.pk, user_id=user.pk, grant_id="g-1", lease_ms=60_000, token_generation=stale
    )
    assert refused.outcome == "token_unverified"
    assert gate.remaining(campaign_id=campaign.pk) == 5  # nothing taken
    account_services.api_token_issue(user=user)  # the generation is in Redis now
    taken = gate.claim(
        campaign_id=campaign.pk, user_id=user.pk, grant_id="g-2", lease_ms=60_000, token_generation=current
    )
    assert taken.outcome == "accepted"


def test_a_revoked_token_on_an_unknown_campaign_hears_token_revoked():
    user = UserFactory()
    client = bearer(user)
    campaign = published_campaign(opens_at=timezone.now() + timedelta(hours=1))
    assert client.post(claim_path(campaign.slug)).status_code == 409  # the token is kept now
    account_services.api_token_revoke(user=user)
    response = client.post(claim_path(unique("lean", "none")))
    assert response.status_code == 401 and response.json()["code"] == "token_revoked"


def test_the_status_script_checks_the_generation_on_a_standalone_redis():
    from accounts import redis as accounts_redis
    from accounts.token_cache import generation_in_script
    from config import redis as fc_redis
    from config.errors import TokenUnverified
    from waitingroom import redis as room_redis
    from waitingroom.services.queue import room_status

    if not generation_in_script():
        pytest.skip("on a cluster the lean status poll reads the generation before the script")
    room = published_room()
    user = UserFactory()
    room_join(room_id=room.pk, user_id=user.pk)
    account_services.api_token_issue(user=user)  # the generation is in Redis
    key = accounts_redis.generation_key(user.pk)
    heard = room_redis.RoomKeys.of(room.pk).hb
    before = room_redis.status(room_id=room.pk, user_id=user.pk, token_generation=(key, user.api_token_generation))
    assert before.outcome == "queued"
    bits = fc_redis.client().get(heard)
    with pytest.raises(TokenUnverified):
        room_status(room=room, user_id=user.pk, token_generation=(key, user.api_token_generation + 1))
    assert fc_redis.client().get(heard) == bits  # no heartbeat either


def test_a_revoked_token_on_an_unknown_room_or_with_a_forged_ticket_hears_token_revoked():
    room = published_room()
    user = UserFactory()
    client = bearer(user)
    assert client.get(status_path(room.slug)).status_code == 200  # the token is kept now
    account_services.api_token_revoke(user=user)
    for path in (status_path(unique("lean", "none")), status_path(room.slug, "forged")):
        response = client.get(path)
        assert response.status_code == 401 and response.json()["code"] == "token_revoked"
