"""The most-viewed board: the drop page's sampled view beacon, counted in Redis (docs/ranking.md, "Most viewed").

A page sends its beacon with probability p (settings.VIEW_BEACON_SAMPLE_RATE) and
each beacon that counts adds 1/p views, so the board estimates views without
every view reaching Python. The visitor is a random id the browser keeps in
localStorage (no cookie, no session read: the beacon costs no database query);
its views of one drop within VIEW_DEDUP_SECONDS count once. The page draws its
sampling lot once per visitor (kept beside the id), so a sampled visitor's every
view is sent and the once-a-minute rule applies to them exactly.
"""

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from config.ratelimit import RateLimited, ip_bucket_id
from ranking import feed, services
from ranking import redis as rank_redis
from ranking.errors import NotViewable

VIEWABLE_TTL_SECONDS = 30  # a process refreshes the drops whose views count this often
VIEWABLE_MISS_SECONDS = 5  # and on an unknown name, at most this often (a new drop counts within it)

_viewable: tuple[float | None, dict[str, str]] = (None, {})


def _viewable_member(name: str) -> str | None:
    """The member a drop's name counts for, from a per-process cache: a beacon queries no database."""
    global _viewable
    loaded_at, members = _viewable
    age = None if loaded_at is None else time.monotonic() - loaded_at
    stale = age is None or age > VIEWABLE_TTL_SECONDS or (name not in members and age > VIEWABLE_MISS_SECONDS)
    if stale:
        members = feed.viewable_members()
        _viewable = (time.monotonic(), members)
    return members.get(name)


def viewable_forget() -> None:
    """Drop this process's cached drops (tests, after publishing)."""
    global _viewable
    _viewable = (None, {})


def views_per_beacon(p: float, draw: Callable[[], float] = random.random) -> int:
    """1/p views, as a whole number whose expectation is exactly 1/p (boards count integers):
    floor(1/p), plus one with probability frac(1/p)."""
    scale = 1 / p
    whole = math.floor(scale)
    return whole + (1 if draw() < scale - whole else 0)


@dataclass(frozen=True, kw_only=True)
class ViewOutcome:
    counted: bool  # False: a repeat within the dedup window, or no board counts views, or the beacon is off
    views: int  # the drop's estimated views in the first key of the views boards (the current hour's bucket
    # of most-viewed) after this beacon; 0 if not counted


def view_record(
    *,
    campaign: str,
    visitor: str,
    client_ip: str,
    now: datetime | None = None,
    draw: Callable[[], float] = random.random,
) -> ViewOutcome:
    """Count one beacon: one Redis round trip (view.lua); NotViewable for a drop whose views do not
    count (unknown, draft, cancelled, unlisted), RateLimited when the client IP's bucket is empty."""
    p = settings.VIEW_BEACON_SAMPLE_RATE
    member = _viewable_member(campaign)
    if member is None:
        raise NotViewable()
    boards = services.boards_for_metric("views")
    if p <= 0 or not boards:
        return ViewOutcome(counted=False, views=0)
    injected, now = now, now or timezone.now()
    keys, drops = services.event_keys(boards=boards, at=now, now=now)
    bucket, mark = rank_redis.view_keys(client_ip_bucket=ip_bucket_id(client_ip), member=member, visitor=visitor)
    outcome, number = rank_redis.view_count(
        bucket=bucket,
        mark=mark,
        burst=settings.VIEW_BEACON_RATE_IP_BURST,
        per_second=settings.VIEW_BEACON_RATE_IP_PER_SECOND,
        mark_seconds=settings.VIEW_DEDUP_SECONDS,
        keys=keys,
        drops=drops,
        member=member,
        amount=views_per_beacon(min(p, 1.0), draw),
        t=rank_redis.seconds_since_epoch(now),
        now_ms=None if injected is None else int(injected.timestamp() * 1000),  # the bucket runs on Redis's clock
    )
    if outcome == "rate_limited":
        raise RateLimited.after(number)
    return ViewOutcome(counted=outcome == "counted", views=number)
