"""The live dashboard and /metrics: their numbers equal the database after a real spike,
only operators can read them, and the dashboard's actions work and need the change permission."""

import io
import json
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from coupons.models import Campaign, Grant
from coupons.services.claims import claim_create
from coupons.services.grants import grant_transfer
from coupons.transfers import FlakyBackend, TransientTransferError
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign
from tests.waitingroom.factories import published_room
from waitingroom.models import WaitingRoom
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import room_join

pytestmark = pytest.mark.django_db(transaction=True)


def staff_client(*permissions: str) -> Client:
    user = UserFactory(is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition, its labels in any order."""
    for line in text.splitlines():
        found = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if found and found[1] == name and dict(re.findall(r'(\w+)="([^"]*)"', found[2] or "")) == labels:
            return float(found[3])
    raise AssertionError(f"{name} {labels} not in /metrics")


@pytest.mark.load
def test_dashboard_and_metrics_equal_the_database_after_simulate_spike(web_server, worker_factory, tmp_path, settings):
    # given: a real server and worker, and a spike of 400 claims by 60 users for 25 slots
    worker_factory()
    settings.METRICS_TOKEN = "scrape-me"
    summary = tmp_path / "spike.json"
    call_command(
        "simulate_spike", "--url", web_server.extra["url"], "--campaign", "dash-spike", "--create-campaign",
        "--quantity", "25", "--users", "60", "--requests", "400", "--concurrency", "16", "--seed", "3",
        "--json", str(summary), "--drain-timeout", "90", "--no-progress", stdout=io.StringIO(),
    )  # fmt: skip
    report = json.loads(summary.read_text())
    campaign = Campaign.objects.get(slug="dash-spike")
    statuses = Counter(Grant.objects.filter(campaign=campaign).values_list("status", flat=True))

    # when: staff read the dashboard's numbers and Prometheus scrapes
    live = staff_client("view_campaign").get(f"/admin/dashboard/campaigns/{campaign.pk}/live/").json()
    scrape = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")

    # then: every claim the clients sent is counted once, by the outcome they heard
    assert live["claims"] == report["by_outcome"] and sum(live["claims"].values()) == 400
    assert live["claims"]["accepted"] == sum(statuses.values()) == campaign.quantity
    # and the grants and the stock are the database's, row for row
    assert live["grants"] == {"pending": statuses["pending"], "succeeded": statuses["succeeded"], "failed": 0}
    assert live["grants"]["succeeded"] == 25 and live["remaining"] == 0
    # and /metrics says the same
    assert scrape.status_code == 200 and scrape["Content-Type"].startswith("text/plain")
    text = scrape.content.decode()
    for outcome, count in report["by_outcome"].items():
        assert metric(text, "firstcome_claims_total", campaign="dash-spike", outcome=outcome) == count
    assert metric(text, "firstcome_grants", campaign="dash-spike", status="succeeded") == 25
    assert metric(text, "firstcome_remaining", campaign="dash-spike") == 0
    assert metric(text, "firstcome_grants_settled_total", outcome="succeeded") >= 25
    assert metric(text, "firstcome_grant_latency_seconds_count") >= 25
    assert metric(text, "firstcome_grant_latency_seconds_bucket", le="+Inf") >= 25
    assert metric(text, "firstcome_celery_tasks_total", task="coupons.tasks.grant_drain_task", state="succeeded") >= 1


def test_metrics_are_for_operators_only(settings, user):
    settings.METRICS_TOKEN = "scrape-me"
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.json()["code"] == "not_authenticated"
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer guess").status_code == 403
    signed_in = Client()
    signed_in.force_login(user)
    assert signed_in.get("/metrics").status_code == 403
    assert staff_client().get("/metrics").status_code == 403  # staff, but may not view campaigns
    assert staff_client("view_campaign").get("/metrics").status_code == 200
    settings.METRICS_TOKEN = ""  # no token configured: no bearer opens it
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_metrics_count_rooms_and_failures_of_the_flaky_backend(settings):
    campaign = published_campaign(slug="room-drop", quantity=5)
    room = published_room(slug="the-line", campaign=campaign, admit_rate=2, max_active=2)

    for user in UserFactory.create_batch(3):
        room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    # and three grants of another campaign meet a backend that always refuses: once
    # for good, once with retries left, once on the last try
    other = published_campaign(slug="refused", quantity=5)
    grants = [claim_create(campaign_id=other.pk, user_id=user.pk).grant_id for user in UserFactory.create_batch(3)]
    refusing, failing = FlakyBackend(permanent_rate=1.0), FlakyBackend(transient_rate=1.0)
    grant_transfer(grant_id=grants[0], final_attempt=False, backend=refusing)
    with pytest.raises(TransientTransferError):
        grant_transfer(grant_id=grants[1], final_attempt=False, backend=failing)
    grant_transfer(grant_id=grants[2], final_attempt=True, backend=failing)

    text = staff_client("view_campaign").get("/metrics").content.decode()
    assert metric(text, "firstcome_room_queued", room="the-line") == 1
    assert metric(text, "firstcome_room_active", room="the-line") == 2
    assert metric(text, "firstcome_room_admitted_total", room="the-line") == 2
    assert metric(text, "firstcome_transfer_failures_total", kind="permanent") == 1
    assert metric(text, "firstcome_transfer_failures_total", kind="transient") == 1
    assert metric(text, "firstcome_transfer_failures_total", kind="exhausted") == 1
    assert metric(text, "firstcome_grants_settled_total", outcome="failed") == 2
    assert metric(text, "firstcome_grant_latency_seconds_count") == 2  # the two that settled, failed
    assert metric(text, "firstcome_grants", campaign="refused", status="failed") == 2


def test_the_dashboard_page_and_its_actions(redis_clean):
    campaign = published_campaign(slug="live-drop", title="실시간", quantity=10)
    room = published_room(campaign=campaign, admit_rate=5)
    viewer, operator = (
        staff_client("view_campaign"),
        staff_client("view_campaign", "change_campaign", "change_waitingroom"),
    )

    page = viewer.get(f"/admin/dashboard/?campaign={campaign.pk}").content.decode()
    assert "chart-claims" in page and "chart-room" in page and "vendor/chartjs/chart.umd.min.js" in page
    assert "Pause admission" not in page  # the viewer may not change the room
    assert viewer.post(f"/admin/dashboard/rooms/{room.pk}/pause/").status_code == 403
    assert viewer.post(f"/admin/dashboard/campaigns/{campaign.pk}/close/").status_code == 403
    assert Client().get("/admin/dashboard/").status_code == 302  # to the admin login

    assert "Pause admission" in operator.get(f"/admin/dashboard/?campaign={campaign.pk}").content.decode()
    operator.post(f"/admin/dashboard/rooms/{room.pk}/pause/")
    assert WaitingRoom.objects.get(pk=room.pk).status == WaitingRoom.Status.PAUSED
    operator.post(f"/admin/dashboard/rooms/{room.pk}/resume/")
    operator.post(f"/admin/dashboard/rooms/{room.pk}/rate/", {"admit_rate": "40"})
    assert WaitingRoom.objects.get(pk=room.pk).admit_rate == 40
    bad = operator.post(f"/admin/dashboard/rooms/{room.pk}/rate/", {"admit_rate": "-3"}, follow=True)
    assert WaitingRoom.objects.get(pk=room.pk).admit_rate == 40 and "whole number" in bad.content.decode()
    redis_clean.delete(*redis_clean.keys(f"{settings.REDIS_KEY_PREFIX}:{{camp:*}}:meta"))  # Redis forgot the campaign
    reconciled = operator.post(f"/admin/dashboard/campaigns/{campaign.pk}/reconcile/", follow=True)
    assert "drift fixed" in reconciled.content.decode()
    operator.post(f"/admin/dashboard/campaigns/{campaign.pk}/close/")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.CLOSED
    assert operator.post(f"/admin/dashboard/campaigns/{campaign.pk}/delete-everything/").status_code == 403


def test_the_dashboard_follows_the_newest_live_campaign_until_one_is_picked(redis_clean):
    # given an older open campaign, a newer one, and one only scheduled
    now = timezone.now()
    older = published_campaign(slug="older", title="Older", opens_at=now - timedelta(hours=2))
    newer = published_campaign(slug="newer", title="Newer", opens_at=now - timedelta(minutes=5))
    published_campaign(slug="later", title="Later", opens_at=now + timedelta(hours=1))
    viewer = staff_client("view_campaign")
    # when staff open the dashboard without picking, it follows the newest open one
    page = viewer.get("/admin/dashboard/").content.decode()
    assert f'data-campaign-id="{newer.pk}"' in page and 'data-follow="1"' in page
    assert 'data-time-zone="Asia/Seoul"' in page
    live = viewer.get(f"/admin/dashboard/campaigns/{newer.pk}/live/").json()
    assert live["newest_live_id"] == newer.pk
    # then a campaign opening after it is what the page's numbers point to next
    newest = published_campaign(slug="newest", title="Newest", opens_at=now - timedelta(seconds=5))
    assert viewer.get(f"/admin/dashboard/campaigns/{newer.pk}/live/").json()["newest_live_id"] == newest.pk
    # and a campaign picked by hand stays, the Close button only where closing applies
    operator = staff_client("view_campaign", "change_campaign")
    picked = operator.get(f"/admin/dashboard/?campaign={older.pk}").content.decode()
    assert f'data-campaign-id="{older.pk}"' in picked and 'data-follow="0"' in picked
    assert "Close the campaign" in picked
    operator.post(f"/admin/dashboard/campaigns/{older.pk}/close/")
    assert "Close the campaign" not in operator.get(f"/admin/dashboard/?campaign={older.pk}").content.decode()
