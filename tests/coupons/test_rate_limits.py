"""Token buckets on the claim and the seat hold: per user, per IP, refill, overrides, bursts, rebuilds."""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from config.http_load import Call, fire
from config.ratelimit import RateLimited
from coupons import redis as gate
from coupons import redis_rebuild
from coupons.models import Campaign, Grant
from coupons.seats import redis as seats_redis
from coupons.seats.services import seat_hold, seat_map_generate
from coupons.services.campaigns import campaign_publish
from coupons.services.claims import claim_create
from coupons.services.gate import campaign_gate_publish
from coupons.services.reconcile import campaign_reconcile
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import assert_error
from tests.coupons.factories import CampaignFactory, funded_user, published_campaign
from tests.coupons.test_claim import bearer_for, claim_url
from tests.isolation import redis_flush
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join, room_status

pytestmark = pytest.mark.django_db(transaction=True)

# One token in 1,000 s: a test never sees a refill it did not ask for (the
# bucket keys also live that long in real time, so a slow run changes nothing).
SLOW = 0.001


def now_ms() -> int:
    return int(time.time() * 1000)


def assert_rate_limited(response, retry_after: int) -> None:
    """429 rate_limited with the same whole seconds in the header and the body: `retry_after`, less
    the seconds of refill the test itself took on the real clock."""
    assert_error(response, 429, "rate_limited")
    seconds = response.json()["retry_after"]
    assert response["Retry-After"] == str(seconds)
    assert retry_after - 10 <= seconds <= retry_after


def seat_campaign(**fields) -> Campaign:
    campaign = CampaignFactory(quantity=1, amount=0, **fields)
    seat_map_generate(campaign=campaign, rows="A:1000", seats_per_row=5)
    campaign_publish(campaign=Campaign.objects.get(pk=campaign.pk))
    return Campaign.objects.get(pk=campaign.pk)


def hold_url(campaign, label: str) -> str:
    return f"/api/v1/campaigns/{campaign.slug}/seats/{label}/hold/"


# --- the claim ------------------------------------------------------------------


def test_claim_per_user_repeats_spend_tokens_then_429_with_retry_after(django_assert_num_queries):
    campaign = published_campaign(quantity=5, rate_user_burst=3, rate_user_per_second=SLOW, rate_ip_burst=0)
    user = UserFactory()
    client = bearer_for(user)
    # a claim and two repeats (a double click, a retry) get their answers from the burst
    assert client.post(claim_url(campaign)).status_code == 202
    assert [client.post(claim_url(campaign)).status_code for _ in range(2)] == [200, 200]
    # the fourth is refused in Redis alone, whether the user holds a slot or not
    with django_assert_num_queries(0):
        response = client.post(claim_url(campaign))
    assert_rate_limited(response, retry_after=1000)
    assert Grant.objects.filter(campaign=campaign).count() == 1
    assert gate.remaining(campaign_id=campaign.pk) == 4
    # per user: someone else is not held back
    assert bearer_for(UserFactory()).post(claim_url(campaign)).status_code == 202


def test_claim_hammering_before_opening_is_limited_and_takes_nothing():
    opens = timezone.now() + timedelta(hours=1)
    campaign = published_campaign(
        opens_at=opens, closes_at=opens + timedelta(days=1), rate_user_burst=2, rate_user_per_second=SLOW
    )
    client = bearer_for(UserFactory())
    for _ in range(2):
        assert_error(client.post(claim_url(campaign)), 409, "not_open")
    assert_rate_limited(client.post(claim_url(campaign)), retry_after=1000)
    assert not Grant.objects.filter(campaign=campaign).exists()
    assert redis_rebuild.gate_read_holds(campaign_id=campaign.pk) == {}


def test_claim_per_ip_limit_spans_users_and_spares_other_addresses():
    campaign = published_campaign(quantity=5, rate_user_burst=0, rate_ip_burst=2, rate_ip_per_second=SLOW)
    first, second, third, elsewhere = UserFactory.create_batch(4)
    for user in (first, second):
        assert bearer_for(user).post(claim_url(campaign), REMOTE_ADDR="203.0.113.7").status_code == 202
    assert_rate_limited(bearer_for(third).post(claim_url(campaign), REMOTE_ADDR="203.0.113.7"), retry_after=1000)
    assert not Grant.objects.filter(campaign=campaign, user=third).exists()
    assert gate.remaining(campaign_id=campaign.pk) == 3
    assert bearer_for(elsewhere).post(claim_url(campaign), REMOTE_ADDR="198.51.100.1").status_code == 202


