"""The sweeper (beat): drains nobody asked for, stuck pending grants, and leases that outlived their deadline."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from config import clock
from coupons import redis as gate
from coupons.models import Campaign, Grant
from coupons.services.enqueue import drain_enqueue
from coupons.services.grants import grant_redrive


@dataclass
class SweepReport:
    drains_started: int = 0
    redriven: int = 0
    leases_dropped: int = 0
    leases_extended: int = 0
    released: int = 0


def grant_sweep(*, now: datetime | None = None, batch: int = 1000) -> SweepReport:
    """Start drains nobody asked for, re-drive stuck pending grants, and settle leases
    that outlived their deadline."""
    now = now or timezone.now()
    report = SweepReport()
    # Untried grants a drain should have taken by now (its ring or message was
    # lost, or its worker died): one drain per campaign. A drain already busy
    # with them makes the extra one skip its locked rows and end at once.
    waiting_since = now - timedelta(seconds=settings.GRANT_DRAIN_SWEEP_AFTER_SECONDS)
    waiting = (
        Grant.objects.filter(status=Grant.Status.PENDING, attempts=0, created_at__lt=waiting_since)
        .order_by()
        .values_list("campaign_id", flat=True)
        .distinct()
    )
    report.drains_started = sum(drain_enqueue(campaign_id) for campaign_id in waiting)
    # Grants in the per-grant retry chain whose message was lost (and, as a last
    # resort, untried ones no drain delivered for that long) go one by one.
    stuck_before = now - timedelta(seconds=settings.GRANT_STUCK_AFTER_SECONDS)
    stuck = list(
        Grant.objects.filter(status=Grant.Status.PENDING, updated_at__lt=stuck_before).values_list("id", flat=True)[
            :batch
        ]
    )
    report.redriven = grant_redrive(grant_ids=[str(g) for g in stuck])

    recent = now - timedelta(days=1)
    campaign_ids = Campaign.objects.filter(
        status__in=Campaign.PUBLISHED,
        closes_at__gt=recent,
        gate_retired_at__isnull=True,  # a tombstone has no lease
    ).values_list("id", flat=True)
    extend_to = clock.to_ms(now) + settings.GRANT_LEASE_SECONDS * 1000
    for campaign_id in campaign_ids:
        holds = gate.leases_expired(campaign_id=campaign_id, now_ms=clock.to_ms(now), limit=batch)
        if not holds:
            continue
        statuses = dict(Grant.objects.filter(pk__in=[h.grant_id for h in holds]).values_list("id", "status"))
        for hold in holds:
            status = statuses.get(uuid.UUID(hold.grant_id))
            if status == Grant.Status.SUCCEEDED:
                gate.lease_drop(campaign_id=campaign_id, hold=hold)
                report.leases_dropped += 1
            elif status == Grant.Status.PENDING:
                gate.lease_extend(campaign_id=campaign_id, hold=hold, deadline_ms=extend_to)
                report.leases_extended += 1
            else:
                # failed, or never recorded (the insert failed or the web process died
                # before it): the claim was never acknowledged, so the slot goes back.
                gate.release(campaign_id=campaign_id, hold=hold, reuse_slot=True)
                report.released += 1
    return report
