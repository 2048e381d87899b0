"""Redis holds what is live, not history (issue 17, item 8): ended drops leave Redis after their grace,
a tombstone answers late clicks, and nothing rebuilds a retired gate (real Redis and PostgreSQL)."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from coupons import redis as gate
from coupons.models import Campaign, Grant
from coupons.redis import GateKeys
from coupons.seats.selectors import seat_map
from coupons.seats.services import seat_confirm, seat_hold
from coupons.services.campaigns import campaign_cancel, campaign_close, campaign_status_refresh
from coupons.services.claims import claim_create
from coupons.services.drain import grant_drain
from coupons.services.gate import campaign_gate_rebuild, gate_meta_publish
from coupons.services.reconcile import campaign_gates_heal, campaign_reconcile
from coupons.services.retire import campaign_retire, campaigns_retire
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import assert_error
from tests.coupons.factories import published_campaign
from tests.coupons.test_claim import bearer_for, claim_url
from tests.coupons.test_seats import funded_user, seat_campaign
from tests.isolation import redis_flush
from tests.waitingroom.factories import published_room
from tests.waitingroom.test_room import admitted_pass
from waitingroom import redis as room_redis
from waitingroom.models import WaitingRoom
from waitingroom.services.admission import room_tick, rooms_tick
from waitingroom.services.queue import room_join, room_status

pytestmark = pytest.mark.django_db(transaction=True)


def after_grace(seconds: float = 1) -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.REDIS_RETIRE_GRACE_SECONDS + seconds)


def gate_keys_present(campaign_id: int, client) -> list[str]:
    """The campaign's keys that exist, by name (the rate buckets aside: they expire on their own)."""
    keys = GateKeys.of(campaign_id)
    names = ("meta", "next", "free", "holders", "leases", "seats", "seat_holder", "fence", "seat_holds")
    names += ("seat_session", "doorbell", "stats", "provisional")
    return [name for name in names if client.exists(getattr(keys, name))]


@dataclass
class Drop:
    campaign: Campaign
    room: WaitingRoom | None
    winners: list[User]
    losers: list[User]


def sold_out_drop(users: list[User], *, quantity: int, with_room: bool = True) -> Drop:
    """A drop run to its end: `users` join the room, the first `quantity` are admitted and claim,
    every grant is delivered, the room closes sold out; the rest are left in the queue."""
    campaign = published_campaign(quantity=quantity)
    room = None
    winners = users[:quantity]
    if with_room:
        room = published_room(campaign=campaign, max_active=quantity, admit_rate=quantity)
        for user in users:
            room_join(room_id=room.pk, user_id=user.pk)
        room_tick(room=room)
        for user in winners:
            claim_create(campaign_id=campaign.pk, user_id=user.pk, access_pass=admitted_pass(room, user.pk))
    else:
        for user in winners:
            claim_create(campaign_id=campaign.pk, user_id=user.pk)
    grant_drain(campaign_id=campaign.pk)
    assert Grant.objects.filter(campaign=campaign, status=Grant.Status.SUCCEEDED).count() == quantity
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SOLD_OUT
    if room is not None:
        room_tick(room=room)  # the stock is gone: the room closes, sold out
        room.refresh_from_db()
        assert (room.status, room.closed_reason) == (WaitingRoom.Status.CLOSED, WaitingRoom.ClosedReason.SOLD_OUT)
    return Drop(campaign=campaign, room=room, winners=winners, losers=users[quantity:])


