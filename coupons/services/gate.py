"""The gate: a campaign's Redis state, built from PostgreSQL, rebuilt when lost, and its meta kept current."""

import contextlib
import logging
import time
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext_lazy as _
from redis.exceptions import LockError, RedisError

from config import clock
from coupons import redis as gate
from coupons import redis_rebuild
from coupons.errors import CampaignNotFound, GateUnavailable
from coupons.models import Campaign, Grant, Seat
from coupons.seats import redis as seats_redis
from coupons.services import gate_heal
from coupons.services.retire import gate_tombstone_write
from waitingroom.selectors import room_ref_for_campaign

logger = logging.getLogger(__name__)
Status = Campaign.Status


def _gate_state_of(campaign: Campaign) -> str:
    if campaign.status == Status.CANCELLED:
        return "cancelled"
    if campaign.status == Status.CLOSED:
        return "closed"
    return "live"


def gate_meta_build(*, campaign: Campaign) -> gate.GateMeta:
    """The meta hash the campaign's gate should hold, from the campaign and the room in front of it."""
    room = room_ref_for_campaign(campaign_id=campaign.pk)
    return gate.GateMeta(
        state=_gate_state_of(campaign),
        opens_at_ms=clock.to_ms(campaign.opens_at),
        closes_at_ms=clock.to_ms(campaign.closes_at),
        quantity=campaign.quantity,
        room=str(room[0]) if room else "",
        room_slug=room[1] if room else "",
        allocation=campaign.allocation,
        rate_limits=campaign.rate_limits_meta(),
    )


def sold_seats(*, campaign: Campaign) -> list[int]:
    return list(Seat.objects.filter(campaign=campaign, status=Seat.Status.SOLD).values_list("slot", flat=True))


def gate_state_build(*, campaign: Campaign) -> redis_rebuild.GateState:
    """The Redis state a campaign should have, computed from its live grants."""
    live = list(
        Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).values_list("user_id", "slot", "id", "status")
    )
    taken = {slot for _, slot, _, _ in live}
    highest = max(taken, default=0)
    deadline = clock.now_ms() + settings.GRANT_LEASE_SECONDS * 1000
    holds = [gate.Hold(slot, user_id, str(grant_id)) for user_id, slot, grant_id, _ in live]
    chosen = campaign.allocation == Campaign.Allocation.CHOSEN
    return redis_rebuild.GateState(
        meta=gate_meta_build(campaign=campaign),
        sold_seats=sold_seats(campaign=campaign) if chosen else [],
        next=highest,
        free=[slot for slot in range(1, highest + 1) if slot not in taken],
        holds=holds,
        lease_deadline_ms={
            hold.lease_member: deadline
            for hold, (_, _, _, status) in zip(holds, live, strict=True)
            if status == Grant.Status.PENDING
        },
    )


def campaign_gate_rebuild(*, campaign_id: int, force: bool = False, wait: bool = True) -> bool:
    """Rebuild a campaign's Redis state from PostgreSQL under a lock; claims wait for it.

    Without `force` it does nothing when another process already rebuilt it;
    without `wait` it does nothing while another process holds the lock (it is
    rebuilding). Grants that commit or fail while it runs are applied again
    afterwards (gate_heal.rebuild_catch_up: why that is complete). A retired
    campaign gets its tombstone back instead, never a live gate
    (coupons/services/retire.py). Returns whether it rebuilt.
    """
    lock = redis_rebuild.rebuild_lock(campaign_id=campaign_id)
    if not lock.acquire(blocking=wait):
        if not wait:
            return False
        raise GateUnavailable(_("The campaign is being restored; try again in a moment."))
    try:
        if not force and redis_rebuild.gate_exists(campaign_id=campaign_id):
            return False
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None or not campaign.is_published:
            raise CampaignNotFound()
        if campaign.gate_retired_at is not None:
            gate_tombstone_write(campaign=campaign)
            return False
        if campaign.allocation == Campaign.Allocation.CHOSEN:
            _fence_restore(campaign)  # before meta reappears, so no hold gets a small token
        state = gate_state_build(campaign=campaign)
        redis_rebuild.gate_write(campaign_id=campaign_id, gate=state)
        gate_heal.rebuild_catch_up(campaign_id=campaign_id, written=state)
        if not campaign.namespace:  # another system's campaigns are reached by their namespace, not this map
            gate.slug_remember(campaign.slug, campaign.pk)
        logger.info("gate of campaign %s rebuilt from PostgreSQL", campaign.slug)
        return True
    finally:
        with contextlib.suppress(LockError):  # expired meanwhile; the rebuild is idempotent
            lock.release()


def _fence_restore(campaign: Campaign) -> None:
    """Raise the fencing counter above every token that can exist: the largest one
    PostgreSQL recorded, and every token issued before Redis lost its counter
    (tokens grow by one per hold; the clock in microseconds outruns them)."""
    stored = Seat.objects.filter(campaign=campaign).aggregate(m=Max("fence_token"))["m"] or 0
    seats_redis.fence_raise(campaign_id=campaign.pk, at_least=max(stored, int(time.time() * 1_000_000)))


def campaign_gate_publish(*, campaign: Campaign) -> None:
    """Staff edited a published campaign (its rate limits, say): its gate gets the new values once
    committed (the status tick republishes every published campaign each second anyway)."""
    if campaign.is_published:
        transaction.on_commit(partial(gate_meta_publish, campaign=campaign))


def campaign_gate_room_set(*, campaign_id: int) -> None:
    """A waiting room was put in front of the campaign (or changed): the gate starts asking for passes."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is not None and campaign.is_published:
        gate_meta_publish(campaign=campaign)


def gate_meta_publish(*, campaign: Campaign) -> None:
    """Push the campaign's status and window (as PostgreSQL has them now) to its gate.

    Rebuilds a missing gate first; the second update covers a rebuild that read
    the campaign before the change being published committed.
    """
    campaign = Campaign.objects.get(pk=campaign.pk)
    if campaign.gate_retired_at is not None:
        gate_tombstone_write(campaign=campaign)  # a retired gate only ever gets its tombstone (a cancel after)
        return
    if gate.meta_set(campaign_id=campaign.pk, meta=gate_meta_build(campaign=campaign)):
        return
    campaign_gate_rebuild(campaign_id=campaign.pk)
    gate.meta_set(campaign_id=campaign.pk, meta=gate_meta_build(campaign=campaign))


def stats_correct_quietly(*, campaign_id: int, heard: str | None, counted: str | None = "accepted") -> None:
    """gate.stats_correct, never raising: a counter is never worth failing an answer for."""
    with contextlib.suppress(RedisError):
        gate.stats_correct(campaign_id=campaign_id, counted=counted, heard=heard)


def hold_release_quietly(*, campaign_id: int, hold: gate.Hold, reuse_slot: bool) -> None:
    """Release a hold; if Redis is down too, the sweeper finds the expired lease later."""
    try:
        gate.release(campaign_id=campaign_id, hold=hold, reuse_slot=reuse_slot)
    except RedisError as exc:
        logger.warning("could not release slot %s of campaign %s: %s", hold.slot, campaign_id, exc)
