"""The most-viewed board's beacon on real Redis and PostgreSQL: sampling and its estimator, the
once-a-minute rule per visitor, hostile bodies, rate limits, and what one beacon costs."""

import json
import random
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from redis import Redis

from coupons.models import Campaign
from ranking import page_views, periods, services
from ranking import redis as rank_redis
from ranking.models import Board
from tests.coupons.factories import CampaignFactory, published_campaign
from tests.ranking.factories import views_board

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/views/"
VISITOR = "visitor-0001"


@pytest.fixture(autouse=True)
def fresh_viewable_cache():
    page_views.viewable_forget()
    yield
    page_views.viewable_forget()


@pytest.fixture
def viewed(settings, redis_clean):
    """The most-viewed board, every view sent (p = 1), and a listed open drop."""
    settings.VIEW_BEACON_SAMPLE_RATE = 1.0
    Board.objects.all().delete()  # the first transactional test may still see the data migration's boards
    board = views_board()
    return board, published_campaign(slug="drop", title="Drop")


def views(board) -> list[tuple[str, int]]:
    return [(r.member, r.value) for r in services.board_top(board=board, key="24h")]


def beacon(api_client, body, content_type="application/json", **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return api_client.generic("POST", URL, data, content_type=content_type, **extra)


def test_a_view_counts_once_a_minute_per_visitor_and_drop(api_client, viewed, settings):
    board, drop = viewed
    other = published_campaign(slug="other", title="Other")
    first = beacon(api_client, {"campaign": "drop", "visitor": VISITOR})
    assert first.status_code == 202 and first.json() == {"counted": True, "views": 1}
    # the same visitor again within the minute: one view
    assert beacon(api_client, {"campaign": "drop", "visitor": VISITOR}).json() == {"counted": False, "views": 0}
    # another visitor, or the same visitor on another drop, counts
    assert beacon(api_client, {"campaign": "drop", "visitor": "visitor-0002"}).json()["views"] == 2
    assert beacon(api_client, {"campaign": "other", "visitor": VISITOR}).json()["counted"] is True
    assert views(board) == [(str(drop.pk), 2), (str(other.pk), 1)]
    # the visitor's mark lives VIEW_DEDUP_SECONDS (60 by default); once it is gone the visitor counts again
    settings.VIEW_DEDUP_SECONDS = 1
    beacon(api_client, {"campaign": "drop", "visitor": "visitor-0003"})
    time.sleep(1.1)
    assert beacon(api_client, {"campaign": "drop", "visitor": "visitor-0003"}).json()["counted"] is True
    assert views(board)[0] == (str(drop.pk), 4)


def test_sendbeacon_text_plain_bodies_count_and_each_beacon_adds_1_over_p(api_client, viewed, settings):
    board, drop = viewed
    settings.VIEW_BEACON_SAMPLE_RATE = 0.1
    body = json.dumps({"campaign": "drop", "visitor": VISITOR})
    response = beacon(api_client, body, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 202 and response.json() == {"counted": True, "views": 10}
    assert views(board) == [(str(drop.pk), 10)]


def test_views_per_beacon_is_an_unbiased_whole_number():
    assert page_views.views_per_beacon(0.1) == 10
    assert page_views.views_per_beacon(1.0) == 1
    # 1/0.3 = 3.33…: 4 with probability 1/3, else 3
    assert page_views.views_per_beacon(0.3, draw=lambda: 0.0) == 4
    assert page_views.views_per_beacon(0.3, draw=lambda: 0.5) == 3
    rng = random.Random(7)
    draws = [page_views.views_per_beacon(0.3, draw=rng.random) for _ in range(30_000)]
    assert abs(sum(draws) / len(draws) - 1 / 0.3) < 0.02


def test_the_sampled_estimate_of_views_is_unbiased_within_its_stated_error():
    """The page's rule (static/js/beacon.js): each visitor draws a lot once and sends every view iff
    lot < p; the server adds 1/p per counted beacon. Over visitors the estimate's expectation is the
    true count of once-a-minute views; its standard error is sqrt((1 - p) / p × Σ views_i²)."""
    rng = random.Random(19)
    p = 0.1
    visitors = [rng.choice((1, 1, 1, 2, 3)) for _ in range(20_000)]  # each visitor's once-a-minute views
    true = sum(visitors)
    estimates = []
    for _ in range(20):
        estimates.append(sum(n * page_views.views_per_beacon(p) for n in visitors if rng.random() < p))
    error = ((1 - p) / p * sum(n * n for n in visitors)) ** 0.5
    mean = sum(estimates) / len(estimates)
    assert abs(mean - true) < 3 * error / len(estimates) ** 0.5
    assert all(abs(e - true) < 4 * error for e in estimates)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("not json", "application/json", 400, "parse_error"),
        ("not json", "text/plain", 400, "parse_error"),
        ("[1, 2]", "application/json", 400, "invalid"),
        ({"campaign": "drop"}, "application/json", 400, "invalid"),
        ({"campaign": "drop", "visitor": "short"}, "application/json", 400, "invalid"),
        ({"campaign": "drop", "visitor": "x" * 65}, "application/json", 400, "invalid"),
        ({"campaign": "drop", "visitor": "has spaces in it"}, "application/json", 400, "invalid"),
        ({"campaign": "../etc", "visitor": VISITOR}, "application/json", 400, "invalid"),
        ({"campaign": ["drop"], "visitor": VISITOR}, "application/json", 400, "invalid"),
        ({"campaign": "drop", "visitor": VISITOR}, "application/xml", 415, "unsupported_media_type"),
        ({"campaign": "nothing-here", "visitor": VISITOR}, "application/json", 404, "not_found"),
        ('{"campaign": "drop", "visitor": "\\ud800abcdefgh"}', "application/json", 400, "parse_error"),
        ("[" * 500 + "]" * 500, "text/plain", 400, "parse_error"),
        ('{"campaign": "drop", "visitor": "' + "x" * 5000 + '"}', "text/plain", 400, "parse_error"),
    ],
)
def test_bad_bodies_are_4xx_with_a_stable_code_and_count_nothing(api_client, viewed, body, content_type, status, code):
    board, _ = viewed
    response = beacon(api_client, body, content_type=content_type)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert views(board) == []


