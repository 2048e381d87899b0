"""The rolling last 24 hours on real Redis and PostgreSQL: the window rule on an injected clock, the
merge of hour buckets, their TTLs, rebuild and snapshots; seat sales on the boards."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from coupons.models import Campaign
from coupons.seats.services import seat_confirm, seat_hold, seat_map_generate
from coupons.services.campaigns import campaign_publish
from coupons.services.claims import claim_create
from coupons.services.grants import grant_transfer
from ranking import periods, services
from ranking import redis as rank_redis
from ranking.models import Board, BoardSnapshot
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CampaignFactory, funded_user, published_campaign
from tests.isolation import redis_flush

pytestmark = pytest.mark.django_db(transaction=True)


def rolling_board(**fields) -> Board:
    defaults = {"slug": "rolling", "title": "Rolling", "metric": "claims", "rolling_24h": True}
    Board.objects.filter(slug=fields.get("slug", "rolling")).delete()  # a data migration's board, if still there
    board = Board.objects.create(**{**defaults, "daily": False, "weekly": False, "all_time": False, **fields})
    services.boards_forget()
    return board


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def last_24h(board, now):
    return [(r.member, r.value) for r in services.board_top(board=board, key="24h", now=now)]


def test_a_claim_23_h_59_min_ago_counts_and_one_24_h_01_min_ago_does_not():
    # given the clock at 14:59:30 UTC: the window is the buckets of 15:00 yesterday .. 14:00 today
    board = rolling_board()
    now = utc("2026-11-22 14:59:30")
    services.event_record(metric="claims", member="inside", at=now - timedelta(hours=23, minutes=59), now=now)
    services.event_record(metric="claims", member="outside", at=now - timedelta(hours=24, minutes=1), now=now)
    # then
    assert last_24h(board, now) == [("inside", 1)]


def test_the_window_is_the_current_hour_bucket_and_the_23_before_it_whole_in_or_whole_out():
    board = rolling_board()
    now = utc("2026-11-22 14:00:00")
    assert periods.rolling_buckets(now)[0] == "h:2026112214" and periods.rolling_buckets(now)[-1] == "h:2026112115"
    services.event_record(metric="claims", member="first-second", at=utc("2026-11-21 15:00:00"), now=now)
    services.event_record(metric="claims", member="last-second", at=utc("2026-11-21 14:59:59"), now=now)
    services.event_record(metric="claims", member="now", at=now, now=now)
    # an hour bucket is whole-in or whole-out: 23 h ago counts, 23 h 00 min 01 s ago is yesterday's 14:00 bucket
    assert sorted(last_24h(board, now)) == [("first-second", 1), ("now", 1)]
    # so an event between 23 and 24 hours old counts only while the clock's minutes are past its own:
    # at 14:00:30, a claim 23 h 59 min old (14:01:30 yesterday) is out already
    later = now + timedelta(seconds=30)
    services.event_record(metric="claims", member="23h59", at=later - timedelta(hours=23, minutes=59), now=later)
    assert "23h59" not in dict(last_24h(board, later))
    # and at 00:01 local time (Seoul) the board still shows the evening before: it never empties at midnight
    just_after_midnight = timezone.make_aware(datetime(2026, 11, 23, 0, 1))
    assert dict(last_24h(board, just_after_midnight)).get("now") == 1


def test_buckets_are_summed_with_the_latest_time_as_tie_break_and_a_new_event_shows_at_once():
    board = rolling_board()
    now = utc("2026-11-22 14:30:00")
    services.event_record(metric="claims", member="a", at=utc("2026-11-22 10:00:00"), amount=3, now=now)
    services.event_record(metric="claims", member="b", at=utc("2026-11-22 09:00:00"), amount=2, now=now)
    services.event_record(metric="claims", member="b", at=utc("2026-11-22 12:00:00"), amount=1, now=now)
    # both have 3; a reached 3 at 10:00, b at 12:00: a ranks first, both rank 1 (competition)
    assert [(r.rank, r.member, r.value) for r in services.board_top(board=board, key="24h", now=now)] == [
        (1, "a", 3),
        (1, "b", 3),
    ]
    # the merge is kept for reads, and every record drops it: the next read sees the new claim
    services.event_record(metric="claims", member="b", at=now, now=now)
    assert last_24h(board, now) == [("b", 4), ("a", 3)]
    standing = services.member_standing(board=board, key="24h", member="a", now=now)
    assert (standing.entry.rank, standing.size) == (2, 2)


def test_each_hour_bucket_expires_an_hour_after_it_leaves_the_window(redis_clean):
    rolling_board()
    now = timezone.now()
    services.event_record(metric="claims", member="x", at=now, now=now)
    ttl = redis_clean.ttl(rank_redis.board_key("rolling", periods.hour_key(now)))
    # the bucket of this hour is read until the top of the hour 24 h after its start, kept one hour more
    hour_end = periods.hour_start(now) + timedelta(hours=1)
    expected = (hour_end + timedelta(hours=24) - now).total_seconds()
    assert expected - 5 <= ttl <= expected + 1
    assert 24 * 3600 <= ttl <= 25 * 3600


def test_rolling_buckets_rebuild_from_the_grants_with_the_same_scores_and_snapshots_keep_them(redis_clean):
    board = rolling_board(slug="hottest", daily=True)
    campaign = published_campaign(quantity=3)
    for user in UserFactory.create_batch(3):
        outcome = claim_create(campaign_id=campaign.pk, user_id=user.pk)
        grant_transfer(grant_id=outcome.grant_id, final_attempt=False)
    pattern = rank_redis.board_key("hottest", "h:*")
    live = {k: redis_clean.zrange(k, 0, -1, withscores=True) for k in redis_clean.scan_iter(match=pattern)}
    assert last_24h(board, timezone.now()) == [(str(campaign.pk), 3)]
    redis_flush()
    assert last_24h(board, timezone.now()) == []
    services.board_rebuild(board=board)
    rebuilt = {k: redis_clean.zrange(k, 0, -1, withscores=True) for k in redis_clean.scan_iter(match=pattern)}
    assert rebuilt == live and len(live) == 1
    assert last_24h(board, timezone.now()) == [(str(campaign.pk), 3)]
    # snapshots keep the rolling period under "24h", like "all"
    assert services.boards_snapshot() == 2
    snapshot = BoardSnapshot.objects.get(board=board, period_key="24h")
    assert snapshot.entries[0]["value"] == 3


def test_a_seat_sale_counts_as_a_claim_and_a_person_served(redis_clean):
    hottest = rolling_board(slug="hottest", all_time=True)
    Board.objects.filter(slug="most-served").delete()
    served = Board.objects.create(slug="most-served", title="Served", metric="users_served", daily=False, weekly=False)
    services.boards_forget()
    concert = CampaignFactory(quantity=1, amount=0, title="Concert")
    seat_map_generate(campaign=concert, rows="A:50000", seats_per_row=2)
    campaign_publish(campaign=Campaign.objects.get(pk=concert.pk))
    shopper = funded_user(100_000)
    hold = seat_hold(campaign_id=concert.pk, user_id=shopper.pk, slot=1)
    seat_confirm(campaign_id=concert.pk, user_id=shopper.pk, slot=1, token=hold.token)
    # a repeat of the confirm (a lost answer) is the same sale and counts nothing more
    seat_confirm(campaign_id=concert.pk, user_id=shopper.pk, slot=1, token=hold.token)
    member = str(concert.pk)
    assert last_24h(hottest, timezone.now()) == [(member, 1)]
    assert [(r.member, r.value) for r in services.board_top(board=hottest, key="all")] == [(member, 1)]
    assert [(r.member, r.value) for r in services.board_top(board=served, key="all")] == [(member, 1)]
    # and a rebuild from PostgreSQL (settled grants) agrees with the live count
    before = {k: redis_clean.zrange(k, 0, -1, withscores=True) for k in redis_clean.scan_iter(match="*{rank}*")}
    redis_flush()
    for board in (hottest, served):
        services.board_rebuild(board=board)
    after = {k: redis_clean.zrange(k, 0, -1, withscores=True) for k in redis_clean.scan_iter(match="*{rank}*")}
    assert {k: v for k, v in after.items() if ":24h:" not in k.decode()} == {
        k: v for k, v in before.items() if ":24h:" not in k.decode()
    }


def test_the_api_serves_the_last_24_hours_with_units(api_client):
    board = rolling_board(slug="hottest", title="Hottest")
    services.event_record(metric="claims", member="7", at=timezone.now(), amount=2)
    listed = {b["slug"]: b for b in api_client.get("/api/v1/rankings/").json()}
    assert listed["hottest"]["periods"] == ["24h"] and listed["hottest"]["unit"] == "claims"
    body = api_client.get("/api/v1/rankings/hottest/?period=24h").json()
    assert (body["period_key"], body["unit"]) == ("24h", "claims")
    assert [(e["member"], e["value"], e["value_text"]) for e in body["entries"]] == [("7", 2, "2 claims")]
    korean = api_client.get("/api/v1/rankings/hottest/?period=24h", HTTP_ACCEPT_LANGUAGE="ko").json()
    assert korean["entries"][0]["value_text"] == "2건"
    member = api_client.get("/api/v1/rankings/hottest/members/7/?period=24h").json()
    assert (member["entry"]["rank"], member["unit"]) == (1, "claims")
    refused = api_client.get("/api/v1/rankings/hottest/?period=24h&date=2026-11-22")
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid")
    assert api_client.get(f"/api/v1/rankings/{board.slug}/?period=d").status_code == 400  # not a period it keeps
