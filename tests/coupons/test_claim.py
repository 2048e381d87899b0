"""The claim: outcomes, zero-query rejections, idempotence, failure paths (real Redis and PostgreSQL)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts import services as account_services
from coupons import redis as gate
from coupons import selectors
from coupons.models import Campaign, Grant
from coupons.services import claims
from coupons.services.campaigns import campaign_cancel, campaign_close, campaign_open_now
from coupons.services.claims import claim_create
from coupons.services.grants import grant_fail
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import assert_error, client_with
from tests.coupons.factories import CampaignFactory, published_campaign
from tests.coupons.hooks import WAIT, PausedInsert, claim_in_thread
from tests.isolation import redis_flush
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join, room_status

pytestmark = pytest.mark.django_db(transaction=True)


def claim_url(campaign) -> str:
    return f"/api/v1/campaigns/{campaign.slug}/claims/"


def bearer_for(user):
    token, _ = account_services.api_token_issue(user=user)
    return client_with(token)


def test_accepted_claim_records_the_pending_grant_before_answering(user):
    campaign = published_campaign(quantity=3)
    response = bearer_for(user).post(claim_url(campaign))
    assert response.status_code == 202, response.content
    body = response.json()
    grant = Grant.objects.get(pk=body["grant_id"])
    assert (grant.user_id, grant.campaign_id, grant.slot, body["slot"]) == (user.pk, campaign.pk, 1, 1)
    assert body["remaining"] == 2
    assert body["status_url"] == f"/api/v1/grants/{grant.pk}/"
    assert selectors.campaign_remaining(campaign=campaign) == 2


def test_repeat_claim_returns_the_same_grant_with_zero_queries(user, django_assert_num_queries):
    campaign = published_campaign(quantity=3)
    client = bearer_for(user)
    first = client.post(claim_url(campaign)).json()
    with django_assert_num_queries(0):
        again = client.post(claim_url(campaign))
    assert again.status_code == 200
    assert again.json()["grant_id"] == first["grant_id"] and again.json()["duplicate"] is True
    assert Grant.objects.filter(campaign=campaign).count() == 1


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("sold_out", "sold_out"),
        ("not_open", "not_open"),
        ("closed_by_window", "closed"),
        ("closed_by_staff", "closed"),
        ("cancelled", "cancelled"),
    ],
)
def test_rejections_are_409_and_run_zero_queries(setup, code, django_assert_num_queries):
    now = timezone.now()
    if setup == "not_open":
        campaign = published_campaign(opens_at=now + timedelta(hours=1))
    elif setup == "closed_by_window":
        campaign = published_campaign(opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1))
    else:
        campaign = published_campaign(quantity=1)
    if setup == "sold_out":
        bearer_for(UserFactory()).post(claim_url(campaign))
    elif setup == "closed_by_staff":
        campaign_close(campaign=campaign)
    elif setup == "cancelled":
        campaign_cancel(campaign=campaign)
    client = bearer_for(UserFactory())
    client.post(claim_url(campaign))  # warms the per-process slug memo, as any earlier request would
    grants_before = Grant.objects.count()

    with django_assert_num_queries(0):
        response = client.post(claim_url(campaign))

    assert_error(response, 409, code)
    assert Grant.objects.count() == grants_before


def test_unknown_campaign_is_404(user):
    assert_error(bearer_for(user).post("/api/v1/campaigns/no-such-drop/claims/"), 404, "not_found")


def test_draft_campaign_is_invisible(user):
    campaign = CampaignFactory()
    assert_error(bearer_for(user).post(claim_url(campaign)), 404, "not_found")
    assert not Grant.objects.exists()


def test_anonymous_claim_is_401_and_changes_nothing(api_client):
    campaign = published_campaign()
    assert_error(api_client.post(claim_url(campaign)), 401, "not_authenticated")
    assert not Grant.objects.exists()
    assert selectors.campaign_remaining(campaign=campaign) == campaign.quantity


@pytest.mark.parametrize("body", ['{"oops": ', "[1, 2]", '"text"'])
def test_malformed_body_is_400_and_takes_nothing(user, body):
    campaign = published_campaign()
    response = bearer_for(user).post(claim_url(campaign), data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in {"parse_error", "invalid"}
    assert not Grant.objects.exists()
    assert selectors.campaign_remaining(campaign=campaign) == campaign.quantity


def test_failed_grant_frees_the_slot_and_the_user_may_claim_again():
    campaign = published_campaign(quantity=1)
    alice, bob = UserFactory(), UserFactory()
    first = claim_create(campaign_id=campaign.pk, user_id=alice.pk)
    with pytest.raises(Exception) as rejected:
        claim_create(campaign_id=campaign.pk, user_id=bob.pk)
    assert getattr(rejected.value, "code", None) == "sold_out"

    assert grant_fail(grant_id=first.grant_id, reason="card declined") is True
    assert grant_fail(grant_id=first.grant_id, reason="again") is False  # once only

    second = claim_create(campaign_id=campaign.pk, user_id=bob.pk)
    assert second.created and second.slot == 1
    with pytest.raises(Exception) as rejected:
        claim_create(campaign_id=campaign.pk, user_id=alice.pk)
    assert getattr(rejected.value, "code", None) == "sold_out"
    assert list(Grant.objects.filter(campaign=campaign).values_list("user_id", "status").order_by("created_at")) == [
        (alice.pk, "failed"),
        (bob.pk, "pending"),
    ]


def test_stale_release_does_not_free_a_slot_someone_else_now_holds():
    campaign = published_campaign(quantity=1)
    alice, bob = UserFactory(), UserFactory()
    first = claim_create(campaign_id=campaign.pk, user_id=alice.pk)
    grant_fail(grant_id=first.grant_id, reason="declined")
    claim_create(campaign_id=campaign.pk, user_id=bob.pk)
    # the failed grant's release arrives again (a retried task, a sweeper pass)
    assert gate.release(campaign_id=campaign.pk, hold=gate.Hold(1, alice.pk, first.grant_id)) is False
    assert selectors.campaign_remaining(campaign=campaign) == 0


def test_insert_failure_releases_the_slot_and_answers_503(user):
    campaign = published_campaign(quantity=2)
    # a real database failure for this user's insert only
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE FUNCTION test_refuse_grant() RETURNS trigger AS $$
            BEGIN IF NEW.user_id = {user.pk} THEN RAISE EXCEPTION 'disk full' USING ERRCODE = 'disk_full'; END IF;
            RETURN NEW; END; $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_refuse_grant BEFORE INSERT ON coupons_grant
                FOR EACH ROW EXECUTE FUNCTION test_refuse_grant();
            """
        )
    try:
        response = bearer_for(user).post(claim_url(campaign))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse_grant ON coupons_grant; DROP FUNCTION test_refuse_grant();")
    assert_error(response, 503, "store_unavailable")
    assert not Grant.objects.exists()
    assert selectors.campaign_remaining(campaign=campaign) == 2
    # and the user can try again
    assert bearer_for(user).post(claim_url(campaign)).status_code == 202
    # the answer counters (dashboard, /metrics) say what the client heard each time
    from coupons import redis as gate

    assert gate.stats_many([campaign.pk])[campaign.pk] == {"accepted": 1, "store_unavailable": 1}


