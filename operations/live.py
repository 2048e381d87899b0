"""Live numbers of campaigns and rooms, read the same way for the staff dashboard and /metrics.

Counters come from Redis (claims and holds by outcome, admissions), grant
counts from PostgreSQL (the source of truth, so the dashboard matches the
database by construction), stock and queue sizes from the Redis gate.
"""

from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.utils import timezone

from coupons import listing_redis
from coupons import redis as gate
from coupons.models import Campaign, Grant
from waitingroom import selectors as room_selectors
from waitingroom.models import WaitingRoom

# Campaigns that ended longer ago than this leave the dashboard and /metrics.
RECENT = timedelta(days=7)


@dataclass
class RoomLive:
    id: int
    slug: str
    title: str
    status: str
    admit_rate: int
    max_active: int
    queued: int = 0
    active: int = 0
    admitted: int = 0
    rate_ema: float = 0.0
    state: str = ""
    throttled: bool = False


@dataclass
class CampaignLive:
    id: int
    slug: str
    title: str
    status: str
    quantity: int
    remaining: int | None
    claims: dict[str, int]  # claim.lua's answers by outcome, since the counters began
    holds: dict[str, int]  # seat_hold.lua's answers by outcome
    grants: dict[str, int] = field(default_factory=dict)  # pending / succeeded / failed, from PostgreSQL
    room: RoomLive | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def campaign_get(*, campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign, pk=campaign_id)


def room_get(*, room_id: int) -> WaitingRoom:
    return get_object_or_404(WaitingRoom, pk=room_id)


def campaigns_recent() -> list[Campaign]:
    since = timezone.now() - RECENT
    return list(
        Campaign.objects.filter(status__in=Campaign.PUBLISHED, closes_at__gte=since).order_by("-opens_at", "pk")[:200]
    )


def newest_live(campaigns: list[Campaign]) -> Campaign | None:
    """The campaign staff most likely want to watch: the latest to open of those open now, else the
    next to open, else None."""
    open_now = [campaign for campaign in campaigns if campaign.status == Campaign.Status.OPEN]
    if open_now:
        return max(open_now, key=lambda campaign: (campaign.opens_at, campaign.pk))
    scheduled = [campaign for campaign in campaigns if campaign.status == Campaign.Status.SCHEDULED]
    return min(scheduled, key=lambda campaign: (campaign.opens_at, campaign.pk)) if scheduled else None


def room_live(room: WaitingRoom) -> RoomLive:
    live = RoomLive(room.pk, room.slug, room.title, room.status, room.admit_rate, room.max_active)
    stats = room_selectors.room_stats(room=room)
    live.queued, live.active, live.admitted = stats.queued, stats.active, stats.admitted
    live.rate_ema, live.state, live.throttled = stats.rate_ema, stats.state, stats.throttled
    return live


def campaigns_live(campaigns: list[Campaign]) -> list[CampaignLive]:
    """Every number of these campaigns, their rooms included: a few queries and round trips in all."""
    ids = [campaign.pk for campaign in campaigns]
    if not ids:
        return []
    stats = gate.stats_many(ids)
    remaining = listing_redis.remaining_many(ids)
    grants: dict[int, dict[str, int]] = {pk: dict.fromkeys(Grant.Status.values, 0) for pk in ids}
    rows = Grant.objects.filter(campaign_id__in=ids).values_list("campaign_id", "status").annotate(n=Count("id"))
    for campaign_id, status, count in rows.order_by():
        grants[campaign_id][status] = count
    rooms = {room.campaign_id: room for room in WaitingRoom.objects.filter(campaign_id__in=ids)}
    result = []
    for campaign in campaigns:
        counts = stats.get(campaign.pk, {})
        result.append(
            CampaignLive(
                id=campaign.pk,
                slug=campaign.slug,
                title=campaign.title,
                status=campaign.status,
                quantity=campaign.quantity,
                remaining=remaining.get(campaign.pk),
                claims={k: v for k, v in counts.items() if not k.startswith("hold:")},
                holds={k.removeprefix("hold:"): v for k, v in counts.items() if k.startswith("hold:")},
                grants=grants[campaign.pk],
                room=room_live(rooms[campaign.pk]) if campaign.pk in rooms else None,
            )
        )
    return result


def rooms_without_campaign() -> list[RoomLive]:
    rooms = WaitingRoom.objects.filter(campaign__isnull=True).exclude(status=WaitingRoom.Status.CLOSED)
    return [room_live(room) for room in rooms.order_by("pk")[:100]]
