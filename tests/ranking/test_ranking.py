"""Leaderboards on real Redis and PostgreSQL: ties, periods, expiry, rebuild, concurrency, events."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from coupons.models import Grant
from coupons.services.claims import claim_create
from coupons.services.grants import grant_fail, grant_transfer
from ranking import periods, services
from ranking import redis as rank_redis
from ranking.models import Board, BoardSnapshot
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign
from tests.isolation import redis_flush

pytestmark = pytest.mark.django_db(transaction=True)


def make_board(**fields) -> Board:
    defaults = {"slug": "test-board", "title": "Test", "metric": "claims"}
    board = Board.objects.create(**{**defaults, **fields})
    services.boards_forget()
    return board


def at(text: str) -> datetime:
    """A moment in the project's time zone (Asia/Seoul)."""
    return timezone.make_aware(datetime.fromisoformat(text))


def top(board, key, limit=10):
    return [(r.rank, r.member, r.value) for r in services.board_top(board=board, key=key, limit=limit)]


def test_equal_scores_are_ordered_by_who_got_there_first_competition_style():
    board = make_board(metric="claims", tie_style="competition", daily=False, weekly=False)
    moment = at("2026-11-22 10:00:00")
    services.event_record(metric="claims", member="a", at=moment, amount=5)
    services.event_record(metric="claims", member="b", at=moment + timedelta(seconds=1), amount=3)
    services.event_record(metric="claims", member="c", at=moment + timedelta(seconds=2), amount=3)
    services.event_record(metric="claims", member="d", at=moment + timedelta(seconds=3), amount=1)
    # c reaches 3 again later? no: b reached 3 first, so b ranks above c, both rank 2
    assert top(board, "all") == [(1, "a", 5), (2, "b", 3), (2, "c", 3), (4, "d", 1)]
    standing = services.member_standing(board=board, key="all", member="c", around=1)
    assert (standing.entry.rank, standing.entry.value) == (2, 3)
    assert [r.member for r in standing.around] == ["b", "c", "d"]


def test_dense_style_and_pages():
    board = make_board(metric="claims", tie_style="dense", daily=False, weekly=False)
    moment = at("2026-11-22 10:00:00")
    for i, (member, value) in enumerate([("a", 5), ("b", 3), ("c", 3), ("d", 1)]):
        services.event_record(metric="claims", member=member, at=moment + timedelta(seconds=i), amount=value)
    assert top(board, "all") == [(1, "a", 5), (2, "b", 3), (2, "c", 3), (3, "d", 1)]
    page = services.board_top(board=board, key="all", limit=2, offset=2)
    assert [(r.rank, r.member) for r in page] == [(2, "c"), (3, "d")]


def test_the_later_member_overtakes_only_by_a_higher_score():
    board = make_board(metric="claims", daily=False, weekly=False)
    moment = at("2026-11-22 10:00:00")
    services.event_record(metric="claims", member="early", at=moment)
    services.event_record(metric="claims", member="late", at=moment + timedelta(seconds=5))
    assert [m for _, m, _ in top(board, "all")] == ["early", "late"]
    services.event_record(metric="claims", member="late", at=moment + timedelta(seconds=6))
    assert [m for _, m, _ in top(board, "all")] == ["late", "early"]
    services.event_record(metric="claims", member="early", at=moment + timedelta(seconds=7))
    # both at 2: "late" reached 2 first (second 6) and ranks higher
    assert top(board, "all") == [(1, "late", 2), (1, "early", 2)]


def test_lower_is_better_boards_rank_ascending_with_ties_by_time():
    board = make_board(metric="sell_out_seconds", direction="asc", daily=False, weekly=False)
    moment = at("2026-11-22 10:00:00")
    services.event_record(metric="sell_out_seconds", member="slow", at=moment, amount=90, mode="set")
    services.event_record(
        metric="sell_out_seconds", member="fast-2", at=moment + timedelta(seconds=9), amount=12, mode="set"
    )
    services.event_record(
        metric="sell_out_seconds", member="fast-1", at=moment + timedelta(seconds=3), amount=12, mode="set"
    )
    assert top(board, "all") == [(1, "fast-1", 12), (1, "fast-2", 12), (3, "slow", 90)]


