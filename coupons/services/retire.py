"""Ended campaigns leave Redis: after a grace period the gate becomes a tombstone, and its room goes too.

Redis holds what is live, not history (docs/operations.md, "Redis memory").
A campaign that ended (sold out with every grant settled, closed or
cancelled, with no grant pending) and whose room is closed keeps, once nothing
changed for REDIS_RETIRE_GRACE_SECONDS, only a tombstone of its gate
(coupons/scripts/retire.lua): a meta hash saying how it ended and what was
left, still rate limited. A late click is answered from it: the user's grant
from PostgreSQL if they hold one, else 409 sold_out, closed or cancelled.

A retired gate is never rebuilt: campaign_gate_rebuild() and
gate_meta_publish() write the tombstone again instead (after a Redis flush, a
staff edit), the status tick and the periodic heal skip retired campaigns, and
meta_update.lua leaves a tombstone as it is. So a retired drop cannot be
reopened; a new campaign is made instead (its terms are frozen anyway).
"""

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from redis.exceptions import LockError, RedisError

from config import clock
from coupons import redis_rebuild
from coupons import redis_retire as gate_retire
from coupons.locks import campaign_lock
from coupons.models import Campaign, Grant
from waitingroom.models import WaitingRoom
from waitingroom.services import retire as room_retire_service

logger = logging.getLogger(__name__)
Status = Campaign.Status

ENDED = {Status.SOLD_OUT: "sold_out", Status.CLOSED: "closed", Status.CANCELLED: "cancelled"}


def gate_tombstone_build(*, campaign: Campaign) -> gate_retire.Tombstone:
    """The tombstone of an ended campaign, from PostgreSQL."""
    live = Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count()
    return gate_retire.Tombstone(
        ended=ENDED.get(campaign.status, "closed"),
        remaining=max(0, campaign.quantity - live),
        closes_at_ms=clock.to_ms(campaign.closes_at),
        rate_limits=campaign.rate_limits_meta(),
    )


def gate_tombstone_write(*, campaign: Campaign) -> None:
    """Write a retired campaign's tombstone (again): what a rebuild of a retired gate does."""
    gate_retire.retire(campaign_id=campaign.pk, tombstone=gate_tombstone_build(campaign=campaign))


def _retirable(*, now: datetime) -> Q:
    """Campaigns that ended and settled, unchanged (nor any of their grants) since the grace began."""
    cutoff = room_retire_service.retire_cutoff(now=now)
    grants = Grant.objects.filter(campaign=OuterRef("pk"))
    room = WaitingRoom.objects.filter(campaign=OuterRef("pk"))
    room_closed = room.filter(Q(retired_at__isnull=False) | Q(status=WaitingRoom.Status.CLOSED, updated_at__lte=cutoff))
    return (
        Q(gate_retired_at__isnull=True, status__in=list(ENDED), updated_at__lte=cutoff)
        & ~Exists(grants.filter(status=Grant.Status.PENDING))
        & ~Exists(grants.filter(updated_at__gt=cutoff))
        & (~Exists(room) | Exists(room_closed))
    )


def _sold_out_for_good(campaign: Campaign) -> bool:
    """A sell-out is final once every slot is held by a settled grant (no failure can give one back)."""
    if campaign.status != Status.SOLD_OUT:
        return True
    return Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count() >= campaign.quantity


@dataclass(frozen=True, kw_only=True)
class Retired:
    campaign: str
    ended: str
    keys_deleted: int
    queued_dropped: int  # users still in the room's queue


def campaign_retire(*, campaign_id: int, now: datetime | None = None) -> Retired | None:
    """Retire one campaign (and its room) if it is retirable now; None otherwise.

    It holds the gate's rebuild lock, so no rebuild writes a live gate over the
    tombstone, and the campaign's row lock, so the checks hold until the mark commits.
    """
    now = now or timezone.now()
    lock = redis_rebuild.rebuild_lock(campaign_id=campaign_id)
    if not lock.acquire(blocking=True):
        return None  # a rebuild is running: the next run retires it
    try:
        with transaction.atomic():
            campaign = campaign_lock(campaign_id=campaign_id)
            if not Campaign.objects.filter(_retirable(now=now), pk=campaign_id).exists():
                return None
            if not _sold_out_for_good(campaign):
                return None
            room = WaitingRoom.objects.filter(campaign_id=campaign_id).first()
            queued = 0
            if room is not None and room.retired_at is None:
                queued = room_retire_service.room_retire(room_id=room.pk, now=now)
                if queued is None:
                    return None
            tombstone = gate_tombstone_build(campaign=campaign)
            deleted = gate_retire.retire(campaign_id=campaign_id, tombstone=tombstone)
            campaign.gate_retired_at = now
            campaign.save(update_fields=["gate_retired_at"])
    finally:
        with contextlib.suppress(LockError):
            lock.release()
    logger.info(
        "ended campaign %s left Redis after its grace (%s); a tombstone answers late clicks",
        campaign.slug,
        tombstone.ended,
    )
    return Retired(campaign=campaign.slug, ended=tombstone.ended, keys_deleted=deleted, queued_dropped=queued)


def campaigns_retire(*, now: datetime | None = None) -> list[Retired]:
    """The periodic job (beat): retire every campaign past its grace, then the rooms of no campaign."""
    now = now or timezone.now()
    retired = []
    for campaign_id in Campaign.objects.filter(_retirable(now=now)).values_list("pk", flat=True):
        try:
            outcome = campaign_retire(campaign_id=campaign_id, now=now)
        except RedisError as exc:
            logger.warning("could not retire campaign %s: %s", campaign_id, exc)
            continue
        if outcome is not None:
            retired.append(outcome)
    try:
        room_retire_service.rooms_retire(now=now)
    except RedisError as exc:
        logger.warning("could not retire closed rooms: %s", exc)
    return retired
