"""Seats with fencing tokens on real Redis and PostgreSQL: races, stalled holders, S1, deadlocks, funds."""

import random
import threading
import time

import pytest
from django.db import IntegrityError, close_old_connections
from django.db.models import Count
from django_redis import get_redis_connection

from coupons import redis as gate
from coupons.errors import AlreadyBooked, HoldInvalid, InsufficientFunds, InvalidTransition, SeatTaken, StaleToken
from coupons.models import Campaign, Grant, LedgerEntry, Seat, Wallet
from coupons.seats import redis as seats_redis
from coupons.seats import services as seat_services
from coupons.seats.selectors import seat_map
from coupons.seats.services import seat_confirm, seat_hold, seat_map_generate, seat_release, seat_sell, seats_sweep
from coupons.services.campaigns import campaign_close, campaign_publish
from coupons.services.claims import claim_create
from coupons.services.gate import campaign_gate_rebuild
from coupons.services.grants import grant_transfer
from coupons.services.reconcile import campaign_reconcile
from coupons.services.wallets import wallet_adjust
from tests.accounts.test_tokens import assert_error, client_with
from tests.coupons.factories import CampaignFactory, funded_user
from tests.isolation import redis_flush
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join, room_status

pytestmark = pytest.mark.django_db(transaction=True)

PRICE = 50_000


def seat_campaign(rows: str = f"A-B:{PRICE}", per_row: int = 5, **fields) -> Campaign:
    campaign = CampaignFactory(quantity=1, amount=0, **fields)
    seat_map_generate(campaign=campaign, rows=rows, seats_per_row=per_row)
    campaign_publish(campaign=Campaign.objects.get(pk=campaign.pk))
    return Campaign.objects.get(pk=campaign.pk)


def now_ms() -> int:
    return int(time.time() * 1000)


def assert_s1(campaign: Campaign) -> int:
    """One sale per seat, one seat per buyer, paid once, balances equal their entries."""
    sold = Seat.objects.filter(campaign=campaign, status=Seat.Status.SOLD)
    grants = Grant.objects.filter(campaign=campaign, status=Grant.Status.SUCCEEDED)
    assert sold.count() == grants.count()
    assert not grants.values("slot").annotate(n=Count("id")).filter(n__gt=1).exists(), "S1: a seat sold twice"
    assert not grants.values("user").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert set(sold.values_list("grant_id", flat=True)) == set(grants.values_list("id", flat=True))
    purchases = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PURCHASE, grant__campaign=campaign)
    assert purchases.count() == grants.count()
    for wallet in Wallet.objects.all():
        assert wallet.balance == sum(wallet.entries.values_list("amount", flat=True)) >= 0
    return sold.count()