def test_events_land_in_the_right_day_and_week_across_a_year_boundary():
    board = make_board(metric="claims")
    services.event_record(metric="claims", member="x", at=at("2026-12-31 23:59:59"))
    services.event_record(metric="claims", member="x", at=at("2027-01-01 00:00:00"))
    services.event_record(metric="claims", member="x", at=at("2027-01-04 00:00:00"))  # a Monday: new ISO week
    assert top(board, "d:20261231") == [(1, "x", 1)]
    assert top(board, "d:20270101") == [(1, "x", 1)]
    assert top(board, "w:2026-W53") == [(1, "x", 2)]  # Thu 31 Dec 2026 and Fri 1 Jan 2027 share ISO week 53
    assert top(board, "w:2027-W01") == [(1, "x", 1)]
    assert top(board, "all") == [(1, "x", 3)]
    # the day boundary is local time (Asia/Seoul): 23:30 UTC on the 21st is the 22nd in Seoul
    assert periods.period_key("d", datetime(2026, 11, 21, 23, 30, tzinfo=UTC)) == "d:20261122"


def test_periodic_keys_expire_and_the_all_time_key_does_not(redis_clean):
    make_board(metric="claims")
    now = timezone.now()
    services.event_record(metric="claims", member="x", at=now)
    day_ttl = redis_clean.ttl(rank_redis.board_key("test-board", periods.period_key("d", now)))
    week_ttl = redis_clean.ttl(rank_redis.board_key("test-board", periods.period_key("w", now)))
    assert 2 * 86400 < day_ttl <= 3 * 86400
    assert 7 * 86400 < week_ttl <= 14 * 86400
    assert redis_clean.ttl(rank_redis.board_key("test-board", "all")) == -1