def test_a_sold_out_drop_leaves_a_tombstone_and_late_clicks_are_answered_from_it(redis_clean):
    # given: a drop of 3 behind a room with 8 people in line, sold out and delivered
    users = UserFactory.create_batch(8)
    drop = sold_out_drop(users, quantity=3)
    assert room_redis.counts(room_id=drop.room.pk)[0] == 5  # the 5 left in line stay in Redis

    # when: the grace has not passed, nothing is retired; once it has, the drop is
    assert campaigns_retire(now=timezone.now()) == []
    retired = campaigns_retire(now=after_grace())

    # then: only the gate's tombstone and the room's stay
    assert [(r.campaign, r.ended, r.queued_dropped) for r in retired] == [(drop.campaign.slug, "sold_out", 5)]
    assert gate_keys_present(drop.campaign.pk, redis_clean) == ["meta"]
    assert [k for k in room_redis.RoomKeys.of(drop.room.pk).all() if redis_clean.exists(k)] == [
        room_redis.RoomKeys.of(drop.room.pk).meta
    ]
    drop.campaign.refresh_from_db()
    drop.room.refresh_from_db()
    assert drop.campaign.gate_retired_at is not None and drop.room.retired_at is not None
    assert gate.remaining(campaign_id=drop.campaign.pk) == 0

    # a winner's late click names their grant (from PostgreSQL), a loser's is 409 sold_out
    grants_before = Grant.objects.count()
    winner = bearer_for(drop.winners[0]).post(claim_url(drop.campaign))
    assert winner.status_code == 200, winner.content
    mine = Grant.objects.get(campaign=drop.campaign, user=drop.winners[0])
    assert winner.json()["grant_id"] == str(mine.pk) and winner.json()["duplicate"] is True
    assert_error(bearer_for(drop.losers[0]).post(claim_url(drop.campaign)), 409, "sold_out")
    assert_error(bearer_for(UserFactory()).post(claim_url(drop.campaign)), 409, "sold_out")
    # the room answers a late join "sold out" and a late poll "absent", without rebuilding its queue
    assert_error(bearer_for(drop.losers[1]).post(f"/api/v1/rooms/{drop.room.slug}/join/"), 409, "sold_out")
    assert room_status(room=drop.room, user_id=drop.losers[1].pk).outcome == "absent"
    assert Grant.objects.count() == grants_before
    assert gate_keys_present(drop.campaign.pk, redis_clean) == ["meta"]  # no counters grew back
    assert room_redis.counts(room_id=drop.room.pk) == (0, 0)


@pytest.mark.parametrize("ending", ["closed", "cancelled"])
def test_a_closed_or_cancelled_campaign_answers_its_ending_after_retirement(ending):
    campaign = published_campaign(quantity=5)
    winner = UserFactory()
    claim_create(campaign_id=campaign.pk, user_id=winner.pk)
    grant_drain(campaign_id=campaign.pk)
    (campaign_close if ending == "closed" else campaign_cancel)(campaign=campaign)

    assert [r.ended for r in campaigns_retire(now=after_grace())] == [ending]

    assert gate.remaining(campaign_id=campaign.pk) == 4
    assert_error(bearer_for(UserFactory()).post(claim_url(campaign)), 409, ending)
    assert bearer_for(winner).post(claim_url(campaign)).status_code == 200


def test_a_sell_out_retired_before_its_window_ends_answers_closed_after_it():
    campaign = published_campaign(quantity=1)
    claim_create(campaign_id=campaign.pk, user_id=UserFactory().pk)
    grant_drain(campaign_id=campaign.pk)
    campaign_retire(campaign_id=campaign.pk, now=after_grace())
    loser = UserFactory()
    closes_ms = int(campaign.closes_at.timestamp() * 1000)

    with pytest.raises(Exception) as before:
        claim_create(campaign_id=campaign.pk, user_id=loser.pk, now_ms=closes_ms - 1)
    with pytest.raises(Exception) as after:
        claim_create(campaign_id=campaign.pk, user_id=loser.pk, now_ms=closes_ms)
    assert (before.value.code, after.value.code) == ("sold_out", "closed")


