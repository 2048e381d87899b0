"""Seat holds refused up front when the user could not complete them (issue 18, item 4).

A hold answers 409 account_inactive, already_booked or insufficient_funds (with
the balance and the price) and holds nothing; a user holds one seat per event at
a time, also when they fire many holds at once; the "bought" mark survives a
Redis loss (rebuild, catch-up, reconcile). Real PostgreSQL and Redis throughout.
"""

import threading

import pytest
from django.db import close_old_connections
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from coupons import redis as gate
from coupons import redis_rebuild
from coupons.errors import AccountInactive, AlreadyBooked, InsufficientFunds
from coupons.models import Campaign, Grant, Seat
from coupons.seats import redis as seats_redis
from coupons.seats import services as seat_services
from coupons.seats.services import seat_confirm, seat_hold, seat_map_generate
from coupons.services import gate_heal
from coupons.services.campaigns import campaign_publish
from coupons.services.gate import gate_state_build
from coupons.services.reconcile import campaign_reconcile
from coupons.services.wallets import wallet_adjust
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import assert_error, client_with
from tests.coupons.factories import CampaignFactory, funded_user
from tests.isolation import redis_flush
from tests.waitingroom.factories import published_room
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join, room_status

pytestmark = pytest.mark.django_db(transaction=True)

PRICE, CHEAP = 50_000, 30_000


def seat_campaign(**fields) -> Campaign:
    """Rows A-B at 50,000 KRW, C at 30,000, five seats a row (slots 1-10 dear, 11-15 cheap)."""
    campaign = CampaignFactory(quantity=1, amount=0, **fields)
    seat_map_generate(campaign=campaign, rows=f"A-B:{PRICE}, C:{CHEAP}", seats_per_row=5)
    campaign_publish(campaign=Campaign.objects.get(pk=campaign.pk))
    return Campaign.objects.get(pk=campaign.pk)


def token_of(user) -> str:
    from accounts import services as account_services

    return account_services.api_token_issue(user=user)[0]


def redis_seats(campaign: Campaign) -> dict[int, str]:
    return seats_redis.seat_states(campaign_id=campaign.pk)


def holds_of(campaign: Campaign, user) -> list[int]:
    """Every seat Redis shows held by this user (whatever the per-user index says)."""
    return [slot for slot, value in redis_seats(campaign).items() if value.startswith(f"held:{user.pk}:")]


def buy(campaign: Campaign, user, slot: int) -> Grant:
    hold = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=slot)
    return seat_confirm(campaign_id=campaign.pk, user_id=user.pk, slot=slot, token=hold.token).grant


# --- insufficient_funds -----------------------------------------------------------


def test_a_balance_below_the_seats_price_is_409_insufficient_funds_with_both_and_nothing_is_held():
    campaign = seat_campaign()
    poor = funded_user(CHEAP)
    client = client_with(token_of(poor))
    base = f"/api/v1/campaigns/{campaign.slug}/seats/"

    refused = client.post(f"{base}A-1/hold/")

    assert_error(refused, 409, "insufficient_funds")
    assert (refused.json()["balance"], refused.json()["price"]) == (CHEAP, PRICE)
    assert redis_seats(campaign) == {}
    # the script never ran (it would have counted its own answer and spent a token): only the refusal counts
    assert gate.stats_many([campaign.pk])[campaign.pk] == {"hold:insufficient_funds": 1}
    # a seat the wallet can pay (exactly) is held
    assert client.post(f"{base}C-1/hold/").status_code == 200
    assert holds_of(campaign, poor) == [11]


def test_a_user_without_a_wallet_is_refused_with_balance_zero_in_korean_too():
    campaign = seat_campaign()
    client = client_with(token_of(UserFactory()))

    refused = client.post(f"/api/v1/campaigns/{campaign.slug}/seats/C-1/hold/", HTTP_ACCEPT_LANGUAGE="ko")

    assert_error(refused, 409, "insufficient_funds")
    assert (refused.json()["balance"], refused.json()["price"]) == (0, CHEAP)
    assert "잔액(0원)" in refused.json()["detail"] and "30,000원" in refused.json()["detail"]
    assert redis_seats(campaign) == {}


