"""Reads for the rankings: boards, periods, chart series from snapshots."""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ranking import periods
from ranking.errors import BadPeriod, BoardNotFound
from ranking.models import Board, BoardSnapshot

PERIOD_KINDS = ("24h", "d", "w", "all")
PERIOD_TITLES = {
    "24h": _("Last 24 hours"),
    "d": _("Today"),
    "w": _("This week"),
    "all": _("All time"),
}


def board_list_visible():
    return Board.objects.filter(visible=True)


def board_get(*, slug: str, staff: bool = False) -> Board:
    boards = Board.objects.all() if staff else board_list_visible()
    board = boards.filter(slug=slug).first()
    if board is None:
        raise BoardNotFound()
    return board


def period_key_for(*, board: Board, kind: str, date: str | None = None) -> str:
    """The key of a period the board keeps, for today or the given local date ("24h": the window ending now)."""
    if kind not in PERIOD_KINDS or kind not in board.periods():
        raise BadPeriod(_("This board keeps the periods %(periods)s.") % {"periods": ", ".join(board.periods())})
    if kind == periods.ROLLING:
        if date:
            raise BadPeriod(_("The last 24 hours always ends now: leave out date."))
        return periods.ROLLING
    moment = timezone.now()
    if date:
        try:
            moment = timezone.make_aware(datetime.strptime(date, "%Y-%m-%d").replace(hour=12))
        except ValueError as exc:
            raise BadPeriod() from exc
    return periods.period_key(kind, moment)


def chart_series(*, board: Board, key: str, points: int = 288) -> dict:
    """Values of the members in the latest snapshots of one period ("24h", today's "d:…"), oldest first,
    for a chart: 288 snapshots are the last 24 hours at the beat's 5 minutes."""
    snapshots = list(BoardSnapshot.objects.filter(board=board, period_key=key).order_by("-taken_at")[:points])[::-1]
    members: dict[str, dict] = {}
    for index, snapshot in enumerate(snapshots):
        for entry in snapshot.entries:
            series = members.setdefault(entry["member"], {"label": entry["label"], "values": [None] * len(snapshots)})
            series["values"][index] = entry["value"]
    return {"times": [s.taken_at for s in snapshots], "series": members}
