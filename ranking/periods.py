"""Periods of the boards: the key an event lands in, when a periodic key ends and expires, and the
hourly buckets the rolling last 24 hours is merged from (docs/ranking.md, "Periods and keys").

Days and ISO weeks are local (settings.TIME_ZONE); hour buckets are UTC hours, so a
daylight-saving change never merges or skips an hour of the rolling window.
"""

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

ROLLING = "24h"  # the rolling period a reader asks for; its events are stored in "h:" buckets
ROLLING_HOURS = 24  # the current hour bucket and the 23 before it
HOUR_GRACE = timedelta(hours=24)  # an hour bucket lives until an hour after it leaves the window
DAY_GRACE = timedelta(days=2)  # a daily key lives until two days after its day ends
WEEK_GRACE = timedelta(days=7)
GRACE = {"h": HOUR_GRACE, "d": DAY_GRACE, "w": WEEK_GRACE}


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(_zone(settings.TIME_ZONE))


def hour_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_key(moment: datetime) -> str:
    """The bucket of the UTC hour `moment` falls in: "h:2026112205"."""
    return f"h:{hour_start(moment):%Y%m%d%H}"


def period_key(kind: str, moment: datetime) -> str:
    """The key an event at `moment` is recorded in: "h:2026112205" (for "24h"), "d:20261122",
    "w:2026-W47" (ISO week, local time) or "all"."""
    if kind in (ROLLING, "h"):
        return hour_key(moment)
    local = _local(moment)
    if kind == "d":
        return f"d:{local:%Y%m%d}"
    if kind == "w":
        year, week, _ = local.isocalendar()
        return f"w:{year}-W{week:02d}"
    return "all"


def storage_kind(kind: str) -> str:
    """The kind of the keys a period is stored in: the rolling period lives in hour buckets."""
    return "h" if kind == ROLLING else kind


def period_end(kind: str, moment: datetime) -> datetime | None:
    if kind in (ROLLING, "h"):
        return hour_start(moment) + timedelta(hours=1)
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
    return max(60, int((end + GRACE[storage_kind(kind)] - (now or timezone.now())).total_seconds()))


def rolling_buckets(now: datetime) -> list[str]:
    """The hour buckets of the last 24 hours at `now`, newest first.

    The rule (an hour bucket is whole-in or whole-out): the bucket of the current
    UTC hour and the 23 before it. An event at t counts from t until the top of
    the hour 24 hours after the start of t's hour: for at most 24 hours, and at
    least 23 hours. Nothing older than 24 hours ever counts; an event between 23
    and 24 hours old counts only while the clock's minutes are past its own.
    """
    start = hour_start(now)
    return [hour_key(start - timedelta(hours=back)) for back in range(ROLLING_HOURS)]


def rolling_label(now: datetime) -> str:
    """Names the merge of the window at `now`: one per current hour ("24h:2026112205")."""
    return f"{ROLLING}:{hour_start(now):%Y%m%d%H}"
