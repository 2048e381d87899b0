"""Boards for the ranking suites."""

from ranking import services
from ranking.models import Board


def views_board(**fields) -> Board:
    """The shipped most-viewed board: views of the drop pages over the last 24 hours only."""
    defaults = {
        "slug": "most-viewed",
        "title": "Most viewed",
        "metric": "views",
        "rolling_24h": True,
        "daily": False,
        "weekly": False,
        "all_time": False,
    }
    board = Board.objects.create(**{**defaults, **fields})
    services.boards_forget()
    return board