def test_200_users_race_for_one_seat_one_hold_wins():
    # the hold script is what decides a race (the service's PostgreSQL checks come before it and
    # decide nothing between users), so 200 users call it at once without 200 funded wallets
    campaign = seat_campaign()
    outcomes = []
    barrier = threading.Barrier(200)

    def race(user_id):
        barrier.wait()
        result = seats_redis.seat_hold(
            campaign_id=campaign.pk, user_id=user_id, slot=1, hold_ms=300_000, session_ms=900_000
        )
        outcomes.append(result.outcome)

    threads = [threading.Thread(target=race, args=(user_id,)) for user_id in range(1, 201)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["held"] + ["seat_taken"] * 199
    holders = get_redis_connection("default").hgetall(gate.GateKeys.of(campaign.pk).seat_holder)
    assert len(holders) == 1


def test_the_stalled_holder_cannot_confirm_even_when_redis_forgets():
    campaign = seat_campaign()
    alice, bob = funded_user(), funded_user()
    t0 = now_ms()
    hold_a = seat_hold(campaign_id=campaign.pk, user_id=alice.pk, slot=1, now_ms=t0)
    # alice stalls past her hold; bob holds the same seat with a greater token and buys it
    later = t0 + 300_000 + 1
    hold_b = seat_hold(campaign_id=campaign.pk, user_id=bob.pk, slot=1, now_ms=later)
    assert hold_b.token > hold_a.token
    seat_confirm(campaign_id=campaign.pk, user_id=bob.pk, slot=1, token=hold_b.token, now_ms=later + 10)

    with pytest.raises(SeatTaken):  # Redis refuses alice
        seat_confirm(campaign_id=campaign.pk, user_id=alice.pk, slot=1, token=hold_a.token, now_ms=later + 20)
    # Redis lost its state and would let alice through: PostgreSQL refuses the stale token
    with pytest.raises(StaleToken):
        seat_sell(campaign_id=campaign.pk, user_id=alice.pk, slot=1, token=hold_a.token)
    assert Seat.objects.get(campaign=campaign, slot=1).sold_to_id == bob.pk
    assert Wallet.objects.get(user=alice).balance == 200_000
    assert assert_s1(campaign) == 1


def test_insufficient_funds_changes_nothing():
    campaign = seat_campaign()
    poor = funded_user(PRICE)
    hold = seat_hold(campaign_id=campaign.pk, user_id=poor.pk, slot=3)
    wallet_adjust(user_id=poor.pk, amount=-1, reference="spent-meanwhile")  # after the hold's check
    entries_before = LedgerEntry.objects.count()
    with pytest.raises(InsufficientFunds):
        seat_confirm(campaign_id=campaign.pk, user_id=poor.pk, slot=3, token=hold.token)
    seat = Seat.objects.get(campaign=campaign, slot=3)
    assert (seat.status, seat.sold_to_id, seat.fence_token) == ("free", None, 0)
    assert Wallet.objects.get(user=poor).balance == PRICE - 1
    assert LedgerEntry.objects.count() == entries_before
    assert not Grant.objects.filter(campaign=campaign).exists()


def test_holding_another_seat_switches_and_release_frees():
    campaign = seat_campaign()
    user, other = funded_user(), funded_user()
    first = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1)
    second = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=2)
    assert second.token > first.token
    seat_hold(campaign_id=campaign.pk, user_id=other.pk, slot=1)  # seat 1 was released by the switch
    with pytest.raises(HoldInvalid):
        seat_confirm(campaign_id=campaign.pk, user_id=user.pk, slot=1, token=first.token)
    assert seat_release(campaign_id=campaign.pk, user_id=user.pk, slot=2, token=second.token)
    seat_hold(campaign_id=campaign.pk, user_id=other.pk, slot=2)  # a new hold switches other to 2


def test_expired_holds_are_swept_back_to_the_map():
    campaign = seat_campaign()
    user = funded_user()
    t0 = now_ms()
    seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=4, now_ms=t0)
    assert [v.state for v in seat_map(campaign_id=campaign.pk, user_id=None, now_ms=t0)][3] == "held"
    sessions = gate.GateKeys.of(campaign.pk).seat_session
    redis_client = get_redis_connection("default")
    redis_client.zadd(sessions, {"42": t0 + 1000})  # an ended waiting-room shopping session
    assert seats_sweep(now_ms=t0 + 300_001) == 1
    assert 4 not in seats_redis.seat_states(campaign_id=campaign.pk)
    assert redis_client.zcard(sessions) == 0


