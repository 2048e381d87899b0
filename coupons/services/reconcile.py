"""Reconcile: compare a campaign's gate with PostgreSQL, report drift and rebuild it; the periodic heal."""

import logging
from dataclasses import dataclass, field

from django.db import DatabaseError
from redis.exceptions import RedisError

from coupons import redis as gate
from coupons import redis_rebuild
from coupons.errors import GateUnavailable
from coupons.models import Campaign, Grant
from coupons.seats import redis as seats_redis
from coupons.services import gate_heal
from coupons.services.gate import campaign_gate_rebuild, gate_meta_build, sold_seats

logger = logging.getLogger(__name__)
Status = Campaign.Status


@dataclass
class DriftReport:
    campaign: str
    gate_missing: bool = False
    missing_in_redis: list[str] = field(default_factory=list)  # live grants Redis does not hold
    unknown_in_redis: list[str] = field(default_factory=list)  # Redis holds without a live grant
    slots_mismatch: list[str] = field(default_factory=list)  # next, free and holds do not add up
    meta_mismatch: list[str] = field(default_factory=list)  # state, window or quantity differ
    remaining_redis: int | None = None
    remaining_db: int = 0
    in_flight: int = 0  # claims whose INSERT has not committed yet (their slots count in remaining_redis)
    retired: bool = False  # the campaign's gate is a tombstone (coupons/services/retire.py): nothing to compare
    fixed: bool = False

    @property
    def drifted(self) -> bool:
        return (
            self.gate_missing
            or bool(self.missing_in_redis)
            or bool(self.unknown_in_redis)
            or bool(self.slots_mismatch)
            or bool(self.meta_mismatch)
        )


def campaign_reconcile(*, campaign: Campaign, fix: bool = True) -> DriftReport:
    """Compare the gate with PostgreSQL; rebuild it when they differ (and `fix`).

    Claims in flight are no drift (gate_heal.holds_drift says how they are told
    apart), so it can run during a drop: campaign_gates_heal runs it every few
    seconds.
    """
    campaign = Campaign.objects.get(pk=campaign.pk)
    report = DriftReport(campaign=campaign.slug)
    if campaign.gate_retired_at is not None:
        # Retired: the live state left Redis on purpose, and rebuilding it would resurrect the drop.
        report.retired = True
        report.remaining_db = campaign.quantity - Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count()
        report.gate_missing = not gate.is_retired(campaign_id=campaign.pk)
        if report.gate_missing and fix:
            campaign_gate_rebuild(campaign_id=campaign.pk, force=True)  # writes the tombstone back
            report.fixed = True
        return report
    expected_meta = {k: str(v) for k, v in gate_meta_build(campaign=campaign).fields().items()}
    if campaign.allocation == Campaign.Allocation.CHOSEN:
        _seats_drift(campaign, report, expected_meta)
    else:
        drift = gate_heal.holds_drift(campaign_id=campaign.pk, quantity=campaign.quantity, fix=fix)
        report.gate_missing = drift is None
        live = drift.live if drift else Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count()
        report.remaining_db = campaign.quantity - live
        if drift is not None:
            report.meta_mismatch = _meta_mismatch(expected_meta, drift.meta)
            report.missing_in_redis, report.unknown_in_redis = drift.missing, drift.unknown
            report.slots_mismatch, report.in_flight = drift.slots, drift.in_flight
            report.remaining_redis = drift.remaining_redis
    if report.drifted and fix:
        campaign_gate_rebuild(campaign_id=campaign.pk, force=True)
        report.fixed = True
    return report


def _meta_mismatch(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    return [f"{k}: redis={actual.get(k)} db={v}" for k, v in expected.items() if actual.get(k) != v]


def _seats_drift(campaign: Campaign, report: DriftReport, expected_meta: dict[str, str]) -> None:
    """Seats: compare the sold marks and the buyers (holds are Redis-only by design)."""
    sold_db = set(sold_seats(campaign=campaign))
    report.remaining_db = campaign.quantity - len(sold_db)
    report.gate_missing = not redis_rebuild.gate_exists(campaign_id=campaign.pk)
    if report.gate_missing:
        return
    report.meta_mismatch = _meta_mismatch(expected_meta, gate.meta_get(campaign_id=campaign.pk))
    report.remaining_redis = gate.remaining(campaign_id=campaign.pk)
    sold_redis = {slot for slot, value in seats_redis.seat_states(campaign_id=campaign.pk).items() if value == "sold"}
    report.missing_in_redis = [f"seat slot {s} sold" for s in sorted(sold_db - sold_redis)]
    report.unknown_in_redis = [f"seat slot {s} marked sold" for s in sorted(sold_redis - sold_db)]
    # the buyers a hold refuses (already_booked): user -> "<slot>:<grant id>", as a rebuild writes them
    live = Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE)
    buyers_db = {user: f"{slot}:{grant_id}" for user, slot, grant_id in live.values_list("user_id", "slot", "id")}
    buyers_redis = seats_redis.seat_buyers(campaign_id=campaign.pk)
    for user, bought in sorted(buyers_db.items()):
        if buyers_redis.get(user) != bought:
            report.missing_in_redis.append(f"buyer {user} of seat slot {bought.partition(':')[0]}")
    for user, bought in sorted(buyers_redis.items()):
        if user not in buyers_db:
            report.unknown_in_redis.append(f"buyer {user} of seat slot {bought.partition(':')[0]}")
    if report.remaining_redis != report.remaining_db:
        report.slots_mismatch = [f"remaining redis={report.remaining_redis} db={report.remaining_db}"]


def campaign_gates_heal() -> int:
    """The periodic check (beat): reconcile every open first-free campaign; returns how many were rebuilt.

    After a Redis failover that lost the last writes, this is what bounds how long
    the gate can disagree with PostgreSQL (docs/reliability.md, I9). Seat
    campaigns are left to `reconcile`: a rebuild of theirs drops every live hold.
    """
    healed = 0
    campaigns = Campaign.objects.filter(
        status__in=[Status.OPEN, Status.SOLD_OUT],
        allocation=Campaign.Allocation.FIRST_FREE,
        gate_retired_at__isnull=True,  # a retired gate is a tombstone on purpose: never "healed" back
    )
    for campaign in campaigns:
        try:
            report = campaign_reconcile(campaign=campaign, fix=True)
        except (RedisError, DatabaseError, GateUnavailable) as exc:
            logger.warning("could not check the gate of %s: %s", campaign.slug, exc)
            continue
        if report.fixed:
            healed += 1
            logger.warning("gate of %s drifted from PostgreSQL and was rebuilt: %s", campaign.slug, report)
    return healed