def test_nothing_is_retired_while_a_grant_is_pending_a_room_is_open_or_the_grace_runs():
    # a sold-out drop whose grants are not delivered yet
    pending = published_campaign(quantity=1)
    claim_create(campaign_id=pending.pk, user_id=UserFactory().pk)
    # a closed drop whose room is still open
    with_open_room = published_campaign(quantity=5)
    room = published_room(campaign=with_open_room)
    campaign_close(campaign=with_open_room)
    # a drop closed just now
    fresh = published_campaign(quantity=5)
    campaign_close(campaign=fresh)
    # an open drop
    published_campaign(quantity=5)

    # within the grace nothing goes; past it only the drop that ended with nothing in the way
    assert campaigns_retire(now=timezone.now()) == []
    assert [r.campaign for r in campaigns_retire(now=after_grace())] == [fresh.slug]
    assert set(Campaign.objects.filter(gate_retired_at__isnull=False).values_list("slug", flat=True)) == {fresh.slug}
    room.refresh_from_db()
    assert room.retired_at is None

    # once delivered, the sell-out retires; the closed one once its room closed (the tick closes it)
    grant_drain(campaign_id=pending.pk)
    room_tick(room=room)
    room.refresh_from_db()
    assert room.status == WaitingRoom.Status.CLOSED
    retired = {r.campaign for r in campaigns_retire(now=after_grace())}
    assert retired == {pending.slug, with_open_room.slug}


def test_a_grant_settled_within_the_grace_delays_retirement():
    campaign = published_campaign(quantity=1)
    claim_create(campaign_id=campaign.pk, user_id=UserFactory().pk)
    Campaign.objects.filter(pk=campaign.pk).update(updated_at=timezone.now() - timedelta(days=1))
    grant_drain(campaign_id=campaign.pk)  # settles now: the grace counts from this

    assert campaigns_retire(now=timezone.now() + timedelta(seconds=settings.REDIS_RETIRE_GRACE_SECONDS - 5)) == []
    assert len(campaigns_retire(now=after_grace(5))) == 1


def test_no_self_healing_path_resurrects_a_retired_gate(redis_clean):
    # given: a retired sell-out (first-free, so the periodic heal would look at it) and a retired closed drop
    users = UserFactory.create_batch(4)
    drop = sold_out_drop(users, quantity=2, with_room=False)
    closed = published_campaign(quantity=3)
    campaign_close(campaign=closed)
    assert len(campaigns_retire(now=after_grace())) == 2

    def only_tombstones() -> None:
        for campaign in (drop.campaign, closed):
            assert gate_keys_present(campaign.pk, redis_clean) == ["meta"]
            assert gate.is_retired(campaign_id=campaign.pk)

    # when: every path that repairs or republishes a gate runs
    assert campaign_gates_heal() == 0
    campaign_status_refresh()
    report = campaign_reconcile(campaign=drop.campaign, fix=True)
    assert (report.retired, report.drifted, report.fixed) == (True, False, False)
    gate_meta_publish(campaign=closed)
    assert campaign_gate_rebuild(campaign_id=drop.campaign.pk, force=True) is False
    # then: still tombstones
    only_tombstones()

    # when: Redis loses everything, and late clicks, a status tick and a heal come
    redis_flush()
    assert_error(bearer_for(UserFactory()).post(claim_url(drop.campaign)), 409, "sold_out")
    assert bearer_for(drop.winners[1]).post(claim_url(drop.campaign)).status_code == 200
    campaign_status_refresh()
    campaign_gates_heal()
    gate_meta_publish(campaign=closed)
    # then: the tombstones came back, not the gates
    only_tombstones()
    assert gate.remaining(campaign_id=drop.campaign.pk) == 0 and gate.remaining(campaign_id=closed.pk) == 3
    # and a cancel after retirement updates the tombstone's answer only
    campaign_cancel(campaign=closed)
    assert_error(bearer_for(UserFactory()).post(claim_url(closed)), 409, "cancelled")
    only_tombstones()


def test_a_retired_room_is_never_ticked_reopened_or_refilled(redis_clean):
    users = UserFactory.create_batch(5)
    drop = sold_out_drop(users, quantity=2)
    campaigns_retire(now=after_grace())
    room_meta = room_redis.RoomKeys.of(drop.room.pk).meta
    tombstone = redis_clean.hgetall(room_meta)

    rooms_tick()
    redis_flush()
    room_status(room=drop.room, user_id=drop.losers[0].pk)  # a poll after the flush republishes the meta

    assert redis_clean.hgetall(room_meta) == tombstone
    assert room_redis.counts(room_id=drop.room.pk) == (0, 0)