def test_s1_holds_confirms_and_expiries_from_many_threads(settings):
    settings.SEAT_HOLD_SECONDS = 1  # holds expire while others wait
    # shoppers try up to 8 holds each, some back to back: the race, not the rate limit, is under test
    campaign = seat_campaign(rows=f"A:{PRICE}", per_row=6, rate_user_burst=0)
    users = [funded_user() for _ in range(40)]
    outcomes: list[str] = []

    def shopper(user):
        close_old_connections()
        rng = random.Random(user.pk)
        for _ in range(8):
            slot = rng.randint(1, 6)
            try:
                hold = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=slot)
                time.sleep(rng.choice([0, 0.01, 0.05, 1.1]))  # some stall past their hold
                seat_confirm(campaign_id=campaign.pk, user_id=user.pk, slot=slot, token=hold.token)
                outcomes.append("sold")
                break
            except AlreadyBooked:
                break
            except Exception as error:  # noqa: BLE001 - every refusal is an ApplicationError with a code
                outcomes.append(getattr(error, "code", type(error).__name__))
        close_old_connections()

    threads = [threading.Thread(target=shopper, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(outcomes) <= {"sold", "seat_taken", "hold_expired", "stale_token"}, set(outcomes)
    assert outcomes.count("sold") == assert_s1(campaign) >= 1
    # no seat is stuck: once the stalled holds ran out, every seat still free can be bought
    time.sleep(1.1)
    for seat in Seat.objects.filter(campaign=campaign, status=Seat.Status.FREE):
        late = funded_user()
        hold = seat_hold(campaign_id=campaign.pk, user_id=late.pk, slot=seat.slot)
        seat_confirm(campaign_id=campaign.pk, user_id=late.pk, slot=seat.slot, token=hold.token)
    assert assert_s1(campaign) == 6


def test_concurrent_confirms_in_crossing_orders_never_deadlock():
    """Two buyers each buy one seat in two events, crossing seats and wallets, while credits land.

    Every path that takes a seat and a wallet takes the seat first, so there is
    no order to cross; this run shows the paths that share wallets (purchases and
    grant credits) complete together without a deadlock or a lost update.
    """
    credit = CampaignFactory(quantity=100, amount=10)
    campaign_publish(campaign=credit)
    for _round in range(10):
        first, second = seat_campaign(per_row=2), seat_campaign(per_row=2)
        x, y = funded_user(), funded_user()
        plan = [(first, x, 1), (first, y, 2), (second, y, 1), (second, x, 2)]
        holds = [(c, u, s, seat_hold(campaign_id=c.pk, user_id=u.pk, slot=s).token) for c, u, s in plan]
        claims = [claim_create(campaign_id=credit.pk, user_id=u.pk) for u in (x, y)]
        errors: list[str] = []

        def confirm(c, u, s, token, errors=errors):
            close_old_connections()
            try:
                seat_confirm(campaign_id=c.pk, user_id=u.pk, slot=s, token=token)
            except Exception as error:  # noqa: BLE001
                errors.append(repr(error))
            close_old_connections()

        def credit_grant(grant_id, errors=errors):
            close_old_connections()
            try:
                grant_transfer(grant_id=grant_id, final_attempt=False)
            except Exception as error:  # noqa: BLE001
                errors.append(repr(error))
            close_old_connections()

        threads = [threading.Thread(target=confirm, args=h) for h in holds]
        threads += [threading.Thread(target=credit_grant, args=(o.grant_id,)) for o in claims]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert assert_s1(first) == 2 and assert_s1(second) == 2
        campaign_close(campaign=credit) if _round == 9 else None


def test_a_flushed_redis_gets_sold_seats_back_and_a_fence_above_every_token(redis_clean):
    campaign = seat_campaign()
    buyer = funded_user()
    hold = seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=2)
    seat_confirm(campaign_id=campaign.pk, user_id=buyer.pk, slot=2, token=hold.token)
    redis_flush()
    campaign_gate_rebuild(campaign_id=campaign.pk)
    with pytest.raises(SeatTaken):
        seat_hold(campaign_id=campaign.pk, user_id=funded_user().pk, slot=2)
    fresh = seat_hold(campaign_id=campaign.pk, user_id=funded_user().pk, slot=3)
    assert fresh.token > time.time() * 1_000_000 - 60_000_000  # above every token issued before the flush
    assert selectors_remaining(campaign) == 9


def selectors_remaining(campaign) -> int:
    from coupons import selectors

    return selectors.campaign_remaining(campaign=campaign)


def test_published_seat_map_is_read_only():
    campaign = seat_campaign()
    with pytest.raises(IntegrityError):
        Seat.objects.filter(campaign=campaign, slot=1).update(price=1)
    with pytest.raises(IntegrityError):  # where the seat stands is part of what was sold
        Seat.objects.filter(campaign=campaign, slot=1).update(number=9)
    with pytest.raises(IntegrityError):  # the trigger, not only the service, refuses deletes too
        Seat.objects.filter(campaign=campaign, slot=2).delete()
    assert Seat.objects.filter(campaign=campaign).count() == 10


def test_seat_api_map_hold_confirm_release():
    campaign = seat_campaign()
    buyer, other = funded_user(), funded_user()
    client, other_client = client_with(token_of(buyer)), client_with(token_of(other))
    base = f"/api/v1/campaigns/{campaign.slug}/seats/"
    held = client.post(f"{base}A-1/hold/").json()
    assert_error(other_client.post(f"{base}A-1/hold/"), 409, "seat_taken")
    states = {s["label"]: s["state"] for s in other_client.get(base).json()}
    assert states["A-1"] == "held" and states["A-2"] == "free"
    assert {s["label"]: s["state"] for s in client.get(base).json()}["A-1"] == "mine"
    assert_error(client.post(f"{base}A-1/confirm/", {"token": "x"}, format="json"), 400, "invalid")
    response = client.post(f"{base}A-1/confirm/", {"token": held["token"]}, format="json")
    assert response.status_code == 201 and response.json()["status"] == "succeeded"
    again = client.post(f"{base}A-1/confirm/", {"token": held["token"]}, format="json")  # a lost answer retried
    assert (again.status_code, again.json()["id"]) == (200, response.json()["id"])
    assert {s["label"]: s["state"] for s in other_client.get(base).json()}["A-1"] == "sold"
    mine = {s["label"]: s for s in client.get(base).json()}["A-1"]  # the buyer sees the seat as theirs
    assert (mine["state"], mine["row"], mine["number"]) == ("bought", "A", 1)
    assert_error(client.post(f"{base}Z-99/hold/"), 404, "not_found")
    hold = other_client.post(f"{base}B-2/hold/").json()
    assert other_client.post(f"{base}B-2/release/", {"token": hold["token"]}, format="json").status_code == 204
    assert_error(client.post(f"/api/v1/campaigns/{campaign.slug}/claims/"), 409, "choose_seat")


def token_of(user) -> str:
    from accounts import services as account_services

    return account_services.api_token_issue(user=user)[0]


def test_seat_page_and_admin_generation(client):
    from accounts.models import User

    staff = User.objects.create_superuser("boss", "b@example.com", "pw-for-boss-123")
    client.force_login(staff)
    draft = CampaignFactory(quantity=1, amount=0)
    response = client.post(
        "/admin/coupons/campaign/",
        {
            "action": "generate_seats",
            "_selected_action": [draft.pk],
            "apply": "1",
            "rows": "A-B:40000, C:20000",
            "seats_per_row": 4,
        },
        follow=True,
    )
    assert "12 seats" in response.content.decode()
    draft.refresh_from_db()
    assert (draft.quantity, draft.allocation) == (12, "chosen")
    assert list(Seat.objects.filter(campaign=draft, section="C").values_list("price", flat=True)) == [20000] * 4
    campaign_publish(campaign=draft)
    page = client.get(f"/campaigns/{draft.slug}/").content.decode()
    assert 'data-label="A-1"' in page and "Confirm and pay" in page


def test_seats_behind_a_waiting_room_need_a_pass_for_the_first_hold():
    from tests.waitingroom.factories import published_room
    from waitingroom.errors import AdmissionRequired

    campaign = seat_campaign()
    room = published_room(campaign=campaign)
    user = funded_user()
    with pytest.raises(AdmissionRequired) as refused:
        seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1)
    assert refused.value.extra["room_url"] == f"/rooms/{room.slug}/"
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    access_pass = room_status(room=room, user_id=user.pk).access_pass
    first = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1, access_pass=access_pass)
    switched = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=2)  # same session, no new pass
    seat_confirm(campaign_id=campaign.pk, user_id=user.pk, slot=2, token=switched.token)
    assert switched.token > first.token and assert_s1(campaign) == 1


