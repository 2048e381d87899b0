"""Leaderboards: record events, read top N and standings, rebuild from PostgreSQL, snapshot."""

import functools
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from config import redis as fc_redis
from ranking import feed
from ranking import redis as rank_redis
from ranking.models import Board, BoardSnapshot

logger = logging.getLogger(__name__)

DAY_GRACE = timedelta(days=2)  # a daily key lives until two days after its day ends
WEEK_GRACE = timedelta(days=7)


# --- periods ----------------------------------------------------------------


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(_zone(settings.TIME_ZONE))


def period_key(kind: str, moment: datetime) -> str:
    """ "d:20261122", "w:2026-W47" (ISO week, local time) or "all"."""
    local = _local(moment)
    if kind == "d":
        return f"d:{local:%Y%m%d}"
    if kind == "w":
        year, week, _ = local.isocalendar()
        return f"w:{year}-W{week:02d}"
    return "all"


def period_end(kind: str, moment: datetime) -> datetime | None:
    local = _local(moment)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "d":
        return midnight + timedelta(days=1)
    if kind == "w":
        return midnight + timedelta(days=7 - local.weekday())
    return None


def period_ttl(kind: str, moment: datetime, now: datetime | None = None) -> int:
    """Seconds a periodic key should live from now; 0 keeps the all-time key."""
    end = period_end(kind, moment)
    if end is None:
        return 0
    grace = DAY_GRACE if kind == "d" else WEEK_GRACE
    return max(60, int((end + grace - (now or timezone.now())).total_seconds()))


# --- boards cache (the claim path must not query for them) ------------------

_boards: tuple[float | None, dict[str, list[Board]]] = (None, {})
BOARDS_TTL_SECONDS = 30


def boards_for_metric(metric: str) -> list[Board]:
    global _boards
    loaded_at, by_metric = _boards
    if loaded_at is None or time.monotonic() - loaded_at > BOARDS_TTL_SECONDS:
        by_metric = defaultdict(list)
        for board in Board.objects.all():
            by_metric[board.metric].append(board)
        _boards = (time.monotonic(), by_metric)
    return by_metric.get(metric, [])


def boards_forget() -> None:
    """Drop this process's cached boards (after an edit)."""
    global _boards
    _boards = (None, {})


# --- recording events -------------------------------------------------------


def event_record(
    *,
    metric: str,
    member: str | int,
    at: datetime,
    amount: int = 1,
    mode: str = "incr",
    batch: fc_redis.ScriptBatch | None = None,
) -> None:
    """Record an event on every period key of every board of the metric, in one script call.

    With a `batch` the call rides along in the caller's round trip (the claim path does this).
    """
    boards = boards_for_metric(metric)
    if not boards:
        return
    t = rank_redis.seconds_since_epoch(at)
    now = timezone.now()
    periods = {kind: (period_key(kind, at), period_ttl(kind, at, now)) for kind in ("d", "w", "all")}
    keys = [
        (rank_redis.board_key(board.slug, periods[kind][0]), board.descending, periods[kind][1])
        for board in boards
        for kind in board.periods()
    ]
    if keys:
        rank_redis.record(keys=keys, member=str(member), mode=mode, amount=amount, t=t, batch=batch)


# --- reading ----------------------------------------------------------------


@dataclass(frozen=True)
class Ranked:
    rank: int
    member: str
    value: int


def _with_ranks(board: Board, key: str, entries: list[rank_redis.Entry], start: int) -> list[Ranked]:
    ranked: list[Ranked] = []
    for index, entry in enumerate(entries):
        if ranked and entry.value == ranked[-1].value:
            rank = ranked[-1].rank
        elif board.tie_style == Board.TieStyle.COMPETITION:
            rank = start + index + 1 if ranked else _competition_rank(board, key, entry.value)
        else:
            rank = ranked[-1].rank + 1 if ranked else _dense_rank(board, key, entry.value, start)
        ranked.append(Ranked(rank, entry.member, entry.value))
    return ranked


def _competition_rank(board: Board, key: str, value: int) -> int:
    return 1 + rank_redis.count_better(key=key, value=value, descending=board.descending)


