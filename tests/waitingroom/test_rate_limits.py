"""Token buckets on room join: per user, per IP, refill, overrides, a rebuild after a flush."""

import time

import pytest

from config.ratelimit import RateLimited
from tests.accounts.factories import UserFactory
from tests.coupons.test_claim import bearer_for
from tests.coupons.test_rate_limits import SLOW, assert_rate_limited
from tests.isolation import redis_flush
from tests.waitingroom.factories import published_room
from waitingroom import redis as room_redis
from waitingroom.models import WaitingRoom
from waitingroom.services.queue import room_join
from waitingroom.services.rooms import room_publish

pytestmark = pytest.mark.django_db(transaction=True)


def join_url(room) -> str:
    return f"/api/v1/rooms/{room.slug}/join/"


def test_join_per_user_limit_429_and_no_queue_entry(django_assert_num_queries):
    room = published_room(rate_user_burst=2, rate_user_per_second=SLOW, rate_ip_burst=0)
    client = bearer_for(UserFactory())
    # a join and a re-join (a reload) keep the place; then a script hammering is refused
    assert [client.post(join_url(room)).json()["position"] for _ in range(2)] == [1, 1]
    with django_assert_num_queries(0):
        assert_rate_limited(client.post(join_url(room)), retry_after=1000)
    assert room_redis.counts(room_id=room.pk) == (1, 0)
    # per user: the next person joins behind
    assert bearer_for(UserFactory()).post(join_url(room)).json()["position"] == 2


def test_join_refused_by_its_limit_adds_no_one_to_the_queue():
    room = published_room(rate_user_burst=0, rate_ip_burst=1, rate_ip_per_second=SLOW)
    assert bearer_for(UserFactory()).post(join_url(room), REMOTE_ADDR="203.0.113.5").status_code == 200
    assert_rate_limited(bearer_for(UserFactory()).post(join_url(room), REMOTE_ADDR="203.0.113.5"), retry_after=1000)
    assert room_redis.counts(room_id=room.pk) == (1, 0), "the refused user was queued"
    assert bearer_for(UserFactory()).post(join_url(room), REMOTE_ADDR="203.0.113.6").status_code == 200


def test_join_x_forwarded_for_counts_only_from_a_trusted_proxy(settings):
    room = published_room(rate_user_burst=0, rate_ip_burst=1, rate_ip_per_second=SLOW)
    assert bearer_for(UserFactory()).post(join_url(room), HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 200
    spoofed = bearer_for(UserFactory()).post(join_url(room), HTTP_X_FORWARDED_FOR="192.0.2.2")
    assert_rate_limited(spoofed, retry_after=1000)
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert bearer_for(UserFactory()).post(join_url(room), HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 200


def test_join_bucket_refills_as_time_moves():
    room = published_room(rate_user_burst=1, rate_user_per_second=SLOW)
    user = UserFactory()
    t0 = int(time.time() * 1000)
    room_join(room_id=room.pk, user_id=user.pk, now_ms=t0, client_ip="192.0.2.9")
    with pytest.raises(RateLimited) as refused:
        room_join(room_id=room.pk, user_id=user.pk, now_ms=t0 + 250_000, client_ip="192.0.2.9")
    assert refused.value.headers == {"Retry-After": "750"}
    assert room_join(room_id=room.pk, user_id=user.pk, now_ms=t0 + 1_000_000).position == 1


def test_join_limits_default_from_settings_and_room_values_override_them(settings):
    settings.RATE_LIMIT_USER_BURST, settings.RATE_LIMIT_USER_PER_SECOND = 1, SLOW
    defaults, own = published_room(), published_room(rate_user_burst=3)
    client = bearer_for(UserFactory())
    assert [client.post(join_url(defaults)).status_code for _ in range(4)] == [200, 429, 429, 429]
    assert [client.post(join_url(own)).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_status_polls_spend_no_join_tokens():
    room = published_room(rate_user_burst=1, rate_user_per_second=SLOW)
    client = bearer_for(UserFactory())
    assert client.post(join_url(room)).status_code == 200
    assert all(client.get(f"/api/v1/rooms/{room.slug}/status/").status_code == 200 for _ in range(10))


def test_a_flushed_room_gets_its_limits_back(redis_clean):
    room = published_room(rate_user_burst=1, rate_user_per_second=SLOW, rate_ip_burst=0)
    published = room_redis.meta_get(room_id=room.pk)
    assert (published["rl_user_burst"], published["rl_ip_burst"]) == ("1", "0")
    redis_flush()
    client = bearer_for(UserFactory())
    assert client.post(join_url(room)).status_code == 200  # republishes the meta from PostgreSQL
    meta = room_redis.meta_get(room_id=room.pk)
    assert {k: v for k, v in meta.items() if k.startswith("rl_")} == {
        k: v for k, v in published.items() if k.startswith("rl_")
    }
    assert_rate_limited(client.post(join_url(room)), retry_after=1000)


def test_the_room_admin_shows_the_limits_and_a_change_reaches_redis(admin_client):
    room = published_room()
    page = admin_client.get(f"/admin/waitingroom/waitingroom/{room.pk}/change/").content.decode()
    assert "Rate limits" in page and 'name="rate_user_burst"' in page
    WaitingRoom.objects.filter(pk=room.pk).update(rate_ip_burst=0)
    room_publish(room=WaitingRoom.objects.get(pk=room.pk))  # what the admin's save does
    assert room_redis.meta_get(room_id=room.pk)["rl_ip_burst"] == "0"