def test_a_hold_that_expires_while_waiting_for_the_locks_cannot_buy():
    campaign = seat_campaign()
    alice, bob = funded_user(), funded_user()
    t0 = now_ms()
    hold_a = seat_hold(campaign_id=campaign.pk, user_id=alice.pk, slot=1, now_ms=t0)
    # alice's Redis check passed just before her hold ended; she then stalls on the locks while
    # the seat is freed and held by bob with a greater token (not yet sold)
    seat_hold(campaign_id=campaign.pk, user_id=bob.pk, slot=1, now_ms=t0 + 300_001)
    with pytest.raises(HoldInvalid):
        seat_sell(
            campaign_id=campaign.pk,
            user_id=alice.pk,
            slot=1,
            token=hold_a.token,
            hold_expires_ms=t0 + 300_000,
            now_ms=t0 + 300_002,
        )
    assert Seat.objects.get(campaign=campaign, slot=1).status == "free"


def test_a_repeated_confirm_returns_the_same_sale():
    campaign = seat_campaign()
    buyer = funded_user()
    hold = seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=5)
    first = seat_confirm(campaign_id=campaign.pk, user_id=buyer.pk, slot=5, token=hold.token)
    again = seat_confirm(campaign_id=campaign.pk, user_id=buyer.pk, slot=5, token=hold.token)
    assert (first.created, again.created) == (True, False)
    assert again.grant.pk == first.grant.pk and assert_s1(campaign) == 1