def _dense_rank(board: Board, key: str, value: int, start: int) -> int:
    better = rank_redis.count_better(key=key, value=value, descending=board.descending)
    if not better:
        return 1
    values = {e.value for e in rank_redis.entries(key=key, start=0, stop=better - 1, descending=board.descending)}
    return 1 + len(values)


def board_top(*, board: Board, key: str, limit: int = 10, offset: int = 0) -> list[Ranked]:
    """Entries offset..offset+limit of a board period, best first, with ranks in the board's tie style."""
    entries = rank_redis.entries(
        key=rank_redis.board_key(board.slug, key), start=offset, stop=offset + limit - 1, descending=board.descending
    )
    return _with_ranks(board, rank_redis.board_key(board.slug, key), entries, offset)


@dataclass(frozen=True)
class Standing:
    entry: Ranked
    around: list[Ranked]
    size: int


def member_standing(*, board: Board, key: str, member: str, around: int = 2) -> Standing | None:
    """A member's rank and value, and the members just above and below."""
    redis_key = rank_redis.board_key(board.slug, key)
    position = rank_redis.rank_of(key=redis_key, member=member, descending=board.descending)
    if position is None:
        return None
    start = max(0, position - around)
    entries = rank_redis.entries(key=redis_key, start=start, stop=position + around, descending=board.descending)
    ranked = _with_ranks(board, redis_key, entries, start)
    entry = next((r for r in ranked if r.member == member), None)
    if entry is None:  # the key changed between the two reads (expired, rebuilt, the member moved)
        return None
    return Standing(entry=entry, around=ranked, size=rank_redis.size(key=redis_key))


# --- rebuild from PostgreSQL ------------------------------------------------


@dataclass
class RebuildReport:
    board: str
    keys: int = 0
    differences: list[str] | None = None


def board_rebuild(*, board: Board, top: int = 10, now: datetime | None = None) -> RebuildReport:
    """Recompute every live period key of a board from PostgreSQL (the events ranking/feed.py's
    source reads from its rows); report top-N differences.

    Run it when the boards are quiet (after a Redis loss, before traffic): an
    event recorded between its database read and the key swap can be lost or
    counted twice; a second rebuild afterwards settles it.
    """
    now = now or timezone.now()
    since = now - timedelta(days=15)
    report = RebuildReport(board=board.slug, differences=[])
    for key, members in feed.board_events(board=board, since=since).items():
        kind = key.split(":", 1)[0]
        sample = members and next(iter(members.values()))[1]
        end = period_end(kind, sample) if sample else None
        if end is not None and end + (DAY_GRACE if kind == "d" else WEEK_GRACE) <= now:
            continue  # that period's key has expired for good; snapshots keep its history
        ttl = period_ttl(kind, sample, now) if sample else 0
        before = [(r.member, r.value) for r in board_top(board=board, key=key, limit=top)]
        scores = {
            member: rank_redis.pack(value, rank_redis.seconds_since_epoch(at), descending=board.descending)
            for member, (value, at) in members.items()
        }
        rank_redis.replace(key=rank_redis.board_key(board.slug, key), scores=scores, ttl=ttl)
        after = [(r.member, r.value) for r in board_top(board=board, key=key, limit=top)]
        if before != after:
            report.differences.append(f"{key}: redis had {before}, database says {after}")
        report.keys += 1
    return report


# --- snapshots --------------------------------------------------------------


def boards_snapshot(*, now: datetime | None = None) -> int:
    """Store each board's current top N per period in PostgreSQL (history that survives Redis)."""
    now = now or timezone.now()
    taken = 0
    for board in Board.objects.all():
        for kind in board.periods():
            key = period_key(kind, now)
            ranked = board_top(board=board, key=key, limit=board.snapshot_size)
            if not ranked:
                continue
            labels = feed.labels_for([r.member for r in ranked])
            entries = [
                {"rank": r.rank, "member": r.member, "label": labels.get(r.member, r.member), "value": r.value}
                for r in ranked
            ]
            BoardSnapshot.objects.create(board=board, period_key=key, taken_at=now, entries=entries)
            taken += 1
    return taken
