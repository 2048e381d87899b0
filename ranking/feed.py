"""What the boards rank, provided by the app that owns it: ranking stays below that app (DESIGN §2).

That app records events as they happen (services.event_record, the one function
it calls) and registers a source here (coupons does, in its AppConfig.ready):
rebuilding a board asks the source for the events its rows hold, and boards
show the source's labels for their members. Without a source a rebuild finds
no events and members show as themselves.
"""

from datetime import datetime
from typing import Protocol

from ranking.models import Board

# period key ("d:20261122", "w:2026-W47", "all") → member → (value, when the value was reached)
Events = dict[str, dict[str, tuple[int, datetime]]]


class RankingSource(Protocol):
    def board_events(self, *, board: Board, since: datetime) -> Events:
        """Every event of the board's metric, per period key the board keeps (periodic ones since `since`)."""

    def labels(self, *, members: list[str]) -> dict[str, str]:
        """What to show for these members (a campaign's title)."""

    def viewable(self) -> dict[str, str]:
        """The pages whose views count, by the name a page's beacon sends (a drop's slug) → member."""


_source: RankingSource | None = None


def source_register(source: RankingSource | None) -> RankingSource | None:
    """Install the source; returns the one it replaces."""
    global _source
    previous, _source = _source, source
    return previous


def board_events(*, board: Board, since: datetime) -> Events:
    return _source.board_events(board=board, since=since) if _source is not None else {}


def labels_for(members: list[str]) -> dict[str, str]:
    return _source.labels(members=members) if _source is not None else {}


def viewable_members() -> dict[str, str]:
    return _source.viewable() if _source is not None else {}
