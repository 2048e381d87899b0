"""The command-line tools of the coupons app on the real stores: seed_demo, reconcile."""

import io

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command

from accounts.models import User
from coupons.models import Campaign, LedgerEntry, Seat, Wallet
from tests.coupons.factories import published_campaign
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
    assert "1500 new of 1,500 crowd user(s)" in first and "0 new of 1,500 crowd user(s)" in second
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
    redis_clean.delete(f"fctest:{{camp:{other.pk}}}:meta")

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
