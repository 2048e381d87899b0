"""Claim cost with and without leaderboard updates, measured side by side in one run.

Usage: .venv/bin/python bench/claim_ranking_overhead.py [--claims 3000] [--rounds 6]

It creates a throwaway test database, then alternates rounds of accepted claims
on a campaign while three leaderboards exist and while none exists. Claims are
counted on the boards when their grant settles (in the worker), so the claim
itself should not change: the ratio shows it. A third figure times the
worker-side ranking update of one settled grant, for scale.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_redis import get_redis_connection  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=3000, help="claims per round")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per variant, interleaved")
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.claims, args.rounds)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(claims: int, rounds: int) -> None:
    from accounts.models import User
    from coupons.services import claims as claim_services
    from coupons.services.campaigns import campaign_create, campaign_publish
    from ranking import services as ranking
    from ranking.models import Board

    get_redis_connection("default").flushdb()
    users = User.objects.bulk_create([User(username=f"b{i}", password="!") for i in range(claims)])
    boards = [
        Board(slug="hottest", title="Hottest", metric="claims"),
        Board(slug="hottest-2", title="Hottest (dense)", metric="claims", tie_style="dense"),
        Board(slug="hottest-3", title="Hottest (all time only)", metric="claims", daily=False, weekly=False),
    ]
    timings: dict[str, list[float]] = {"with rankings": [], "without rankings": []}
    now = timezone.now()
    for round_number in range(rounds * 2):
        variant = "with rankings" if round_number % 2 == 0 else "without rankings"
        Board.objects.all().delete()
        if variant == "with rankings":
            Board.objects.bulk_create(boards)
        ranking.boards_forget()
        campaign = campaign_create(
            slug=f"bench-{round_number}",
            title="bench",
            quantity=claims,
            amount=10,
            opens_at=now - timezone.timedelta(minutes=1),
            closes_at=now + timezone.timedelta(days=1),
        )
        campaign_publish(campaign=campaign)
        claim_services.drain_enqueue = lambda campaign_id: True  # measure the claim, not the broker
        for user in users:
            started = time.perf_counter()
            claim_services.claim_create(campaign_id=campaign.pk, user_id=user.pk)
            timings[variant].append((time.perf_counter() - started) * 1e6)
    print(f"{claims} accepted claims x {rounds} rounds per variant, interleaved; one process, real PostgreSQL + Redis")
    for variant, values in timings.items():
        print(f"  {variant:17s} mean {statistics.mean(values):7.1f} us   p50 {statistics.median(values):7.1f} us")
    ratio = statistics.median(timings["with rankings"]) / statistics.median(timings["without rankings"])
    print(f"  ratio (p50 with / without): {ratio:.3f}")
    Board.objects.bulk_create(boards)
    ranking.boards_forget()
    settle = []
    for _ in range(claims):
        started = time.perf_counter()
        ranking.event_record(metric="claims", member=1, at=now)
        settle.append((time.perf_counter() - started) * 1e6)
    print(
        f"  worker-side update per settled grant (3 boards x 3 periods, one script call): "
        f"p50 {statistics.median(settle):.1f} us"
    )


if __name__ == "__main__":
    main()