# What a retired drop leaves, measured: its two tombstones (the gate's meta hash and the room's,
# 232 B each here) and its member in the shared hashes and sorted sets that outlive drops by design
# (the slug map, the all-time leaderboards): ~535 B in all. 1 KiB a drop leaves room for allocator
# rounding on any Redis version.
TOMBSTONE_MARGIN_BYTES = 1024


def run_memory(client) -> tuple[int, list[int]]:
    """This run's Redis memory by MEMORY USAGE, over every key of its prefix but the broker's queues:
    the bytes of keys with no expiry, and the remaining TTLs (ms) of those that expire on their own,
    but the leaderboards' periods (`{rank}:...:d:` and `:w:`, kept for days by design: ranking app)."""
    prefix = settings.REDIS_KEY_PREFIX + ":"
    broker = settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    persistent, expiring = 0, []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        if key.decode().startswith(broker):
            continue
        ttl = client.pttl(key)
        if ttl == -2:
            continue  # expired between the scan and now
        if ttl == -1:
            persistent += client.memory_usage(key, samples=0) or 0
        elif b"{rank}:" not in key:
            expiring.append(ttl)
    return persistent, expiring


def test_thirty_drops_back_to_back_leave_redis_at_its_baseline_once_retired(redis_clean):
    # given: 30 people, and this run's Redis memory before any drop
    users = UserFactory.create_batch(30)
    baseline, _ = run_memory(redis_clean)

    # when: 30 drops of 10 run back to back, each with all 30 in line (20 left waiting at the end)
    drops = [sold_out_drop(users, quantity=10) for _ in range(30)]
    peak, _ = run_memory(redis_clean)
    retired = campaigns_retire(now=after_grace())
    after, expiring = run_memory(redis_clean)

    # then: every drop retired, and what stays is at most a tombstone per drop
    assert len(retired) == 30 and sum(r.queued_dropped for r in retired) == 30 * 20
    assert Grant.objects.filter(status=Grant.Status.SUCCEEDED).count() == 300
    grown = after - baseline
    print(f"baseline {baseline} B, peak {peak} B, after retirement {after} B: {grown / 30:.0f} B per retired drop")
    assert grown <= 30 * TOMBSTONE_MARGIN_BYTES, (baseline, peak, after)
    # drops of 10 claims and 20 left in line: retiring gave back more than 80% of what they took
    assert peak - after >= 0.8 * (peak - baseline), (baseline, peak, after)
    # the keys left with an expiry are rate-limit buckets: full again (and gone) within 10 s
    assert all(ttl <= 10_000 for ttl in expiring), expiring
    for drop in drops:
        assert gate_keys_present(drop.campaign.pk, redis_clean) == ["meta"]


def test_a_retired_seat_campaign_refuses_holds_and_still_answers_a_repeated_confirm(redis_clean):
    # given: a seat campaign with one seat sold, closed and retired
    campaign = seat_campaign()
    buyer = funded_user()
    hold = seat_hold(campaign_id=campaign.pk, user_id=buyer.pk, slot=3)
    sale = seat_confirm(campaign_id=campaign.pk, user_id=buyer.pk, slot=3, token=hold.token)
    campaign_close(campaign=campaign)
    assert [r.ended for r in campaigns_retire(now=after_grace())] == ["closed"]
    assert gate_keys_present(campaign.pk, redis_clean) == ["meta"]

    # then: a hold is 409 closed, the map still shows the sold seat, a repeated confirm names the sale
    with pytest.raises(Exception) as refused:
        seat_hold(campaign_id=campaign.pk, user_id=funded_user().pk, slot=4)
    assert refused.value.code == "closed"
    assert [view.state for view in seat_map(campaign_id=campaign.pk, user_id=None)].count("sold") == 1
    again = seat_confirm(campaign_id=campaign.pk, user_id=buyer.pk, slot=3, token=hold.token)
    assert (again.created, again.grant.pk) == (False, sale.grant.pk)
    assert gate_keys_present(campaign.pk, redis_clean) == ["meta"]