def test_claim_ipv6_clients_share_their_64_prefix():
    campaign = published_campaign(quantity=5, rate_user_burst=0, rate_ip_burst=1, rate_ip_per_second=SLOW)
    assert bearer_for(UserFactory()).post(claim_url(campaign), REMOTE_ADDR="2001:db8:1:2::a").status_code == 202
    rotated = bearer_for(UserFactory()).post(claim_url(campaign), REMOTE_ADDR="2001:db8:1:2:ffff::b")
    assert_rate_limited(rotated, retry_after=1000)
    other_prefix = bearer_for(UserFactory()).post(claim_url(campaign), REMOTE_ADDR="2001:db8:1:3::a")
    assert other_prefix.status_code == 202


def test_claim_x_forwarded_for_counts_only_from_a_trusted_proxy(settings):
    campaign = published_campaign(quantity=5, rate_user_burst=0, rate_ip_burst=1, rate_ip_per_second=SLOW)
    # from an untrusted peer the header is the client's own claim: both share 127.0.0.1's bucket
    assert bearer_for(UserFactory()).post(claim_url(campaign), HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 202
    spoofed = bearer_for(UserFactory()).post(claim_url(campaign), HTTP_X_FORWARDED_FOR="192.0.2.2")
    assert_rate_limited(spoofed, retry_after=1000)
    # behind a trusted proxy each client has its own bucket
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
    for address in ("192.0.2.3", "192.0.2.4"):
        response = bearer_for(UserFactory()).post(claim_url(campaign), HTTP_X_FORWARDED_FOR=f"10.9.9.9, {address}")
        assert response.status_code == 202
    again = bearer_for(UserFactory()).post(claim_url(campaign), HTTP_X_FORWARDED_FOR="192.0.2.3")
    assert_rate_limited(again, retry_after=1000)


def test_claim_bucket_refills_as_time_moves():
    campaign = published_campaign(quantity=5, rate_user_burst=1, rate_user_per_second=SLOW, rate_ip_burst=0)
    user = UserFactory()
    t0 = now_ms()
    assert claim_create(campaign_id=campaign.pk, user_id=user.pk, now_ms=t0).created
    with pytest.raises(RateLimited) as refused:
        claim_create(campaign_id=campaign.pk, user_id=user.pk, now_ms=t0 + 400_000)
    assert refused.value.extra == {"retry_after": 600}  # 600 s until the token is whole again
    with pytest.raises(RateLimited):
        claim_create(campaign_id=campaign.pk, user_id=user.pk, now_ms=t0 + 999_999)
    again = claim_create(campaign_id=campaign.pk, user_id=user.pk, now_ms=t0 + 1_000_000)
    assert not again.created  # the token came back: the repeat gets the user's grant
    with pytest.raises(RateLimited):  # and it was spent
        claim_create(campaign_id=campaign.pk, user_id=user.pk, now_ms=t0 + 1_000_000)


def test_claim_limits_default_from_settings_and_campaign_values_override_them(settings):
    settings.RATE_LIMIT_USER_BURST, settings.RATE_LIMIT_USER_PER_SECOND = 2, SLOW
    defaults = published_campaign(quantity=5)
    own = published_campaign(quantity=5, rate_user_burst=4)
    off = published_campaign(quantity=5, rate_user_burst=0)
    client = bearer_for(UserFactory())
    codes = {
        campaign.slug: [client.post(claim_url(campaign)).status_code for _ in range(6)]
        for campaign in (defaults, own, off)
    }
    assert codes == {
        defaults.slug: [202, 200, 429, 429, 429, 429],
        own.slug: [202, 200, 200, 200, 429, 429],
        off.slug: [202, 200, 200, 200, 200, 200],
    }


def test_claim_with_a_pass_keeps_the_turn_when_rate_limited():
    from tests.waitingroom.factories import published_room
    from waitingroom.errors import AdmissionRequired

    campaign = published_campaign(quantity=5, rate_user_burst=1, rate_user_per_second=SLOW)
    room = published_room(campaign=campaign)
    user = UserFactory()
    # the one token goes on a claim without the pass (refused: admission required)
    with pytest.raises(AdmissionRequired):
        claim_create(campaign_id=campaign.pk, user_id=user.pk)
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    access_pass = room_status(room=room, user_id=user.pk).access_pass
    with pytest.raises(RateLimited):
        claim_create(campaign_id=campaign.pk, user_id=user.pk, access_pass=access_pass)
    # the pass was given back: still admitted, and usable once the bucket refills
    assert room_status(room=room, user_id=user.pk).outcome == "admitted"
    assert not Grant.objects.filter(campaign=campaign).exists()


def test_every_claim_spends_a_token_whatever_the_pass():
    from tests.waitingroom.factories import published_room

    campaign = published_campaign(quantity=5, rate_user_per_second=SLOW)  # the default burst: 5
    room = published_room(campaign=campaign)
    holder, stranger = UserFactory.create_batch(2)
    room_join(room_id=room.pk, user_id=holder.pk)
    room_tick(room=room)
    access_pass = room_status(room=room, user_id=holder.pk).access_pass
    client = bearer_for(holder)
    assert client.post(claim_url(campaign), {"access_pass": access_pass}, format="json").status_code == 202

    # a user who holds a grant, sending a pass that is garbage or already used: answered from Redis
    # with their grant while their bucket has tokens, then refused like any other hammering
    codes = [
        client.post(claim_url(campaign), {"access_pass": body}, format="json").status_code
        for body in ("x", access_pass, "x", "x", "x", access_pass)
    ]
    assert codes == [200, 200, 200, 200, 429, 429]
    stranger_codes = [
        bearer_for(stranger).post(claim_url(campaign), {"access_pass": "x"}, format="json").status_code
        for _ in range(6)
    ]
    assert stranger_codes == [403] * 5 + [429]
    assert Grant.objects.filter(campaign=campaign).count() == 1


def test_editing_limits_of_a_published_campaign_reaches_the_gate(admin_client):
    campaign = published_campaign(quantity=5, rate_user_burst=1, rate_user_per_second=SLOW)
    client = bearer_for(UserFactory())
    assert client.post(claim_url(campaign)).status_code == 202
    assert client.post(claim_url(campaign)).status_code == 429
    Campaign.objects.filter(pk=campaign.pk).update(rate_user_burst=0)
    campaign_gate_publish(campaign=Campaign.objects.get(pk=campaign.pk))
    assert gate.meta_get(campaign_id=campaign.pk)["rl_user_burst"] == "0"
    assert client.post(claim_url(campaign)).status_code == 200
    # the admin shows the limits, also of a published campaign, as editable fields
    page = admin_client.get(f"/admin/coupons/campaign/{campaign.pk}/change/").content.decode()
    assert 'name="rate_user_burst"' in page and 'name="rate_ip_per_second"' in page


def test_a_rebuild_after_a_flush_restores_the_limits(redis_clean):
    campaign = published_campaign(quantity=5, rate_user_burst=2, rate_user_per_second=0.5, rate_ip_burst=7)
    published = gate.meta_get(campaign_id=campaign.pk)
    assert {k: published[k] for k in ("rl_user_burst", "rl_user_rate", "rl_ip_burst", "rl_ip_rate")} == {
        "rl_user_burst": "2",
        "rl_user_rate": "0.5",
        "rl_ip_burst": "7",
        "rl_ip_rate": "100.0",  # the default from settings
    }
    redis_flush()
    client = bearer_for(UserFactory())
    assert client.post(claim_url(campaign)).status_code == 202  # rebuilds the gate from PostgreSQL
    assert gate.meta_get(campaign_id=campaign.pk) == published
    assert client.post(claim_url(campaign)).status_code == 200
    assert client.post(claim_url(campaign)).status_code == 429
    report = campaign_reconcile(campaign=campaign, fix=False)
    assert report.meta_mismatch == []


# --- the seat hold -------------------------------------------------------------


def test_hold_per_user_limit_429_and_nothing_held():
    campaign = seat_campaign(rate_user_burst=2, rate_user_per_second=SLOW, rate_ip_burst=0)
    client = bearer_for(funded_user())
    first = client.post(hold_url(campaign, "A-1"))
    assert first.status_code == 200
    assert client.post(hold_url(campaign, "A-1")).json()["token"] == first.json()["token"]  # a double click
    assert_rate_limited(client.post(hold_url(campaign, "A-2")), retry_after=1000)
    states = seats_redis.seat_states(campaign_id=campaign.pk)
    assert set(states) == {1}, "the refused switch released nothing and held nothing"


def test_hold_per_ip_limit_spans_users():
    campaign = seat_campaign(rate_user_burst=0, rate_ip_burst=1, rate_ip_per_second=SLOW)
    assert bearer_for(funded_user()).post(hold_url(campaign, "A-1"), REMOTE_ADDR="203.0.113.9").status_code == 200
    refused = bearer_for(funded_user()).post(hold_url(campaign, "A-2"), REMOTE_ADDR="203.0.113.9")
    assert_rate_limited(refused, retry_after=1000)
    assert set(seats_redis.seat_states(campaign_id=campaign.pk)) == {1}
    assert bearer_for(funded_user()).post(hold_url(campaign, "A-2"), REMOTE_ADDR="203.0.113.10").status_code == 200


def test_hold_bucket_refills_as_time_moves():
    campaign = seat_campaign(rate_user_burst=1, rate_user_per_second=SLOW, rate_ip_burst=0)
    user = funded_user()
    t0 = now_ms()
    seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1, now_ms=t0)
    with pytest.raises(RateLimited):
        seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=2, now_ms=t0 + 999_999)
    assert seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=2, now_ms=t0 + 1_000_000).slot == 2


