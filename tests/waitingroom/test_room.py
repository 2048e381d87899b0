"""The waiting room on real Redis and PostgreSQL: join, order, admission bounds, passes, silence, states."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.models import Grant
from coupons.services.claims import claim_create
from coupons.services.grants import grant_fail
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import assert_error, client_with
from tests.coupons.factories import published_campaign
from tests.isolation import redis_flush
from tests.waitingroom.factories import published_room
from waitingroom import redis as room_redis
from waitingroom.errors import PassInvalid, RoomNotOpen, RoomSoldOut
from waitingroom.models import WaitingRoom
from waitingroom.schedule import poll_interval
from waitingroom.services.admission import Pressure, room_tick, rooms_tick
from waitingroom.services.passes import pass_consume, pass_issue, pass_restore
from waitingroom.services.queue import room_join, room_status
from waitingroom.services.rooms import room_pause, room_resume, room_settings_change

pytestmark = pytest.mark.django_db(transaction=True)


def now_ms() -> int:
    return int(time.time() * 1000)


def admitted_pass(room, user_id: int) -> str:
    status = room_status(room=room, user_id=user_id)
    assert status.outcome == "admitted", status
    return status.access_pass


def test_join_is_idempotent_and_keeps_the_place():
    room = published_room()
    first, second = UserFactory.create_batch(2)
    a = room_join(room_id=room.pk, user_id=first.pk)
    b = room_join(room_id=room.pk, user_id=second.pk)
    again = room_join(room_id=room.pk, user_id=first.pk)
    assert (a.position, b.position, again.position, again.size) == (1, 2, 1, 2)
    status = room_status(room=room, user_id=second.pk)
    assert (status.outcome, status.position, status.ahead, status.size) == ("queued", 2, 1, 2)


def test_tick_admits_in_order_up_to_rate_and_max_active():
    room = published_room(admit_rate=3, max_active=4)
    users = UserFactory.create_batch(8)
    for user in users:
        room_join(room_id=room.pk, user_id=user.pk)
    t0 = now_ms()
    assert room_tick(room=room, now_ms=t0).admitted == 3
    assert room_tick(room=room, now_ms=t0 + 1000).admitted == 1  # max_active reached
    assert room_tick(room=room, now_ms=t0 + 2000).admitted == 0
    admitted = [u for u in users if room_status(room=room, user_id=u.pk).outcome == "admitted"]
    assert admitted == users[:4]
    # using a pass frees the place at once
    pass_consume(token=admitted_pass(room, users[0].pk), user_id=users[0].pk)
    assert room_tick(room=room, now_ms=t0 + 3000).admitted == 1
    assert room_status(room=room, user_id=users[4].pk).outcome == "admitted"


def test_two_ticks_in_the_same_second_admit_once():
    room = published_room(admit_rate=2, max_active=100)
    for user in UserFactory.create_batch(6):
        room_join(room_id=room.pk, user_id=user.pk)
    second = (now_ms() // 1000) * 1000
    assert room_tick(room=room, now_ms=second + 10).admitted == 2
    assert room_redis.tick(room_id=room.pk, admit=True, now_ms=second + 900).outcome == "duplicate"
    assert room_tick(room=room, now_ms=second + 1000).admitted == 2


def test_expired_actives_leave_and_free_their_place():
    room = published_room(admit_rate=5, max_active=2, pass_ttl_seconds=10)
    users = UserFactory.create_batch(3)
    for user in users:
        room_join(room_id=room.pk, user_id=user.pk)
    t0 = now_ms()
    assert room_tick(room=room, now_ms=t0).admitted == 2
    result = room_tick(room=room, now_ms=t0 + 11_000)
    assert (result.expired, result.admitted) == (2, 1)


def test_passes_forged_expired_reused_or_foreign_are_refused():
    room = published_room(admit_rate=5, max_active=5, pass_ttl_seconds=30)
    owner, other = UserFactory.create_batch(2)
    room_join(room_id=room.pk, user_id=owner.pk)
    room_tick(room=room)
    token = admitted_pass(room, owner.pk)

    with pytest.raises(PassInvalid):  # forged: signature does not match
        pass_consume(token=token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"), user_id=owner.pk)
    forged_payload = pass_issue(room_id=room.pk, user_id=owner.pk, expiry_ms=now_ms() + 10_000)
    with pytest.raises(PassInvalid):  # well signed but not this admission's expiry
        pass_consume(token=forged_payload, user_id=owner.pk)
    with pytest.raises(PassInvalid):  # someone else's
        pass_consume(token=token, user_id=other.pk)
    with pytest.raises(PassInvalid):  # expired
        pass_consume(token=token, user_id=owner.pk, now_ms=now_ms() + 31_000)
    consumed = pass_consume(token=token, user_id=owner.pk)
    assert consumed.room_id == room.pk
    with pytest.raises(PassInvalid):  # reused
        pass_consume(token=token, user_id=owner.pk)


def test_a_pass_is_consumed_once_under_50_concurrent_attempts():
    room = published_room(admit_rate=5, max_active=5)
    user = UserFactory()
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    token = admitted_pass(room, user.pk)
    outcomes = []
    barrier = threading.Barrier(50)

    def attempt():
        barrier.wait()
        try:
            pass_consume(token=token, user_id=user.pk)
            outcomes.append("ok")
        except PassInvalid:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 49


def test_silent_users_are_dropped_at_the_front_and_the_next_move_up():
    room = published_room(silence_timeout_seconds=30)
    quiet, loud = UserFactory.create_batch(2)
    t0 = now_ms()
    room_join(room_id=room.pk, user_id=quiet.pk, now_ms=t0)
    room_join(room_id=room.pk, user_id=loud.pk, now_ms=t0)
    for poll in (25_000, 50_000):  # a poll is a heartbeat
        room_status(room=room, user_id=loud.pk, now_ms=t0 + poll)
    # silent for two windows (2 x the timeout): certainly dropped; loud was heard 11 s ago
    tick = room_tick(room=room, now_ms=t0 + 61_000)
    assert (tick.dropped, tick.admitted) == (1, 1)
    assert room_status(room=room, user_id=quiet.pk, now_ms=t0 + 61_000).outcome == "absent"
    assert room_status(room=room, user_id=loud.pk, now_ms=t0 + 61_000).outcome == "admitted"


def test_a_tick_skips_a_bounded_number_of_silent_users():
    # nothing sweeps the line (far back nobody polls): the tick drops the silent at the front,
    # at most 4 x rate + 1,000 a tick, so a line of silent users never stalls Redis
    room = published_room(silence_timeout_seconds=10, admit_rate=10)
    t0 = now_ms()
    for user_id in range(1, 1301):
        room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0, now_ms=t0)
    first = room_tick(room=room, now_ms=t0 + 20_000, pressure=Pressure(pending_grants=0, latency_ms=0))
    second = room_tick(room=room, now_ms=t0 + 21_000, pressure=Pressure(pending_grants=0, latency_ms=0))
    assert (first.dropped, first.admitted, second.dropped, second.admitted) == (1040, 0, 260, 0)
    assert room_redis.counts(room_id=room.pk) == (0, 0)


def test_prequeue_shuffles_early_arrivals_and_puts_them_ahead_of_later_ones():
    opens = timezone.now() + timedelta(minutes=5)
    room = published_room(
        prequeue=True, opens_at=opens, status=WaitingRoom.Status.SCHEDULED, admit_rate=500, max_active=500
    )
    early = UserFactory.create_batch(60)
    before = int(opens.timestamp() * 1000) - 60_000
    for user in early:
        assert room_join(room_id=room.pk, user_id=user.pk, now_ms=before).outcome == "prequeued"
    assert room_status(room=room, user_id=early[0].pk, now_ms=before).outcome == "prequeued"
    late = UserFactory()
    after = int(opens.timestamp() * 1000) + 10
    assert room_join(room_id=room.pk, user_id=late.pk, now_ms=after).outcome == "queued"

    order = [int(m) for m in room_redis_order(room)]
    assert order[-1] == late.pk
    assert sorted(order[:-1]) == sorted(u.pk for u in early)
    assert order[:-1] != [u.pk for u in early], "the pre-queue kept arrival order: not shuffled"


def room_redis_order(room) -> list[str]:
    from config import redis as fc_redis

    return [m.decode() for m in fc_redis.client().zrange(room_redis.RoomKeys.of(room.pk).queue, 0, -1)]


def test_without_prequeue_early_joins_are_refused():
    room = published_room(prequeue=False, opens_at=timezone.now() + timedelta(minutes=5), status="scheduled")
    with pytest.raises(RoomNotOpen):
        room_join(room_id=room.pk, user_id=UserFactory().pk)


def test_pause_holds_admission_and_resume_restarts_it():
    room = published_room(admit_rate=5, max_active=10)
    user = UserFactory()
    room_join(room_id=room.pk, user_id=user.pk)
    room = room_pause(room=room)
    t0 = now_ms()
    assert room_tick(room=room, now_ms=t0).admitted == 0
    assert room_status(room=room, user_id=user.pk).state == "paused"
    room = room_resume(room=room)
    assert room_tick(room=room, now_ms=t0 + 1000).admitted == 1


def test_rate_change_applies_on_the_next_tick():
    room = published_room(admit_rate=1, max_active=100)
    for user in UserFactory.create_batch(10):
        room_join(room_id=room.pk, user_id=user.pk)
    t0 = now_ms()
    assert room_tick(room=room, now_ms=t0).admitted == 1
    room = room_settings_change(room=room, admit_rate=6)
    assert room_tick(room=room, now_ms=t0 + 1000).admitted == 6


def test_back_pressure_holds_admission_while_the_grant_backlog_is_high():
    campaign = published_campaign(quantity=50)
    room = published_room(campaign=campaign, admit_rate=5, max_active=50, max_pending_grants=2)
    waiting = UserFactory()
    room_join(room_id=room.pk, user_id=waiting.pk)
    t0 = now_ms()
    for user in UserFactory.create_batch(3):  # three pending grants: over the threshold of 2
        Grant.objects.create(campaign=campaign, user=user, slot=user.pk % 50 + 1)
    assert room_tick(room=room, now_ms=t0).admitted == 0
    assert room_status(room=room, user_id=waiting.pk).throttled is True
    Grant.objects.filter(campaign=campaign).update(status=Grant.Status.SUCCEEDED)
    assert room_tick(room=room, now_ms=t0 + 1000).admitted == 1


def test_back_pressure_on_store_latency():
    room = published_room(admit_rate=5, max_active=10, max_store_latency_ms=50)
    room_join(room_id=room.pk, user_id=UserFactory().pk)
    slow = Pressure(pending_grants=0, latency_ms=80.0)
    assert room_tick(room=room, pressure=slow).admitted == 0
    assert room_tick(room=room, now_ms=now_ms() + 1000).admitted == 1


def test_sold_out_stops_admission_and_tells_everyone():
    campaign = published_campaign(quantity=1)
    room = published_room(campaign=campaign, admit_rate=5, max_active=5)
    first, waiting, late = UserFactory.create_batch(3)
    room_join(room_id=room.pk, user_id=first.pk)
    room_join(room_id=room.pk, user_id=waiting.pk)
    room_tick(room=room)
    claim_create(campaign_id=campaign.pk, user_id=first.pk, access_pass=admitted_pass(room, first.pk))
    room_tick(room=room, now_ms=now_ms() + 1000)
    room.refresh_from_db()
    assert (room.status, room.closed_reason) == ("closed", "sold_out")
    assert room_status(room=room, user_id=waiting.pk).state == "sold_out"
    with pytest.raises(RoomSoldOut):
        room_join(room_id=room.pk, user_id=late.pk)


def test_claim_behind_a_room_needs_a_pass_and_uses_it(user):
    campaign = published_campaign(quantity=5)
    room = published_room(campaign=campaign, admit_rate=5, max_active=5)
    client = client_with(account_token(user))
    url = f"/api/v1/campaigns/{campaign.slug}/claims/"

    response = client.post(url)
    assert_error(response, 403, "admission_required")
    assert response.json()["room_url"] == f"/rooms/{room.slug}/"
    assert_error(client.post(url, {"access_pass": "garbage"}, format="json"), 403, "pass_invalid")

    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    token = admitted_pass(room, user.pk)
    accepted = client.post(url, {"access_pass": token}, format="json")
    assert accepted.status_code == 202, accepted.json()
    assert room_redis.counts(room_id=room.pk) == (0, 0)  # the active place freed at once
    assert client.post(url).status_code == 200  # a repeat needs no pass: it names the same grant
    assert Grant.objects.filter(campaign=campaign).count() == 1


def account_token(user) -> str:
    from accounts import services as account_services

    return account_services.api_token_issue(user=user)[0]


def test_poll_interval_grows_with_distance():
    fast = poll_interval(ahead=3, rate=10, silence_timeout=120)
    far = poll_interval(ahead=100_000, rate=10, silence_timeout=120)
    assert fast == 1 and far == 40
    assert poll_interval(ahead=100_000, rate=10, silence_timeout=30) == 10


def test_room_api_join_status_leave(user):
    room = published_room()
    client = client_with(account_token(user))
    body = client.post(f"/api/v1/rooms/{room.slug}/join/").json()
    assert (body["outcome"], body["position"], body["access_pass"]) == ("queued", 1, None)
    assert client.get(f"/api/v1/rooms/{room.slug}/status/").json()["position"] == 1
    assert client.post(f"/api/v1/rooms/{room.slug}/leave/").status_code == 204
    assert client.get(f"/api/v1/rooms/{room.slug}/status/").json()["outcome"] == "absent"
    assert_error(client.get("/api/v1/rooms/nope/status/"), 404, "not_found")
    assert_error(client.get(f"/api/v1/rooms/{room.slug}/stats/"), 403, "permission_denied")


def test_status_polls_read_the_room_from_memory_and_a_deletion_shows_at_once(user, django_assert_num_queries):
    room = published_room()
    client = client_with(account_token(user))
    client.post(f"/api/v1/rooms/{room.slug}/join/")
    with django_assert_num_queries(0):  # the join cached the row; the token needs no query either
        assert client.get(f"/api/v1/rooms/{room.slug}/status/").json()["position"] == 1
    room.delete()
    assert_error(client.get(f"/api/v1/rooms/{room.slug}/status/"), 404, "not_found")


def test_room_state_survives_a_redis_flush_of_its_settings(redis_clean):
    room = published_room(admit_rate=2)
    redis_flush()
    user = UserFactory()
    assert room_join(room_id=room.pk, user_id=user.pk).position == 1
    assert room_tick(room=room).admitted == 1


def test_a_pass_of_another_room_is_refused_and_given_back(user):
    campaign_a, campaign_b = published_campaign(), published_campaign()
    room_a = published_room(campaign=campaign_a)
    published_room(campaign=campaign_b)
    room_join(room_id=room_a.pk, user_id=user.pk)
    room_tick(room=room_a)
    token = admitted_pass(room_a, user.pk)
    client = client_with(account_token(user))
    response = client.post(f"/api/v1/campaigns/{campaign_b.slug}/claims/", {"access_pass": token}, format="json")
    assert_error(response, 403, "admission_required")
    assert not Grant.objects.exists()
    # the turn in room A is not lost
    assert (
        client.post(f"/api/v1/campaigns/{campaign_a.slug}/claims/", {"access_pass": token}, format="json").status_code
        == 202
    )


def test_a_pass_used_before_the_campaign_opens_is_given_back(user):
    campaign = published_campaign(opens_at=timezone.now() + timedelta(minutes=10))
    room = published_room(campaign=campaign)
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    token = admitted_pass(room, user.pk)
    with pytest.raises(Exception) as rejected:
        claim_create(campaign_id=campaign.pk, user_id=user.pk, access_pass=token)
    assert getattr(rejected.value, "code", None) == "not_open"
    assert room_status(room=room, user_id=user.pk).outcome == "admitted"


def test_a_second_click_with_the_used_pass_names_the_same_grant(user):
    campaign = published_campaign()
    room = published_room(campaign=campaign)
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    token = admitted_pass(room, user.pk)
    first = claim_create(campaign_id=campaign.pk, user_id=user.pk, access_pass=token)
    again = claim_create(campaign_id=campaign.pk, user_id=user.pk, access_pass=token)
    assert (again.created, again.grant_id) == (False, first.grant_id)


def test_consume_script_refuses_an_expired_admission():
    room = published_room(pass_ttl_seconds=10)
    user = UserFactory()
    room_join(room_id=room.pk, user_id=user.pk)
    t0 = now_ms()
    room_tick(room=room, now_ms=t0)
    expiry = t0 + 10_000
    assert room_redis.consume(room_id=room.pk, user_id=user.pk, expiry_ms=expiry, now_ms=expiry + 1) == -1
    assert room_redis.consume(room_id=room.pk, user_id=user.pk, expiry_ms=expiry, now_ms=t0) == 0  # gone


def test_restore_never_leaves_a_user_both_queued_and_admitted():
    room = published_room()
    user = UserFactory()
    room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    consumed = pass_consume(token=admitted_pass(room, user.pk), user_id=user.pk)
    room_join(room_id=room.pk, user_id=user.pk)  # back in line meanwhile
    pass_restore(consumed=consumed)
    assert room_redis.counts(room_id=room.pk) == (1, 0)


def test_lowering_max_active_live_stops_admission_until_actives_drain():
    room = published_room(admit_rate=10, max_active=10)
    users = UserFactory.create_batch(12)
    for user in users:
        room_join(room_id=room.pk, user_id=user.pk)
    t0 = now_ms()
    assert room_tick(room=room, now_ms=t0).admitted == 10
    room = room_settings_change(room=room, max_active=3)
    for user in users[:8]:
        pass_consume(token=admitted_pass(room, user.pk), user_id=user.pk)
    assert room_tick(room=room, now_ms=t0 + 1000).admitted == 1  # 2 active, limit 3
    assert room_redis.counts(room_id=room.pk)[1] == 3


def test_silent_users_at_the_front_are_skipped_by_the_tick():
    room = published_room(
        admit_rate=2, max_active=10, silence_timeout_seconds=30, opens_at=timezone.now() - timedelta(minutes=5)
    )
    gone, here = UserFactory.create_batch(2)
    t0 = now_ms()
    room_join(room_id=room.pk, user_id=gone.pk, now_ms=t0 - 60_000)
    room_join(room_id=room.pk, user_id=here.pk, now_ms=t0)
    result = room_tick(room=room, now_ms=t0)
    assert (result.admitted, result.dropped) == (1, 1)
    assert room_status(room=room, user_id=here.pk).outcome == "admitted"
    assert room_status(room=room, user_id=gone.pk).outcome == "absent"


def test_a_sold_out_room_reopens_when_a_slot_comes_back():
    campaign = published_campaign(quantity=1)
    room = published_room(campaign=campaign)
    first, second = UserFactory.create_batch(2)
    room_join(room_id=room.pk, user_id=first.pk)
    room_tick(room=room)
    outcome = claim_create(campaign_id=campaign.pk, user_id=first.pk, access_pass=admitted_pass(room, first.pk))
    room_join(room_id=room.pk, user_id=second.pk)
    t0 = now_ms()
    room_tick(room=room, now_ms=t0 + 1000)
    room.refresh_from_db()
    assert room.closed_reason == "sold_out"
    grant_fail(grant_id=outcome.grant_id, reason="declined")
    rooms_tick(now_ms=t0 + 2000)
    room.refresh_from_db()
    assert (room.status, room.closed_reason) == ("queueing", "")
    rooms_tick(now_ms=t0 + 3000)
    assert room_status(room=room, user_id=second.pk).outcome == "admitted"


def test_prequeue_position_stays_hidden_while_paused_before_opening():
    opens = timezone.now() + timedelta(minutes=5)
    room = published_room(prequeue=True, opens_at=opens, status=WaitingRoom.Status.SCHEDULED)
    user = UserFactory()
    room_join(room_id=room.pk, user_id=user.pk)
    room = room_pause(room=room)
    status = room_status(room=room, user_id=user.pk)
    assert (status.outcome, status.position) == ("prequeued", 0)


def test_a_zero_admission_rate_is_refused():
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        published_room(admit_rate=0)
