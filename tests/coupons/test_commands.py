"""The command-line tools of the coupons app on the real stores: seed_demo, simulate_spike, reconcile."""

import io
import json
import sys
from collections import Counter

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command

from accounts.models import User
from coupons.models import Campaign, Grant, LedgerEntry, Seat, Wallet
from tests.coupons.factories import published_campaign
from tests.waitingroom.factories import published_room
from waitingroom.models import WaitingRoom

pytestmark = pytest.mark.django_db(transaction=True)


class Terminal(io.StringIO):
    """A stdout that says it is a terminal, so the commands draw their progress bars."""

    def isatty(self) -> bool:
        return True


def run(*args, stdout=None) -> str:
    out = stdout or io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def demo_counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "campaigns": Campaign.objects.count(),
        "rooms": WaitingRoom.objects.count(),
        "seats": Seat.objects.count(),
        "wallets": Wallet.objects.count(),
        "ledger": LedgerEntry.objects.count(),
    }


def test_seed_demo_makes_rooms_seats_and_crowd_users_and_runs_again_without_changes():
    # when
    first = run("seed_demo", "--admin-password", "pw-1", "--users", "1500", "--no-progress")
    counts = demo_counts()
    second = run("seed_demo", "--admin-password", "pw-1", "--users", "1500", "--no-progress")

    # then: the second run creates nothing
    assert demo_counts() == counts
    assert "1,500 new of 1,500 crowd user(s)" in first and "0 new of 1,500 crowd user(s)" in second
    assert "0 new campaign(s)" in second
    # a waiting room protects one campaign
    room = WaitingRoom.objects.get(slug="concert-presale-line")
    assert room.campaign.slug == "concert-presale"
    # the seat campaign: rows A-H × 12 at two prices, published with its gate
    seat_campaign = Campaign.objects.get(slug="concert-seats")
    seats = Seat.objects.filter(campaign=seat_campaign)
    assert seats.count() == seat_campaign.quantity == 96
    assert sorted({s.label.split("-")[0] for s in seats}) == list("ABCDEFGH")
    assert set(seats.values_list("price", flat=True)) == {50_000, 30_000}
    assert seat_campaign.allocation == Campaign.Allocation.CHOSEN and seat_campaign.is_published
    # crowd users share the demo password (hashed once) and the staff account is there
    crowd = User.objects.filter(username__startswith="demo-")
    assert crowd.count() == 1500
    assert check_password("firstcome-demo", crowd.get(username="demo-001500").password)
    assert User.objects.get(username="admin").is_staff
    assert counts["users"] == 1500 + 4 + 1
    # the summary table states the same counts, plainly (no progress bar off a terminal)
    assert "waiting rooms" in second and "96" in second and "\x1b[" not in second


def test_seed_demo_draws_a_progress_bar_on_a_terminal_and_refuses_a_negative_count():
    out = run("seed_demo", "--admin-password", "pw", "--users", "30", stdout=Terminal())
    assert "demo users" in out and "30/30" in out  # the bar, at its end
    with pytest.raises(CommandError, match="--users must be 0 or more"):
        run("seed_demo", "--admin-password", "pw", "--users", "-1")


def test_reconcile_without_progress_keeps_its_lines_and_ends_with_a_summary(redis_clean):
    campaign = published_campaign(quantity=3)
    other = published_campaign(quantity=2)
    redis_clean.delete(f"{settings.REDIS_KEY_PREFIX}:{{camp:{other.pk}}}:meta")

    out = run("reconcile", "--no-progress")

    lines = out.splitlines()
    assert f"{campaign.slug}: in sync (remaining 3)" in lines
    assert any(line.startswith(f"{other.slug}: DRIFT gate_missing=True") for line in lines)
    assert lines[-2:] == ["1 campaign(s) drifted, all fixed", lines[-1]]
    assert lines[-1].startswith("checked 2 campaign(s) in ") and lines[-1].endswith("1 in sync, 1 drifted")
    assert "\x1b[" not in out
    # with a bar on a terminal the same lines appear
    out = run("reconcile", "--dry-run", stdout=Terminal())
    assert f"{other.slug}: in sync" in out and "(dry run: nothing changed)" in out
    with pytest.raises(CommandError, match="No published campaign"):
        run("reconcile", "no-such-campaign", "--no-progress")


# --- simulate_spike ---------------------------------------------------------------