def test_concurrent_increments_lose_no_count():
    board = make_board(metric="claims", daily=False, weekly=False)
    moment = timezone.now()

    def hammer(member):
        for _ in range(250):
            services.event_record(metric="claims", member=member, at=moment)

    threads = [threading.Thread(target=hammer, args=(f"m{i % 4}",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v for _, _, v in top(board, "all")) == [1000, 1000, 1000, 1000]


def test_claims_successes_and_sell_outs_feed_the_boards_and_a_flush_then_rebuild_gives_them_back(redis_clean):
    # the boards of the data migration (transactional tests start from an empty table)
    hottest = make_board(slug="hottest", metric="claims")
    fastest = make_board(slug="fastest-sell-outs", metric="sell_out_seconds", direction="asc")
    served = make_board(slug="most-served", metric="users_served")
    small = published_campaign(quantity=2)
    big = published_campaign(quantity=5)
    users = UserFactory.create_batch(5)
    big_grants = [claim_create(campaign_id=big.pk, user_id=u.pk) for u in users[:3]]
    small_grants = [claim_create(campaign_id=small.pk, user_id=u.pk) for u in users[:2]]  # sells out
    # claims count when their grant settles, at the moment they were accepted
    assert top(hottest, "all") == []
    base = timezone.now()
    # settle with explicit, distinct completion times so "who got there first" is decided by time
    for offset, outcome in enumerate(big_grants[:2] + small_grants):
        Grant.objects.filter(pk=outcome.grant_id).update(created_at=base + timedelta(seconds=offset))
        grant_transfer(grant_id=outcome.grant_id, final_attempt=False)
        Grant.objects.filter(pk=outcome.grant_id).update(completed_at=base + timedelta(seconds=10 + offset))
    grant_fail(grant_id=big_grants[2].grant_id, reason="declined")
    redis_flush()  # live values were recorded with the moment of the call; rebuild from the rows
    call_command("rebuild_rankings")

    before = {b.slug: top(b, "all") for b in (hottest, fastest, served)}
    scores_before = scores_of(redis_clean, (hottest, fastest, served))
    today = periods.period_key("d", timezone.now())
    before_day = top(hottest, today)
    assert before["hottest"] == [(1, str(big.pk), 3), (2, str(small.pk), 2)]
    assert [m for _, m, _ in before["fastest-sell-outs"]] == [str(small.pk)]
    # both served 2; big's second success (base+11 s) came before small's (base+13 s)
    assert before["most-served"] == [(1, str(big.pk), 2), (1, str(small.pk), 2)]

    redis_flush()
    assert top(hottest, "all") == []
    call_command("rebuild_rankings")
    assert {b.slug: top(b, "all") for b in (hottest, fastest, served)} == before
    assert top(hottest, today) == before_day
    assert scores_of(redis_clean, (hottest, fastest, served)) == scores_before  # tie-breaks included


def scores_of(client, boards) -> dict:
    return {b.slug: client.zrange(rank_redis.board_key(b.slug, "all"), 0, -1, withscores=True) for b in boards}


def test_live_updates_and_a_rebuild_give_the_same_exact_scores(redis_clean):
    board = make_board(metric="claims")
    campaign = published_campaign(quantity=3)
    for user in UserFactory.create_batch(3):
        outcome = claim_create(campaign_id=campaign.pk, user_id=user.pk)
        grant_transfer(grant_id=outcome.grant_id, final_attempt=False)
    live = {
        k: redis_clean.zrange(k, 0, -1, withscores=True)
        for k in redis_clean.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:{{rank}}:test-board:*")
    }
    redis_flush()
    services.board_rebuild(board=board)
    rebuilt = {
        k: redis_clean.zrange(k, 0, -1, withscores=True)
        for k in redis_clean.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:{{rank}}:test-board:*")
    }
    assert rebuilt == live and len(live) == 3


def test_values_saturate_instead_of_failing():
    board = make_board(metric="sell_out_seconds", direction="asc", daily=False, weekly=False)
    services.event_record(metric="sell_out_seconds", member="slow", at=timezone.now(), amount=40 * 86400, mode="set")
    assert top(board, "all") == [(1, "slow", rank_redis.MAX_VALUE)]


def test_rebuild_skips_expired_periods_and_reports_nothing_when_in_sync(redis_clean):
    board = make_board(metric="claims")
    campaign = published_campaign(quantity=3)
    users = UserFactory.create_batch(2)
    old = claim_create(campaign_id=campaign.pk, user_id=users[0].pk)
    grant_transfer(grant_id=old.grant_id, final_attempt=False)
    Grant.objects.filter(pk=old.grant_id).update(created_at=timezone.now() - timedelta(days=10))
    fresh = claim_create(campaign_id=campaign.pk, user_id=users[1].pk)
    grant_transfer(grant_id=fresh.grant_id, final_attempt=False)
    services.board_rebuild(board=board)
    ten_days_ago = periods.period_key("d", timezone.now() - timedelta(days=10))
    assert not redis_clean.exists(rank_redis.board_key(board.slug, ten_days_ago))
    assert services.board_rebuild(board=board).differences == []


def test_snapshots_keep_history_and_the_page_charts_it(client):
    make_board(slug="chart-board", title="Chart board", metric="claims")
    t0 = timezone.now()
    services.event_record(metric="claims", member="7", at=t0)
    assert services.boards_snapshot(now=t0) >= 3
    services.event_record(metric="claims", member="7", at=t0)
    services.boards_snapshot(now=t0 + timedelta(minutes=5))
    snapshots = BoardSnapshot.objects.filter(board__slug="chart-board", period_key="all").order_by("taken_at")
    assert [s.entries[0]["value"] for s in snapshots] == [1, 2]
    html = client.get("/rankings/?period=d").content.decode()
    assert "Chart board" in html and "<polyline" in html
    assert 'data-axis-title="y"' in html and ">claims</text>" in html and "time (KST)" in html
    assert "2 claims" in html  # every value with its unit
    # an all-time count only grows: the all-time page shows the board without a chart
    html = client.get("/rankings/?period=all").content.decode()
    assert "Chart board" in html and "<polyline" not in html


def test_rankings_api(api_client):
    board = make_board(metric="claims", daily=False, weekly=False)
    moment = timezone.now()
    for member, value in (("1", 4), ("2", 2), ("3", 1)):
        services.event_record(metric="claims", member=member, at=moment, amount=value)
    assert "test-board" in [b["slug"] for b in api_client.get("/api/v1/rankings/").json()]
    body = api_client.get("/api/v1/rankings/test-board/?period=all&limit=2").json()
    assert [(e["rank"], e["member"], e["value"]) for e in body["entries"]] == [(1, "1", 4), (2, "2", 2)]
    member = api_client.get("/api/v1/rankings/test-board/members/3/").json()
    assert (member["entry"]["rank"], member["size"]) == (3, 3)
    assert api_client.get("/api/v1/rankings/test-board/?period=d").json()["code"] == "invalid"
    assert api_client.get("/api/v1/rankings/test-board/?limit=x").status_code == 400
    assert api_client.get("/api/v1/rankings/test-board/?date=2026-13-40").status_code == 400
    assert api_client.get("/api/v1/rankings/nope/").status_code == 404
    assert api_client.get("/api/v1/rankings/test-board/?offset=99999999999999999999").status_code == 400
    assert api_client.get("/api/v1/rankings/test-board/members/nobody/").status_code == 404
    board.visible = False
    board.save()
    assert api_client.get("/api/v1/rankings/test-board/").status_code == 404


def test_admin_rebuild_action_and_read_only_snapshots(client, redis_clean):
    from accounts.models import User

    board = make_board(metric="claims", daily=False, weekly=False)
    client.force_login(User.objects.create_superuser("boss", "b@example.com", "pw-for-boss-123"))
    response = client.post("/admin/ranking/board/", {"action": "rebuild", "_selected_action": [board.pk]}, follow=True)
    assert "key(s) rebuilt" in response.content.decode()
    assert client.get("/admin/ranking/boardsnapshot/add/").status_code == 403