def test_an_account_deactivated_between_hold_and_confirm_buys_nothing():
    campaign = seat_campaign()
    buyer = funded_user()
    balance = buyer.wallet.balance
    hold = seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=1)
    type(buyer).objects.filter(pk=buyer.pk).update(is_active=False)
    with pytest.raises(AccountInactive):
        seat_confirm(campaign_id=campaign.pk, user_id=buyer.pk, slot=1, token=hold.token)
    seat = Seat.objects.get(campaign=campaign, slot=1)
    assert (seat.status, seat.sold_to_id, seat.grant_id) == (Seat.Status.FREE, None, None)
    assert not Grant.objects.filter(campaign=campaign).exists()
    buyer.wallet.refresh_from_db()
    assert buyer.wallet.balance == balance


def test_a_refused_hold_keeps_the_waiting_rooms_pass():
    campaign = seat_campaign()
    room = published_room(campaign=campaign)
    user = UserFactory()
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    access_pass = room_status(room=room, user_id=user.pk).access_pass
    with pytest.raises(InsufficientFunds):
        seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1, access_pass=access_pass)
    # topped up, the same pass still works: the refusal came before the pass was touched
    wallet_adjust(user_id=user.pk, amount=PRICE, reference="top-up")
    assert seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1, access_pass=access_pass).slot == 1


def test_the_checks_cost_the_hold_one_query(django_assert_num_queries):
    campaign = seat_campaign()
    user = funded_user()
    with django_assert_num_queries(1):  # account, wallet and price together; the rest is the script
        seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1)
    poor = UserFactory()
    with django_assert_num_queries(1), pytest.raises(InsufficientFunds):
        seat_hold(campaign_id=campaign.pk, user_id=poor.pk, slot=2)


# --- account_inactive -------------------------------------------------------------


def test_an_inactive_or_deleted_account_is_refused_account_inactive_and_nothing_is_held():
    campaign = seat_campaign()
    inactive = funded_user(is_active=False)
    with pytest.raises(AccountInactive):
        seat_hold(campaign_id=campaign.pk, user_id=inactive.pk, slot=1)
    with pytest.raises(AccountInactive):  # deleted between authentication and the hold
        seat_hold(campaign_id=campaign.pk, user_id=10**9, slot=1)
    # the API's answer, for a request already past authentication (its token would be 401 token_revoked)
    client = APIClient()
    client.force_authenticate(user=inactive)
    assert_error(client.post(f"/api/v1/campaigns/{campaign.slug}/seats/A-1/hold/"), 409, "account_inactive")
    assert redis_seats(campaign) == {}


# --- already_booked ---------------------------------------------------------------


def test_a_buyer_cannot_hold_another_seat_of_the_event_409_already_booked():
    campaign = seat_campaign()
    buyer, other = funded_user(), funded_user()
    buy(campaign, buyer, 1)
    client = client_with(token_of(buyer))

    assert_error(client.post(f"/api/v1/campaigns/{campaign.slug}/seats/A-2/hold/"), 409, "already_booked")

    assert holds_of(campaign, buyer) == []
    assert seat_hold(campaign_id=campaign.pk, user_id=other.pk, slot=2).slot == 2  # others still can
    # another event is another matter
    assert seat_hold(campaign_id=seat_campaign().pk, user_id=buyer.pk, slot=1).slot == 1