def test_redis_flush_rebuilds_the_gate_from_postgresql(redis_clean):
    campaign = published_campaign(quantity=3)
    alice, bob, carol, dave = UserFactory.create_batch(4)
    a = claim_create(campaign_id=campaign.pk, user_id=alice.pk)
    b = claim_create(campaign_id=campaign.pk, user_id=bob.pk)
    grant_fail(grant_id=a.grant_id, reason="declined")  # slot 1 back in the pool

    redis_flush()  # Redis loses everything

    again = claim_create(campaign_id=campaign.pk, user_id=bob.pk)
    assert (again.created, again.grant_id, again.slot) == (False, b.grant_id, 2)
    slots = {claim_create(campaign_id=campaign.pk, user_id=u.pk).slot for u in (carol, dave)}
    assert slots == {1, 3}
    with pytest.raises(Exception) as rejected:
        claim_create(campaign_id=campaign.pk, user_id=alice.pk)
    assert getattr(rejected.value, "code", None) == "sold_out"
    assert Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count() == 3


def test_claim_window_follows_the_redis_clock_override(user):
    campaign = published_campaign(opens_at=timezone.now() + timedelta(minutes=5))
    opens_ms = int(campaign.opens_at.timestamp() * 1000)
    with pytest.raises(Exception) as rejected:
        claim_create(campaign_id=campaign.pk, user_id=user.pk, now_ms=opens_ms - 1)
    assert getattr(rejected.value, "code", None) == "not_open"
    assert claim_create(campaign_id=campaign.pk, user_id=user.pk, now_ms=opens_ms).created


def test_published_terms_are_read_only_in_the_database():
    from django.db import IntegrityError

    campaign = published_campaign(quantity=5)
    with pytest.raises(IntegrityError):
        Campaign.objects.filter(pk=campaign.pk).update(quantity=6)
    campaign.refresh_from_db()
    assert campaign.quantity == 5
    Campaign.objects.filter(pk=campaign.pk).update(title="New title")  # presentation may change


def test_check_constraints_refuse_bad_terms():
    from django.db import IntegrityError, transaction

    now = timezone.now()
    for bad in ({"quantity": 0}, {"closes_at": now - timedelta(days=1), "opens_at": now}):
        with pytest.raises(IntegrityError), transaction.atomic():
            CampaignFactory(**bad)


