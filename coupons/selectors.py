"""Reads for the coupons app: campaigns, remaining stock, a user's grants, wallet and coupons."""

import contextlib
import operator
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from redis.exceptions import RedisError

from coupons import listing_redis
from coupons import redis as gate
from coupons.errors import CampaignNotFound, GrantNotFound
from coupons.models import Campaign, Coupon, Grant, LedgerEntry, Wallet
from waitingroom.protected import CampaignStock

# slug -> id of published campaigns; a published campaign's slug never changes
# and it is never deleted, so this per-process memo needs no invalidation.
_campaign_ids: dict[str, int] = {}


def campaign_id_by_slug(*, slug: str) -> int:
    """The id of a published campaign, from memory or Redis; PostgreSQL only on a miss."""
    campaign_id = _campaign_ids.get(slug)
    if campaign_id is not None:
        return campaign_id
    # The map is one key for every campaign, so on a Redis Cluster it sits on one
    # master: when that one is down it is only a cache miss, not an outage of
    # campaigns whose gates live elsewhere (docs/scaling.md).
    try:
        campaign_id = gate.slug_lookup(slug)
    except RedisError:
        campaign_id = None
    if campaign_id is None:
        campaign_id = (
            Campaign.objects.filter(slug=slug, status__in=Campaign.PUBLISHED, namespace="")
            .values_list("id", flat=True)
            .first()
        )
        if campaign_id is None:
            raise CampaignNotFound()
        with contextlib.suppress(RedisError):
            gate.slug_remember(slug, campaign_id)
    _campaign_ids[slug] = campaign_id
    return campaign_id


# (namespace, slug) -> id of another system's published campaigns (same reasoning as _campaign_ids).
_namespaced_ids: dict[tuple[str, str], int] = {}


def campaign_id_in_namespace(*, namespace: str, slug: str) -> int:
    """The id of a published campaign owned by `namespace`, from memory; PostgreSQL once per process.

    A campaign of another namespace, or none, is 404 alike: its existence does not leak.
    """
    campaign_id = _namespaced_ids.get((namespace, slug))
    if campaign_id is not None:
        return campaign_id
    campaign_id = (
        Campaign.objects.filter(slug=slug, namespace=namespace, status__in=Campaign.PUBLISHED)
        .values_list("id", flat=True)
        .first()
    )
    if campaign_id is None:
        raise CampaignNotFound()
    _namespaced_ids[(namespace, slug)] = campaign_id
    return campaign_id


def campaign_ids_forget() -> None:
    """Drop this process's memos of campaign ids (tests: the rows they named were rolled back)."""
    _campaign_ids.clear()
    _namespaced_ids.clear()


def campaign_get_in_namespace(*, namespace: str, slug: str) -> Campaign:
    """Any campaign of `namespace` (drafts too), or 404."""
    campaign = Campaign.objects.filter(slug=slug, namespace=namespace).first()
    if campaign is None:
        raise CampaignNotFound()
    return campaign


def campaign_list_in_namespace(*, namespace: str) -> QuerySet[Campaign]:
    return Campaign.objects.filter(namespace=namespace).order_by("-created_at")


def campaign_grant_counts(*, campaign: Campaign) -> dict[str, int]:
    """The campaign's grants by status (pending, succeeded, failed), zeros included."""
    return campaign_grant_counts_many(campaigns=[campaign])[campaign.pk]