def test_a_buyer_behind_a_waiting_room_is_told_already_booked_and_keeps_the_pass():
    campaign = seat_campaign()
    room = published_room(campaign=campaign)
    buyer = funded_user()
    room_join(room_id=room.pk, user_id=buyer.pk)
    room_tick(room=room)
    first = room_status(room=room, user_id=buyer.pk).access_pass
    hold = seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=1, access_pass=first)
    seat_confirm(campaign_id=campaign.pk, user_id=buyer.pk, slot=1, token=hold.token)
    with pytest.raises(AlreadyBooked):  # the shopping session is still open: no pass needed to be told
        seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=2)
    assert holds_of(campaign, buyer) == []


def test_a_hold_made_while_the_users_confirm_commits_is_let_go_by_the_sale(monkeypatch):
    # given: the user holds A-1 and confirms; between the confirm's Redis check and its
    # commit (the hook), the same user holds A-2 (another tab)
    campaign = seat_campaign()
    user = funded_user()
    hold = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1)
    real_sell = seat_services.seat_sell
    interleaved = []

    def sell_after_a_second_hold(**kwargs):
        interleaved.append(seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=2).slot)
        assert holds_of(campaign, user) == [2]  # the switch let go of A-1 in Redis...
        return real_sell(**kwargs)

    monkeypatch.setattr(seat_services, "seat_sell", sell_after_a_second_hold)

    # when: ...yet PostgreSQL decides the sale of A-1 (its check passed before the switch)
    sale = seat_confirm(campaign_id=campaign.pk, user_id=user.pk, slot=1, token=hold.token)

    # then: the sale lets go of A-2 too, and the buyer holds nothing more
    assert interleaved == [2] and sale.created
    assert redis_seats(campaign) == {1: "sold"}
    assert not get_redis_connection("default").hexists(gate.GateKeys.of(campaign.pk).seat_holder, user.pk)
    monkeypatch.setattr(seat_services, "seat_sell", real_sell)
    with pytest.raises(AlreadyBooked):
        seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=3)


# --- one hold per user per event, under concurrency --------------------------------


def test_a_user_firing_30_holds_at_once_ends_with_one_hold():
    campaign = seat_campaign(rate_user_burst=0)  # the per-user limit off: the race, not the limit, is under test
    user = funded_user()
    barrier = threading.Barrier(30)
    outcomes: list[str] = []

    def fire(slot):
        close_old_connections()
        barrier.wait()
        try:
            outcomes.append(str(seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=slot).slot))
        except Exception as error:  # noqa: BLE001 - every refusal is an ApplicationError with a code
            outcomes.append(getattr(error, "code", type(error).__name__))
        finally:
            close_old_connections()

    slots = [1 + i % 15 for i in range(30)]  # each seat twice: same-seat repeats and switches together
    threads = [threading.Thread(target=fire, args=(slot,)) for slot in slots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(outcomes) == 30 and set(outcomes) <= {str(slot) for slot in slots}, outcomes  # every hold held
    held = holds_of(campaign, user)
    assert len(held) == 1
    keys = gate.GateKeys.of(campaign.pk)
    client = get_redis_connection("default")
    assert client.hget(keys.seat_holder, user.pk).decode().startswith(f"{held[0]}:")
    assert client.zrange(keys.seat_holds, 0, -1) == [str(held[0]).encode()]  # the sweep knows of one hold


def test_a_user_holding_and_buying_from_many_threads_buys_once_and_ends_holding_nothing():
    campaign = seat_campaign(rate_user_burst=0)
    user = funded_user(10 * PRICE)
    first = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=1)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def confirm():
        return seat_confirm(campaign_id=campaign.pk, user_id=user.pk, slot=1, token=first.token)

    def fire(index):
        close_old_connections()
        barrier.wait()
        try:
            if index % 4 == 0:
                confirm()
                outcomes.append("sold")
            else:
                seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=2 + index % 9)
                outcomes.append("held")
        except Exception as error:  # noqa: BLE001 - every refusal is an ApplicationError with a code
            outcomes.append(getattr(error, "code", type(error).__name__))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert set(outcomes) <= {"sold", "held", "already_booked", "hold_expired"}, outcomes
    sold = Seat.objects.filter(campaign=campaign, status=Seat.Status.SOLD)
    assert sold.count() == Grant.objects.filter(campaign=campaign).count() <= 1
    if sold.exists():  # the sale let go of every hold it raced with
        assert holds_of(campaign, user) == []
    else:  # every confirm came after a switch: one hold left, nothing paid
        assert len(holds_of(campaign, user)) == 1
    if sold.exists():
        with pytest.raises(AlreadyBooked):
            seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=15)