def test_simulate_spike_summary_equals_the_database(web_server, worker_factory, tmp_path):
    """300 claims of 40 users on 20 slots against granian and a real worker: the summary is the database."""
    worker_factory()
    chart, summary_file = tmp_path / "spike.png", tmp_path / "spike.json"

    # when
    out = run(
        "simulate_spike", "--url", web_server.extra["url"], "--campaign", "cli-spike", "--create-campaign",
        "--quantity", "20", "--users", "40", "--requests", "300", "--concurrency", "16", "--seed", "7",
        "--chart", str(chart), "--json", str(summary_file), "--drain-timeout", "90", "--no-progress",
    )  # fmt: skip

    # then: what the clients heard
    report = json.loads(summary_file.read_text())
    campaign = Campaign.objects.get(slug="cli-spike")
    assert campaign.unlisted  # a test drop: off the home page and the rankings
    assert report["requests"] == 300 == sum(report["by_status"].values()) == sum(report["by_outcome"].values())
    # (429 only where per-user limits exist: a user's repeats beyond their burst)
    assert report["errors"] == 0 and set(report["by_status"]) <= {"200", "202", "409", "429"}
    assert report["accepted"] == report["by_status"]["202"] == campaign.quantity == 20
    assert report["duplicates"] == report["by_status"].get("200", 0)
    assert report["sold_out"] == report["by_status"].get("409", 0)
    rate_limited = report["by_outcome"].get("rate_limited", 0)
    assert rate_limited == report["by_status"].get("429", 0)
    assert report["accepted"] + report["duplicates"] + report["sold_out"] + rate_limited == 300
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p90"] <= report["latency_ms"]["p99"]
    # ... equals what the database holds, counted row by row
    statuses = Counter(Grant.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert report["database"] == {
        "status": "sold_out",
        "quantity": 20,
        "pending": statuses["pending"],
        "succeeded": statuses["succeeded"],
        "failed": statuses["failed"],
        "live": statuses["pending"] + statuses["succeeded"],
        "new_grants": sum(statuses.values()),
        "over_issue": 0,
    }
    assert statuses == {"succeeded": 20}  # drained: every grant delivered
    assert Grant.objects.filter(campaign=campaign).values("user").distinct().count() == 20
    assert LedgerEntry.objects.filter(grant__campaign=campaign).count() == 20
    assert report["drained"] is True and report["accepted_equals_new_grants"] is True
    assert User.objects.filter(username__startswith="spike-").count() == 40
    assert getattr(campaign, "rate_ip_burst", 0) == 0  # one IP for everyone: no per-IP limit where there is one
    # the printed tables say the same, and the chart is a PNG
    assert "over-issue (must be 0)" in out and "20 / 20" in out
    assert "ok: the database agrees" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_spike_refuses_a_campaign_behind_a_waiting_room_before_making_anything(closed_port):
    campaign = published_campaign(quantity=5)
    published_room(slug="line", campaign=campaign)
    users = User.objects.count()

    with pytest.raises(CommandError, match=r"behind the waiting room 'line'.*access pass"):
        run("simulate_spike", "--url", f"http://127.0.0.1:{closed_port}", "--campaign", campaign.slug)

    assert User.objects.count() == users


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "nope"], "No published campaign 'nope'"),
        ([], "Name a campaign with --campaign"),
        (["--campaign", "x", "--requests", "0"], "--requests must be at least 1"),
        (["--campaign", "x", "--concurrency", "5000"], "--concurrency must be at most 1024"),
    ],
)
def test_simulate_spike_bad_arguments_are_clear_errors(args, message, closed_port):
    with pytest.raises(CommandError, match=message):
        run("simulate_spike", "--url", f"http://127.0.0.1:{closed_port}", *args)


def test_simulate_spike_says_when_nothing_answers(closed_port):
    campaign = published_campaign(quantity=5)
    with pytest.raises(CommandError, match="Nothing answers at http://127"):
        run("simulate_spike", "--url", f"http://127.0.0.1:{closed_port}", "--campaign", campaign.slug, "--users", "3")
    assert not Grant.objects.exists()


def test_simulate_spike_names_a_server_that_refuses_its_tokens(tmp_path, transactional_db):
    """A server with another signing key (another deployment) is named before any claim is sent."""
    from tests import processes

    campaign = published_campaign(quantity=5)
    web = processes.start_web(tmp_path, API_TOKEN_SIGNING_KEY="another-deployment-key-0123456789abcdef")
    try:
        with pytest.raises(CommandError, match="answered 401: the server refuses tokens made here"):
            run("simulate_spike", "--url", web.extra["url"], "--campaign", campaign.slug, "--users", "2")
    finally:
        web.stop()
    assert not Grant.objects.exists()


def test_simulate_spike_without_the_chart_library_says_how_to_get_it_and_goes_on(closed_port, monkeypatch):
    # given: matplotlib is not installed (requirements-charts.txt is optional)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    campaign = published_campaign(quantity=5)
    out = io.StringIO()

    # when: a chart is asked for (and nothing answers at the URL, so the spike stops at its preflight)
    with pytest.raises(CommandError, match="Nothing answers"):
        call_command(
            "simulate_spike", "--url", f"http://127.0.0.1:{closed_port}", "--campaign", campaign.slug,
            "--chart", "spike.png", "--users", "1", "--no-progress", stdout=out,
        )  # fmt: skip

    # then: it said how to get the chart and went on to the spike, instead of crashing
    assert "no chart: matplotlib is not installed here (pip install -r requirements-charts.txt)" in out.getvalue()