def campaign_grant_counts_many(*, campaigns: list[Campaign]) -> dict[int, dict[str, int]]:
    """campaign_grant_counts for several campaigns in one query."""
    counts = {campaign.pk: dict.fromkeys(Grant.Status.values, 0) for campaign in campaigns}
    rows = (
        Grant.objects.filter(campaign__in=campaigns)
        .values_list("campaign_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for campaign_id, status, n in rows:
        counts[campaign_id][status] = n
    return counts


def campaign_list_published() -> QuerySet[Campaign]:
    """firstcome's own public list of drops: another system's campaigns are not shown to firstcome's
    users, and unlisted ones (test drops) are left out; their pages still open by link."""
    return Campaign.objects.filter(status__in=Campaign.PUBLISHED, namespace="", unlisted=False).order_by("-opens_at")


def campaign_shown(*, campaign: Campaign) -> tuple:
    """Everything of a campaign a page or answer can show (its whole row, the stock left and whether it
    opened, where the view set them): the key of a copy made from it (config/memo.py)."""
    return (_campaign_row(campaign), getattr(campaign, "remaining", None), getattr(campaign, "opened", None))


_campaign_row = operator.attrgetter(*(field.attname for field in Campaign._meta.concrete_fields))


def campaign_get_published(*, slug: str) -> Campaign:
    campaign = Campaign.objects.filter(slug=slug, status__in=Campaign.PUBLISHED, namespace="").first()
    if campaign is None:
        raise CampaignNotFound()
    return campaign


def campaign_remaining(*, campaign: Campaign) -> int:
    """Slots left, O(1) from Redis; from PostgreSQL if the gate is missing (e.g. after a flush)."""
    if campaign.status == Campaign.Status.DRAFT:
        return campaign.quantity
    value = gate.remaining(campaign_id=campaign.pk)
    if value is None:
        value = campaign.quantity - Grant.objects.filter(campaign=campaign, status__in=Grant.LIVE).count()
    return max(value, 0)


def campaign_stock_for_room(*, campaign_id: int) -> CampaignStock:
    """The campaign as its waiting room sees it (waitingroom/protected.py): ended, and the slots left
    of a first-come stock (a seat campaign's stock is its seat map: no cap)."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status in (Campaign.Status.CLOSED, Campaign.Status.CANCELLED):
        return CampaignStock(ended=True, remaining=None)
    if campaign.allocation == Campaign.Allocation.CHOSEN:
        return CampaignStock(ended=False, remaining=None)
    return CampaignStock(ended=False, remaining=campaign_remaining(campaign=campaign))


def campaign_pending_grants(*, campaign_id: int) -> int:
    return Grant.objects.filter(campaign_id=campaign_id, status=Grant.Status.PENDING).count()


def campaign_remaining_many(*, campaigns: list[Campaign]) -> dict[int, int]:
    published = [c for c in campaigns if c.status != Campaign.Status.DRAFT]
    values = listing_redis.remaining_many(c.pk for c in published)
    result = {c.pk: c.quantity for c in campaigns}
    for campaign in published:
        value = values.get(campaign.pk)
        result[campaign.pk] = max(value, 0) if value is not None else campaign_remaining(campaign=campaign)
    return result


@dataclass(frozen=True)
class GrantCounts:
    pending: int
    succeeded: int
    failed: int

    @property
    def live(self) -> int:
        return self.pending + self.succeeded


def grant_counts(*, campaign: Campaign) -> GrantCounts:
    counts = Grant.objects.filter(campaign=campaign).aggregate(
        pending=Count("id", filter=Q(status=Grant.Status.PENDING)),
        succeeded=Count("id", filter=Q(status=Grant.Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=Grant.Status.FAILED)),
    )
    return GrantCounts(**counts)


def grant_list_for_user(*, user_id: int) -> QuerySet[Grant]:
    return Grant.objects.filter(user_id=user_id).select_related("campaign", "seat", "coupon").order_by("-created_at")


def grant_latest_for_user_in_campaign(*, user_id: int, campaign_id: int) -> Grant | None:
    """The user's most recent grant in a campaign (live or failed), for the campaign page."""
    return grant_list_for_user(user_id=user_id).filter(campaign_id=campaign_id).first()


def grant_get_for_user(*, grant_id, user_id: int) -> Grant:
    grant = Grant.objects.filter(pk=grant_id, user_id=user_id).select_related("campaign", "seat", "coupon").first()
    if grant is None:
        raise GrantNotFound()
    return grant


def grant_get_in_namespace(*, grant_id, namespace: str) -> Grant:
    """A grant of a campaign owned by `namespace`, with its client (404 for any other)."""
    grant = (
        Grant.objects.filter(pk=grant_id, campaign__namespace=namespace)
        .exclude(campaign__namespace="")
        .select_related("campaign", "user__external_client")
        .first()
    )
    if grant is None:
        raise GrantNotFound()
    return grant


def wallet_get_for_user(*, user_id: int) -> Wallet | None:
    return Wallet.objects.filter(user_id=user_id).first()


def ledger_list_for_user(*, user_id: int) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(wallet__user_id=user_id).select_related("grant__campaign").order_by("-created_at")


def coupon_list_for_user(*, user_id: int) -> QuerySet[Coupon]:
    return Coupon.objects.filter(user_id=user_id).select_related("campaign").order_by("-created_at")