# --- the bought mark comes back from PostgreSQL -----------------------------------------


def test_after_a_redis_loss_the_rebuild_still_refuses_the_buyer():
    campaign = seat_campaign()
    buyer, other = funded_user(), funded_user()
    buy(campaign, buyer, 1)

    redis_flush()

    with pytest.raises(AlreadyBooked):  # the hold finds no gate, rebuilds it from the live grants
        seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=2)
    assert seat_hold(campaign_id=campaign.pk, user_id=other.pk, slot=2).slot == 2
    assert redis_seats(campaign)[1] == "sold"


def test_a_sale_that_commits_while_the_gate_is_rebuilt_is_marked_by_the_catch_up():
    # given: a rebuild read PostgreSQL, then a sale committed and told Redis, then the rebuild wrote what it read
    campaign = seat_campaign()
    buyer = funded_user()
    read_before = gate_state_build(campaign=campaign)
    grant = buy(campaign, buyer, 1)
    redis_rebuild.gate_write(campaign_id=campaign.pk, gate=read_before)
    assert not seats_redis.seat_buyers(campaign_id=campaign.pk)  # the write undid the mark

    # when
    applied = gate_heal.rebuild_catch_up(campaign_id=campaign.pk, written=read_before)

    # then
    assert applied == 1
    assert seats_redis.seat_buyers(campaign_id=campaign.pk) == {buyer.pk: f"1:{grant.pk}"}
    with pytest.raises(AlreadyBooked):
        seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=2)


def test_reconcile_reports_a_lost_or_unknown_buyer_and_restores_the_mark():
    campaign = seat_campaign()
    buyer = funded_user()
    grant = buy(campaign, buyer, 1)
    keys = gate.GateKeys.of(campaign.pk)
    client = get_redis_connection("default")
    client.hdel(keys.holders, buyer.pk)  # a failover lost the mark
    client.hset(keys.holders, 424242, "9:not-a-grant")  # and kept one of nobody's

    report = campaign_reconcile(campaign=campaign, fix=False)

    assert report.missing_in_redis == [f"buyer {buyer.pk} of seat slot 1"]
    assert report.unknown_in_redis == ["buyer 424242 of seat slot 9"]
    assert campaign_reconcile(campaign=campaign, fix=True).fixed
    assert seats_redis.seat_buyers(campaign_id=campaign.pk) == {buyer.pk: f"1:{grant.pk}"}
    assert not campaign_reconcile(campaign=campaign, fix=False).drifted
    with pytest.raises(AlreadyBooked):
        seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=2)


def test_holds_refused_before_the_script_count_with_its_answers():
    """The dashboard and /metrics read "hold:<outcome>": refusals decided in PostgreSQL count there too."""
    campaign = seat_campaign()
    with pytest.raises(InsufficientFunds):
        seat_hold(campaign_id=campaign.pk, user_id=UserFactory().pk, slot=1)
    with pytest.raises(AccountInactive):
        seat_hold(campaign_id=campaign.pk, user_id=funded_user(is_active=False).pk, slot=1)
    seat_hold(campaign_id=campaign.pk, user_id=funded_user().pk, slot=1)
    counts = gate.stats_many([campaign.pk])[campaign.pk]
    assert {k: v for k, v in counts.items() if k.startswith("hold:")} == {
        "hold:insufficient_funds": 1,
        "hold:account_inactive": 1,
        "hold:held": 1,
    }
