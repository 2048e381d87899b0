"""Leaderboards: record events, read top N and standings, rebuild from PostgreSQL, snapshot."""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from config import redis as fc_redis
from ranking import feed, periods
from ranking import redis as rank_redis
from ranking.models import Board, BoardSnapshot

logger = logging.getLogger(__name__)


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
    now: datetime | None = None,
) -> None:
    """Record an event on every period key of every board of the metric, in one script call.

    The rolling period's event goes to the bucket of its hour, and the merges of
    the window it belongs to are dropped, so the next read merges afresh. With a
    `batch` the call rides along in the caller's round trip (the drain does this).
    """
    boards = boards_for_metric(metric)
    if not boards:
        return
    keys, drops = event_keys(boards=boards, at=at, now=now or timezone.now())
    if keys:
        t = rank_redis.seconds_since_epoch(at)
        rank_redis.record(keys=keys, member=str(member), mode=mode, amount=amount, t=t, drops=drops, batch=batch)


def event_keys(*, boards: list[Board], at: datetime, now: datetime) -> tuple[list[tuple[str, bool, int]], list[str]]:
    """What an event at `at` updates: (key, descending, TTL) of every period of every board, and the
    merges of the rolling window it makes stale."""
    kinds = ("24h", "d", "w", "all")
    keyed = {kind: (periods.period_key(kind, at), periods.period_ttl(kind, at, now)) for kind in kinds}
    keys = [
        (rank_redis.board_key(board.slug, keyed[kind][0]), board.descending, keyed[kind][1])
        for board in boards
        for kind in board.periods()
    ]
    drops = sorted({key for board in boards if board.rolling_24h for key in merges_around(board, now)})
    return keys, drops


def merges_around(board: Board, now: datetime) -> set[str]:
    """The merges a reader may be using now: this hour's, and the neighbour's when another
    process's clock is a minute off across the top of the hour."""
    moments = (now - timedelta(minutes=1), now, now + timedelta(minutes=1))
    return {rank_redis.board_key(board.slug, periods.rolling_label(moment)) for moment in moments}


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


def redis_key_for(*, board: Board, key: str, now: datetime | None = None) -> str:
    """The sorted set to read for a period key; for "24h", the merge of the window at `now`."""
    if key != periods.ROLLING:
        return rank_redis.board_key(board.slug, key)
    now = now or timezone.now()
    merged = rank_redis.board_key(board.slug, periods.rolling_label(now))
    buckets = [rank_redis.board_key(board.slug, bucket) for bucket in periods.rolling_buckets(now)]
    aggregate = "last" if board.metric == Board.Metric.SELL_OUT_SECONDS else "sum"
    ttl_ms = int(settings.RANKING_ROLLING_MERGE_SECONDS * 1000)
    rank_redis.merge(key=merged, buckets=buckets, descending=board.descending, aggregate=aggregate, ttl_ms=ttl_ms)
    return merged


def board_top(*, board: Board, key: str, limit: int = 10, offset: int = 0, now: datetime | None = None) -> list[Ranked]:
    """Entries offset..offset+limit of a board period, best first, with ranks in the board's tie style."""
    redis_key = redis_key_for(board=board, key=key, now=now)
    entries = rank_redis.entries(key=redis_key, start=offset, stop=offset + limit - 1, descending=board.descending)
    return _with_ranks(board, redis_key, entries, offset)


@dataclass(frozen=True)
class Standing:
    entry: Ranked
    around: list[Ranked]
    size: int


def member_standing(
    *, board: Board, key: str, member: str, around: int = 2, now: datetime | None = None
) -> Standing | None:
    """A member's rank and value, and the members just above and below."""
    redis_key = redis_key_for(board=board, key=key, now=now)
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
        end = periods.period_end(kind, sample) if sample else None
        if end is not None and end + periods.GRACE[kind] <= now:
            continue  # that period's key has expired for good; snapshots keep its history
        ttl = periods.period_ttl(kind, sample, now) if sample else 0
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
    if board.rolling_24h:
        fc_redis.client().delete(*merges_around(board, now))  # merged before the swap: stale
    return report


# --- snapshots --------------------------------------------------------------


def boards_snapshot(*, now: datetime | None = None) -> int:
    """Store each board's current top N per period in PostgreSQL (history that survives Redis)."""
    now = now or timezone.now()
    taken = 0
    for board in Board.objects.all():
        for kind in board.periods():
            key = periods.ROLLING if kind == periods.ROLLING else periods.period_key(kind, now)
            ranked = board_top(board=board, key=key, limit=board.snapshot_size, now=now)
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