def test_open_now_moves_a_scheduled_campaign_forward(user):
    campaign = published_campaign(opens_at=timezone.now() + timedelta(hours=2))
    assert campaign.status == Campaign.Status.SCHEDULED
    campaign_open_now(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN and campaign.opens_at <= timezone.now()
    assert claim_create(campaign_id=campaign.pk, user_id=user.pk).created


# --- I8: a repeat click racing the first click's INSERT ---------------------------


def admitted_pass(campaign, user) -> str:
    from tests.waitingroom.factories import published_room

    room = published_room(campaign=campaign)
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    return room_status(room=room, user_id=user.pk).access_pass


@pytest.mark.parametrize("with_pass", [False, True], ids=["plain", "behind-a-room"])
def test_a_repeat_click_racing_an_insert_that_fails_never_hears_that_grant(user, settings, with_pass):
    settings.CLAIM_IN_FLIGHT_WAIT_SECONDS = 0.2  # the first click's INSERT stays paused well past it
    campaign = published_campaign(quantity=2)
    body = {"access_pass": admitted_pass(campaign, user)} if with_pass else {}
    paused = PausedInsert()
    # the first click: the gate accepted it, its INSERT waits at the database's door
    first, outcome = claim_in_thread(paused, campaign_id=campaign.pk, user_id=user.pk, **body)
    hold = gate.holder_of(campaign_id=campaign.pk, user_id=user.pk)
    assert hold is not None and not Grant.objects.filter(pk=hold.grant_id).exists()

    # the second click (behind a room it carries the pass the first click used up)
    again = bearer_for(user).post(claim_url(campaign), body, format="json")

    assert_error(again, 409, "claim_in_progress")
    assert again["Retry-After"] == "1" and again.json()["retry_after"] == 1
    # the first click's connection drops: its INSERT fails and the user holds nothing
    paused.drop_connection()
    paused.go.set()
    first.join()
    assert getattr(outcome.get("error"), "code", None) == "store_unavailable", outcome
    assert not Grant.objects.exists()
    # the user's next click claims for itself, and that answer names a committed grant
    third = bearer_for(user).post(claim_url(campaign), body, format="json")
    assert third.status_code == 202, third.content
    assert Grant.objects.filter(pk=third.json()["grant_id"], user=user).exists()
    heard = {"accepted": 1, "claim_in_progress": 1, "store_unavailable": 1}
    assert gate.stats_many([campaign.pk])[campaign.pk] == heard


def test_a_repeat_click_racing_an_insert_that_commits_waits_for_it_and_names_it(user, settings, monkeypatch):
    from coupons.services import gate_heal

    settings.CLAIM_IN_FLIGHT_WAIT_SECONDS = 30  # longer than any pause of a loaded machine
    campaign = published_campaign(quantity=2)
    paused = PausedInsert()
    first, outcome = claim_in_thread(paused, campaign_id=campaign.pk, user_id=user.pk)
    met_in_flight, answered = threading.Event(), threading.Event()
    real_settle = gate_heal.hold_settle

    def settle(**kwargs):
        met_in_flight.set()
        return real_settle(**kwargs)

    monkeypatch.setattr(gate_heal, "hold_settle", settle, raising=False)
    second: dict = {}

    def second_click():
        second["response"] = bearer_for(user).post(claim_url(campaign))
        answered.set()

    thread = threading.Thread(target=second_click)
    thread.start()
    # the second click either waits on the provisional hold or (the bug) answers at once
    assert wait_for_either(met_in_flight, answered)
    assert not answered.is_set(), "the repeat answered while the first click's row was not committed"
    assert not Grant.objects.exists()
    paused.go.set()  # the first click's INSERT commits
    first.join()
    thread.join(WAIT)

    grant_id = str(outcome["result"].grant_id)
    response = second["response"]
    assert response.status_code == 200 and response.json()["grant_id"] == grant_id
    assert Grant.objects.filter(pk=grant_id).exists()


def wait_for_either(*events: threading.Event) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if any(event.wait(0.01) for event in events):
            return True
    return False


def test_a_provisional_mark_whose_confirm_was_lost_is_settled_by_one_lookup(user, settings, django_assert_num_queries):
    settings.CLAIM_IN_FLIGHT_WAIT_SECONDS = 0.05
    campaign = published_campaign(quantity=2)
    client = bearer_for(user)
    first = client.post(claim_url(campaign)).json()
    # the row committed, but its confirm never reached Redis (a process killed between the two)
    keys = gate.GateKeys.of(campaign.pk)
    redis_client = gate.fc_redis.client()
    redis_client.hset(keys.provisional, user.pk, first["grant_id"])

    with django_assert_num_queries(1):  # the grant looked up once after the wait
        again = client.post(claim_url(campaign))

    assert again.status_code == 200 and again.json()["grant_id"] == first["grant_id"]
    assert redis_client.hget(keys.provisional, user.pk) is None  # settled: later repeats need no query
    with django_assert_num_queries(0):
        assert client.post(claim_url(campaign)).json()["grant_id"] == first["grant_id"]


def test_a_claim_whose_gate_is_still_missing_after_the_rebuild_is_404_like_a_seat_hold(user, monkeypatch):
    # given: the gate is gone, and stays gone after the claim's rebuild (as for a campaign that is no more)
    campaign = published_campaign(quantity=2)
    redis_flush()
    monkeypatch.setattr(claims, "campaign_gate_rebuild", lambda **_: False)

    # when / then: the one outcome mapping (coupons.errors.raise_for_outcome) answers 404, as the seat
    # hold always did (the claim answered 503 store_unavailable before), and nothing is taken
    response = bearer_for(user).post(claim_url(campaign))
    assert_error(response, 404, "not_found")
    assert not Grant.objects.exists()
