"""Unlisted drops (the tools' test drops) stay off the home page and the rankings; their pages still open."""

import pytest

from coupons.services.claims import claim_create
from coupons.services.drain import grant_drain
from coupons.services.grants import grant_transfer
from ranking import services as ranking
from ranking.models import Board
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_unlisted_drop_is_off_the_home_page_and_the_boards_even_after_a_rebuild(client):
    # given a listed drop and an unlisted one, each claimed (one by a single transfer, the rest by a drain)
    board = Board.objects.create(slug="unlisted-check", title="Claims", metric="claims", daily=False, weekly=False)
    ranking.boards_forget()
    listed = published_campaign(title="Public drop", quantity=3)
    hidden = published_campaign(title="Spike test", quantity=3, unlisted=True)
    for campaign in (listed, hidden):
        first = claim_create(campaign_id=campaign.pk, user_id=UserFactory().pk)
        grant_transfer(grant_id=first.grant_id, final_attempt=False)
        claim_create(campaign_id=campaign.pk, user_id=UserFactory().pk)
        grant_drain(campaign_id=campaign.pk)

    # then the home page and the campaign list API show the listed one only; the other's page opens by link
    home = client.get("/").content.decode()
    assert "Public drop" in home and "Spike test" not in home
    assert [c["slug"] for c in client.get("/api/v1/campaigns/").json()] == [listed.slug]
    assert client.get(f"/campaigns/{hidden.slug}/").status_code == 200

    # and the board counts the listed drop only, before and after a rebuild from PostgreSQL
    members = {r.member for r in ranking.board_top(board=board, key="all", limit=100)}
    assert members == {str(listed.pk)}
    ranking.board_rebuild(board=board)
    assert {r.member for r in ranking.board_top(board=board, key="all", limit=100)} == {str(listed.pk)}
