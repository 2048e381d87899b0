"""W6: a room admits no more people than its campaign can still serve (issue 16, item 7).

Admission is capped at remaining stock − passes outstanding (admitted, not used, not
expired); a pass that expires unused or a grant that fails hands its place on. Ticks run
on the injected clock; the race between the tick's stock read and a claim is forced
with a hook in the stock provider."""

import time

import pytest

from config import redis as fc_redis
from coupons.errors import SoldOut
from coupons.models import Grant
from coupons.services.claims import claim_create
from coupons.services.grants import grant_fail
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign
from tests.waitingroom.factories import published_room
from waitingroom import protected
from waitingroom import redis as room_redis
from waitingroom.errors import PassInvalid
from waitingroom.models import WaitingRoom
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join, room_status

pytestmark = pytest.mark.django_db(transaction=True)


def active_users(room) -> set[int]:
    return {int(m) for m in fc_redis.client().zrange(room_redis.RoomKeys.of(room.pk).active, 0, -1)}


def claim(campaign, room, user_id: int, now_ms: int | None = None) -> str:
    """Claim with the user's pass; 'granted' or the error code they hear."""
    access_pass = room_status(room=room, user_id=user_id, now_ms=now_ms).access_pass
    assert access_pass, f"user {user_id} holds no pass"
    try:
        claim_create(campaign_id=campaign.pk, user_id=user_id, access_pass=access_pass, now_ms=now_ms)
    except SoldOut:
        return "sold_out"
    except PassInvalid as error:
        return error.code
    return "granted"


def room_in_front_of(quantity: int, people: int, **room_fields):
    """A campaign of `quantity` slots behind a room with `people` in line: (campaign, room, user ids, t0)."""
    campaign = published_campaign(quantity=quantity)
    room = published_room(campaign=campaign, max_active=10, **room_fields)
    users = [user.pk for user in UserFactory.create_batch(people)]
    for user_id in users:
        room_join(room_id=room.pk, user_id=user_id)
    return campaign, room, users, int(time.time() * 1000)


def test_rate_3_in_front_of_7_slots_admits_7_and_nobody_admitted_hears_sold_out():
    # given: 7 slots behind a room admitting 3 a second, 20 people in line
    campaign, room, users, t0 = room_in_front_of(7, 20, admit_rate=3, pass_ttl_seconds=60)

    # when: ticks run each second, and everyone admitted holds the pass two ticks before claiming
    admitted_at: dict[int, int] = {}
    heard: dict[int, str] = {}
    for second in range(8):
        room_tick(room=room, now_ms=t0 + second * 1000)
        for user_id in active_users(room) - admitted_at.keys():
            admitted_at[user_id] = second
        for user_id, at in admitted_at.items():
            if at == second - 2:
                heard[user_id] = claim(campaign, room, user_id)

    # then: exactly 7 admitted (3, 3, then 1), every one of them got a slot, in arrival order
    assert sorted(admitted_at.values()) == [0, 0, 0, 1, 1, 1, 2]
    assert heard == {user_id: "granted" for user_id in users[:7]}
    assert Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count() == 7
    # and everyone still waiting hears at once that it sold out, not at their turn
    room.refresh_from_db()
    assert (room.status, room.closed_reason) == (WaitingRoom.Status.CLOSED, "sold_out")
    assert room_status(room=room, user_id=users[7]).state == "sold_out"

    # when: a grant fails, its slot comes back
    failed = Grant.objects.filter(campaign=campaign, user_id=users[0]).get()
    grant_fail(grant_id=str(failed.id), reason="declined")
    room_tick(room=room, now_ms=t0 + 8000)
    room_tick(room=room, now_ms=t0 + 9000)

    # then: one person (not the rate's three) takes the place, and gets it
    assert active_users(room) == {users[7]}
    assert claim(campaign, room, users[7]) == "granted"
    assert Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count() == 7


def test_a_claim_between_the_ticks_stock_read_and_its_script_is_still_counted():
    # given: 4 slots, a room admitting 3 a second; the first tick admitted three
    campaign, room, users, t0 = room_in_front_of(4, 8, admit_rate=3)
    room_tick(room=room, now_ms=t0)
    assert active_users(room) == set(users[:3])

    # when: the next tick reads the stock (4), and before its script runs the first user claims
    # (their slot leaves the stock and their claim reports back)
    interleaved = []
    real_provider = protected.provider_register(None)

    class ProviderThenClaim:
        def stock(self, *, campaign_id: int) -> protected.CampaignStock:
            read = real_provider.stock(campaign_id=campaign_id)
            if not interleaved:
                interleaved.append((read.remaining, claim(campaign, room, users[0])))
            return read

        def pending_grants(self, *, campaign_id: int) -> int:
            return real_provider.pending_grants(campaign_id=campaign_id)

        def room_changed(self, *, campaign_id: int) -> None:
            real_provider.room_changed(campaign_id=campaign_id)

    protected.provider_register(ProviderThenClaim())
    try:
        room_tick(room=room, now_ms=t0 + 1000)
    finally:
        protected.provider_register(real_provider)

    # then: the interleaving happened, and the tick admitted one (4 slots: 1 used, 2 passes, 1 new)
    assert interleaved == [(4, "granted")]
    assert active_users(room) == set(users[1:4])
    # and every pass finds its slot
    assert [claim(campaign, room, user_id) for user_id in users[1:4]] == ["granted"] * 3
    assert Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count() == 4


def test_a_pass_that_expires_unused_hands_its_place_to_the_next_person():
    # given: 3 slots, three admitted at once; two claim, the third never does
    campaign, room, users, t0 = room_in_front_of(3, 5, admit_rate=3, pass_ttl_seconds=10)
    room_tick(room=room, now_ms=t0)
    assert [claim(campaign, room, user_id, now_ms=t0 + 100) for user_id in users[:2]] == ["granted"] * 2

    # when: ticks run while the third pass is still valid
    for second in range(1, 10):
        room_tick(room=room, now_ms=t0 + second * 1000)

    # then: nobody else is let in (the last slot is the third pass's), and nobody is told sold out
    assert active_users(room) == {users[2]}
    assert room_status(room=room, user_id=users[3], now_ms=t0 + 9000).state == "queueing"

    # when: the pass expires unused
    room_tick(room=room, now_ms=t0 + 11_000)

    # then: the next person has the place, and the slot
    assert active_users(room) == {users[3]}
    assert claim(campaign, room, users[3], now_ms=t0 + 11_100) == "granted"
    assert Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count() == 3