# --- a burst from one user, over HTTP, in parallel ------------------------------------


def test_a_parallel_burst_from_one_user_spends_exactly_the_burst(web_server):
    from accounts.tokens import api_token_build
    from tests.waitingroom.factories import published_room
    from waitingroom import redis as room_redis

    burst, calls_each = 5, 40
    credit = published_campaign(quantity=10, rate_user_burst=burst, rate_user_per_second=SLOW, rate_ip_burst=0)
    seated = seat_campaign(rate_user_burst=burst, rate_user_per_second=SLOW, rate_ip_burst=0)
    room = published_room(rate_user_burst=burst, rate_user_per_second=SLOW, rate_ip_burst=0)
    user = funded_user()
    token = api_token_build(user=user)[0]
    bearer_for(user)  # publishes the token generation, as a login would
    paths = {
        "claim": claim_url(credit),
        "hold": hold_url(seated, "A-3"),
        "join": f"/api/v1/rooms/{room.slug}/join/",
    }
    calls = [Call("POST", path, token, action) for action, path in paths.items() for _ in range(calls_each)]
    results = fire(web_server.extra["url"], calls, concurrency=24)

    codes = {action: Counter(r.status for r in results if r.call.tag == action) for action in paths}
    assert codes == {
        "claim": {202: 1, 200: burst - 1, 429: calls_each - burst},
        "hold": {200: burst, 429: calls_each - burst},
        "join": {200: burst, 429: calls_each - burst},
    }, web_server.output()[-2000:]
    assert all(r.body["code"] == "rate_limited" and r.body["retry_after"] >= 1 for r in results if r.status == 429)
    assert Grant.objects.filter(campaign=credit).count() == 1
    assert set(seats_redis.seat_states(campaign_id=seated.pk)) == {3}
    assert room_redis.counts(room_id=room.pk)[0] + room_redis.counts(room_id=room.pk)[1] == 1


