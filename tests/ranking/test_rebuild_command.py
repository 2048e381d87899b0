"""`manage.py rebuild_rankings`: its lines, its summary, and the progress bar on a terminal."""

import io

import pytest
from django.core.management import call_command

from coupons.services.claims import claim_create
from coupons.services.grants import grant_transfer
from ranking import redis as rank_redis
from ranking import services
from ranking.models import Board
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign

pytestmark = pytest.mark.django_db(transaction=True)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rebuild_rankings_reports_each_board_and_the_totals_without_progress(redis_clean):
    # given: a settled claim the board in Redis has lost
    board = Board.objects.create(slug="cli-board", title="CLI", metric="claims", daily=False, weekly=False)
    services.boards_forget()
    campaign = published_campaign(quantity=2)
    outcome = claim_create(campaign_id=campaign.pk, user_id=UserFactory().pk)
    grant_transfer(grant_id=outcome.grant_id, final_attempt=False)
    redis_clean.delete(rank_redis.board_key(board.slug, "all"))

    # when
    out = io.StringIO()
    call_command("rebuild_rankings", "--no-progress", stdout=out)

    # then: one line per board, the differences under it, then the totals
    lines = out.getvalue().splitlines()
    assert "cli-board: 1 period key(s) rebuilt, 1 differed" in lines, lines
    assert lines[lines.index("cli-board: 1 period key(s) rebuilt, 1 differed") + 1].startswith("  ")
    boards = Board.objects.count()
    assert sum(line.endswith("differed") and ": " in line for line in lines) == boards
    assert lines[-2].endswith(" period key(s) differed in all") and lines[-2] != "0 period key(s) differed in all"
    assert lines[-1].startswith(f"rebuilt {boards} board(s), ")
    assert "\x1b[" not in out.getvalue()
    # rebuilt: a second run finds nothing to change
    out = io.StringIO()
    call_command("rebuild_rankings", "--no-progress", stdout=out)
    assert "0 period key(s) differed in all" in out.getvalue().splitlines()
    assert board.slug in out.getvalue()


def test_rebuild_rankings_draws_a_bar_on_a_terminal():
    Board.objects.create(slug="cli-board", title="CLI", metric="claims")
    out = Terminal()
    call_command("rebuild_rankings", stdout=out)
    boards = Board.objects.count()
    assert f"{boards}/{boards}" in out.getvalue() and "period key(s) differed in all" in out.getvalue()
