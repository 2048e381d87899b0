"""Closed rooms leave Redis: the queue, passes and heartbeats go after a grace period, a tombstone stays.

A closed room's queue is history (everyone still in it was told "closed" or
"sold out" at their next poll), yet nothing else ever removes it: a line of a
million left ~100 MB. After REDIS_RETIRE_GRACE_SECONDS the room's keys are
replaced by a meta hash of a few fields (scripts/retire.lua), which join.lua and
status.lua answer from as they did before: "closed" or "sold_out", "absent".
A retired room never reopens (docs/operations.md, "Redis memory"). A room in
front of a campaign is retired with its campaign (coupons/services/retire.py);
rooms_retire() takes the rooms that protect no campaign.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config import clock
from waitingroom import redis as room_redis
from waitingroom.models import WaitingRoom

logger = logging.getLogger(__name__)
Status = WaitingRoom.Status


def retire_cutoff(*, now: datetime) -> datetime:
    """What changed before this is past its grace."""
    return now - timedelta(seconds=settings.REDIS_RETIRE_GRACE_SECONDS)


def room_tombstone_write(*, room: WaitingRoom) -> int:
    """Write the retired room's tombstone (also over a live state: idempotent); returns the users still queued."""
    return room_redis.retire(
        room_id=room.pk,
        state="sold_out" if room.closed_reason == WaitingRoom.ClosedReason.SOLD_OUT else "closed",
        opens_at_ms=clock.to_ms(room.opens_at),
        silence_ms=room.silence_timeout_seconds * 1000,
        rate_limits=room.rate_limits_meta(),
    )


def room_is_retirable(*, room: WaitingRoom, now: datetime) -> bool:
    """Closed, not yet retired, and unchanged for the grace period."""
    return room.status == Status.CLOSED and room.retired_at is None and room.updated_at <= retire_cutoff(now=now)


def room_retire(*, room_id: int, now: datetime | None = None) -> int | None:
    """Retire a closed room past its grace, under its row lock; returns how many users were still
    queued, or None when the room is not (or no longer) retirable."""
    now = now or timezone.now()
    with transaction.atomic():
        room = WaitingRoom.objects.select_for_update().filter(pk=room_id).first()
        if room is None or not room_is_retirable(room=room, now=now):
            return None
        queued = room_tombstone_write(room=room)
        room.retired_at = now
        room.save(update_fields=["retired_at"])
    logger.info("closed room %s left Redis (%d still queued were dropped)", room.slug, queued)
    return queued


def rooms_retire(*, now: datetime | None = None) -> int:
    """Retire every closed room in front of no campaign past its grace; returns how many."""
    now = now or timezone.now()
    candidates = WaitingRoom.objects.filter(
        campaign__isnull=True, status=Status.CLOSED, retired_at__isnull=True, updated_at__lte=retire_cutoff(now=now)
    ).values_list("pk", flat=True)
    return sum(1 for room_id in candidates if room_retire(room_id=room_id, now=now) is not None)