def test_identical_confirms_racing_each_other_all_answer_the_sale_paid_once(monkeypatch):
    campaign = seat_campaign()
    buyer = funded_user(amount=PRICE)  # enough for exactly one seat
    hold = seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=3)
    copies = 6
    # every copy passes the Redis check before any of them reaches PostgreSQL
    checked = threading.Barrier(copies, timeout=30)
    real_sell = seat_sell

    def sell_after_every_check(**kwargs):
        checked.wait()
        return real_sell(**kwargs)

    monkeypatch.setattr(seat_services, "seat_sell", sell_after_every_check)
    sales, errors = [], []

    def confirm():
        close_old_connections()
        try:
            sales.append(seat_confirm(campaign_id=campaign.pk, user_id=buyer.pk, slot=3, token=hold.token))
        except Exception as exc:  # noqa: BLE001 - counted below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=confirm) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not checked.broken and errors == []  # all six met at the barrier: the race happened
    grant = Grant.objects.get(campaign=campaign)
    assert {sale.grant.pk for sale in sales} == {grant.pk} and len(sales) == copies
    assert sorted(sale.created for sale in sales) == [False] * (copies - 1) + [True]
    assert LedgerEntry.objects.filter(grant__campaign=campaign).count() == 1
    assert Wallet.objects.get(user=buyer).balance == 0
    assert assert_s1(campaign) == 1


def test_reconcile_of_a_seat_campaign_keeps_live_holds(redis_clean):
    campaign = seat_campaign()
    buyer, holder = funded_user(), funded_user()
    hold = seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=1)
    seat_confirm(campaign_id=campaign.pk, user_id=buyer.pk, slot=1, token=hold.token)
    live = seat_hold(campaign_id=campaign.pk, user_id=holder.pk, slot=2)
    report = campaign_reconcile(campaign=campaign, fix=True)
    assert not report.drifted
    assert seat_confirm(campaign_id=campaign.pk, user_id=holder.pk, slot=2, token=live.token)
    redis_clean.hdel(gate.GateKeys.of(campaign.pk).seats, 1)  # Redis forgot a sale
    assert campaign_reconcile(campaign=campaign, fix=True).missing_in_redis == ["seat slot 1 sold"]
    with pytest.raises(SeatTaken):
        seat_hold(campaign_id=campaign.pk, user_id=funded_user().pk, slot=1)


def test_a_used_pass_sent_again_still_works_within_the_session():
    from tests.waitingroom.factories import published_room

    campaign = seat_campaign()
    room = published_room(campaign=campaign)
    user, rival = funded_user(), funded_user()
    seat_hold(campaign_id=campaign.pk, user_id=rival.pk, slot=1, access_pass=_admitted(room, rival))
    access_pass = _admitted(room, user)
    with pytest.raises(SeatTaken):  # the pass is used up by this first attempt
        seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1, access_pass=access_pass)
    hold = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=2, access_pass=access_pass)
    assert hold.token > 0
    assert room_status(room=room, user_id=user.pk).outcome == "absent"


_ticks = iter(range(1, 1000))


def _admitted(room, user) -> str:

    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room, now_ms=now_ms() + 1000 * next(_ticks))  # a new second each time
    return room_status(room=room, user_id=user.pk).access_pass


def test_odd_labels_are_404_not_500(api_client):
    campaign = seat_campaign()
    client = client_with(token_of(funded_user()))
    for label in ("A%00", "%F0%9F%8E%AB", "A" * 40):
        assert client.post(f"/api/v1/campaigns/{campaign.slug}/seats/{label}/hold/").status_code == 404
    assert client.post("/api/v1/coupons/AB%00CD/redeem/").status_code in (400, 404)


def test_bad_seat_maps_are_refused_cleanly():
    draft = CampaignFactory(quantity=1, amount=0)
    for rows in ("A-B:1, B-C:2", "C-A:100", "nonsense"):
        with pytest.raises(InvalidTransition):
            seat_map_generate(campaign=draft, rows=rows, seats_per_row=3)
