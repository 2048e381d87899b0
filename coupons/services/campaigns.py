"""The campaign lifecycle: create, publish, open, close, cancel; the status follows the window and the stock."""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from coupons import redis as gate
from coupons.errors import CampaignNotFound, GateUnavailable, InvalidTransition
from coupons.locks import campaign_lock
from coupons.models import Campaign, Grant
from coupons.services.gate import gate_meta_publish
from coupons.services.rankings import ranking_sold_out
from coupons.signals import campaign_ended

logger = logging.getLogger(__name__)
Status = Campaign.Status


def campaign_create(
    *,
    slug: str,
    title: str,
    quantity: int,
    amount: int,
    opens_at: datetime,
    closes_at: datetime,
    kind: str = Campaign.Kind.CREDIT,
    description: str = "",
    **fields,
) -> Campaign:
    """A draft campaign (publish it to freeze its terms and open its gate); `fields` set the rest
    (coupon_valid_days, the rate limits)."""
    campaign = Campaign(
        slug=slug,
        title=title,
        kind=kind,
        quantity=quantity,
        amount=amount,
        opens_at=opens_at,
        closes_at=closes_at,
        description=description,
        **fields,
    )
    campaign.full_clean()
    campaign.save()
    return campaign


def _status_for_window(campaign: Campaign, now: datetime) -> str:
    if now >= campaign.closes_at:
        return Status.CLOSED
    return Status.OPEN if now >= campaign.opens_at else Status.SCHEDULED


@transaction.atomic
def campaign_publish(*, campaign: Campaign, open_now: bool = False) -> Campaign:
    """draft → scheduled/open: the terms freeze and the gate appears in Redis."""
    campaign = campaign_lock(campaign_id=campaign.pk)
    if campaign.status != Status.DRAFT:
        raise InvalidTransition(_("Only a draft can be published."))
    now = timezone.now()
    if open_now:
        campaign.opens_at = min(campaign.opens_at, now)
    if campaign.allocation == Campaign.Allocation.CHOSEN and campaign.seats.count() != campaign.quantity:
        raise InvalidTransition(_("Generate the seat map first: a chosen-seat campaign needs one seat per slot."))
    campaign.full_clean()
    campaign.status = _status_for_window(campaign, now)
    campaign.published_at = now
    campaign.save()
    transaction.on_commit(partial(gate_meta_publish, campaign=campaign))
    return campaign


@transaction.atomic
def campaign_open_now(*, campaign: Campaign) -> Campaign:
    """Open a draft or scheduled campaign immediately (moves opens_at to now)."""
    if campaign.status == Status.DRAFT:
        return campaign_publish(campaign=campaign, open_now=True)
    campaign = campaign_lock(campaign_id=campaign.pk)
    if campaign.status != Status.SCHEDULED:
        raise InvalidTransition(_("Only a draft or scheduled campaign can be opened now."))
    campaign.opens_at = timezone.now()
    campaign.status = Status.OPEN
    campaign.save(update_fields=["opens_at", "status", "updated_at"])
    transaction.on_commit(partial(gate_meta_publish, campaign=campaign))
    return campaign


def _campaign_end(campaign: Campaign, status: str) -> Campaign:
    with transaction.atomic():
        campaign = campaign_lock(campaign_id=campaign.pk)
        if campaign.status in (Status.DRAFT, Status.CANCELLED) or campaign.status == status:
            raise InvalidTransition(
                _("A campaign that is %(current)s cannot become %(target)s.")
                % {"current": campaign.get_status_display(), "target": Status(status).label}
            )
        campaign.status = status
        campaign.save(update_fields=["status", "updated_at"])
        campaign_ended.send(sender=Campaign, campaign_id=campaign.pk, status=status)
    gate_meta_publish(campaign=campaign)
    return campaign


def campaign_close(*, campaign: Campaign) -> Campaign:
    """Stop claims now; granted slots are honoured."""
    return _campaign_end(campaign, Status.CLOSED)


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop claims for good; grants already made are still delivered."""
    return _campaign_end(campaign, Status.CANCELLED)


def campaign_status_refresh(*, now: datetime | None = None) -> int:
    """Move displayed statuses with the window and the stock; returns how many changed.

    It also re-publishes every active campaign's meta to its gate (rebuilding a
    missing gate), so a status change whose Redis update was lost heals within
    a tick.
    """
    now = now or timezone.now()
    changed = Campaign.objects.filter(status=Status.SCHEDULED, opens_at__lte=now, closes_at__gt=now).update(
        status=Status.OPEN, updated_at=now
    )
    with transaction.atomic():  # the closes and their signals commit together
        ending = list(
            Campaign.objects.select_for_update()
            .filter(status__in=[Status.SCHEDULED, Status.OPEN, Status.SOLD_OUT], closes_at__lte=now)
            .order_by("pk")  # the lock order of coupons/locks.py
            .values_list("pk", flat=True)
        )
        changed += Campaign.objects.filter(pk__in=ending).update(status=Status.CLOSED, updated_at=now)
        for campaign_id in ending:
            campaign_ended.send(sender=Campaign, campaign_id=campaign_id, status=Status.CLOSED)
    for campaign in Campaign.objects.filter(status__in=[Status.OPEN, Status.SOLD_OUT], gate_retired_at__isnull=True):
        live = Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count()
        if campaign.status == Status.OPEN and live >= campaign.quantity:
            changed += campaign_mark_sold_out(campaign_id=campaign.pk, now=now)
        elif campaign.status == Status.SOLD_OUT and live < campaign.quantity:
            # Back to open only when the gate really has a free slot again (a grant
            # failed), not while the last claims' inserts are still in flight.
            remaining = gate.remaining(campaign_id=campaign.pk)
            if remaining is not None and remaining > 0:
                changed += Campaign.objects.filter(pk=campaign.pk, status=Status.SOLD_OUT).update(
                    status=Status.OPEN, updated_at=now
                )
    # A retired campaign's gate is a tombstone that nothing republishes (coupons/services/retire.py).
    recent = Campaign.objects.filter(status__in=Campaign.PUBLISHED, closes_at__gt=now - timedelta(days=1))
    for campaign in recent.filter(gate_retired_at__isnull=True):
        try:
            gate_meta_publish(campaign=campaign)
        except (RedisError, GateUnavailable, CampaignNotFound) as exc:
            logger.warning("could not publish the gate of %s: %s", campaign.slug, exc)
    return changed


def campaign_mark_sold_out(*, campaign_id: int, now: datetime) -> int:
    """open/scheduled → sold out; the first sell-out time is kept and ranked once."""
    with transaction.atomic():  # the change and its signal commit together
        first = Campaign.objects.filter(
            pk=campaign_id, status__in=[Status.OPEN, Status.SCHEDULED], sold_out_at__isnull=True
        ).update(status=Status.SOLD_OUT, sold_out_at=now, updated_at=now)
        changed = first or Campaign.objects.filter(pk=campaign_id, status__in=[Status.OPEN, Status.SCHEDULED]).update(
            status=Status.SOLD_OUT, updated_at=now
        )
        if changed:
            campaign_ended.send(sender=Campaign, campaign_id=campaign_id, status=Status.SOLD_OUT)
    if first:
        opens_at, unlisted = Campaign.objects.filter(pk=campaign_id).values_list("opens_at", "unlisted").first()
        seconds = max(0, int((now - opens_at).total_seconds()))
        ranking_sold_out(campaign_id=campaign_id, at=now, seconds=seconds, unlisted=unlisted)
    return changed