def test_a_users_own_copies_of_a_click_never_rate_limit_the_copy_that_used_the_pass(monkeypatch):
    """The copy that used the pass is paused between using it and its claim; five other copies
    the pass refuses run meanwhile and spend the user's whole burst. The paused copy still claims:
    its token was spent before the pass was used (pass_token.lua), not in the claim script."""
    import threading

    from django.db import connection

    from tests.waitingroom.factories import published_room
    from waitingroom.services import passes as room_passes

    campaign = published_campaign(quantity=5, rate_user_per_second=SLOW, rate_ip_burst=0)  # burst: 5
    room = published_room(campaign=campaign)
    user = UserFactory()
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    access_pass = room_status(room=room, user_id=user.pk).access_pass
    used, go = threading.Event(), threading.Event()
    real_consume = room_passes.pass_consume

    def consume_then_wait(**kwargs):
        consumed = real_consume(**kwargs)  # the first copy uses the pass, then waits
        used.set()
        assert go.wait(timeout=30)
        return consumed

    monkeypatch.setattr(room_passes, "pass_consume", consume_then_wait)
    answers: dict[str, object] = {}

    def first_copy() -> None:
        try:
            answers["first"] = claim_create(campaign_id=campaign.pk, user_id=user.pk, access_pass=access_pass)
        except Exception as exc:  # noqa: BLE001 - the answer is what the test checks
            answers["first"] = exc
        finally:
            connection.close()  # the thread's own database connection

    thread = threading.Thread(target=first_copy)
    thread.start()
    assert used.wait(timeout=30)
    monkeypatch.setattr(room_passes, "pass_consume", real_consume)
    # while it waits, the other copies (the pass is used: refused) spend what is left of the burst
    others = []
    for _ in range(5):
        try:
            claim_create(campaign_id=campaign.pk, user_id=user.pk, access_pass=access_pass)
            others.append("answered")
        except Exception as exc:  # noqa: BLE001
            others.append(getattr(exc, "code", repr(exc)))
    go.set()
    thread.join(timeout=30)

    assert others == ["pass_invalid"] * 4 + ["rate_limited"]  # the burst was 5: the first copy took one
    assert getattr(answers["first"], "created", False), answers["first"]  # the claim the pass was for
    assert Grant.objects.filter(campaign=campaign, user=user).count() == 1