def test_draft_unlisted_and_cancelled_drops_are_not_counted(api_client, viewed):
    board, _ = viewed
    CampaignFactory(slug="draft")
    published_campaign(slug="unlisted", unlisted=True)
    cancelled = published_campaign(slug="cancelled")
    Campaign.objects.filter(pk=cancelled.pk).update(status=Campaign.Status.CANCELLED)
    page_views.viewable_forget()
    for slug in ("draft", "unlisted", "cancelled"):
        response = beacon(api_client, {"campaign": slug, "visitor": VISITOR})
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert views(board) == []


def test_a_client_ip_sending_too_many_beacons_hears_429_and_counts_nothing_more(api_client, viewed, settings):
    board, drop = viewed
    settings.VIEW_BEACON_RATE_IP_BURST = 3
    settings.VIEW_BEACON_RATE_IP_PER_SECOND = 0.01
    for i in range(3):
        assert beacon(api_client, {"campaign": "drop", "visitor": f"minted-{i:04d}"}).status_code == 202
    refused = beacon(api_client, {"campaign": "drop", "visitor": "minted-9999"})
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert int(refused["Retry-After"]) >= 1
    assert views(board) == [(str(drop.pk), 3)]


def test_a_beacon_is_one_redis_round_trip_and_no_database_query(api_client, viewed, monkeypatch):
    board, drop = viewed
    beacon(api_client, {"campaign": "drop", "visitor": "warm-up-01"})  # loads the script and the drops
    calls = []
    original = Redis.execute_command

    def counting(self, *args, **options):
        calls.append(args[0])
        return original(self, *args, **options)

    monkeypatch.setattr(Redis, "execute_command", counting)
    with CaptureQueriesContext(connection) as queries:
        response = beacon(api_client, {"campaign": "drop", "visitor": "counted-01"})
    assert response.status_code == 202
    assert calls == ["EVALSHA"] and len(queries) == 0
    assert views(board) == [(str(drop.pk), 2)]


def test_views_land_in_the_hour_bucket_of_the_beacon_and_leave_the_window_after_24_hours(viewed):
    board, drop = viewed
    now = timezone.now()
    page_views.view_record(campaign="drop", visitor=VISITOR, client_ip="192.0.2.1", now=now - timedelta(hours=25))
    page_views.view_record(campaign="drop", visitor="visitor-0002", client_ip="192.0.2.1", now=now)
    assert views(board) == [(str(drop.pk), 1)]
    assert rank_redis.size(key=rank_redis.board_key("most-viewed", periods.hour_key(now))) == 1
