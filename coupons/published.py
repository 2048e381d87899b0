"""firstcome's published campaigns as this process last read them, checked at every use against their version.

The version is a Redis key (coupons.listing_redis.CAMPAIGNS_VERSION_KEY) that a new value replaces once any
change of a campaign row commits: a save or delete (Django's signals) or a bulk update
(coupons.signals.campaign_rows_changed); a waiting room's save or delete replaces it too. Every use
reads it in the same round trip as the stock, so a page never shows a campaign older than the
request; PostgreSQL is read again only after a change. A change made outside the ORM (raw SQL)
is not seen until the next change or restart.
"""

import threading
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from coupons import listing_redis
from coupons.models import Campaign
from coupons.selectors import campaign_get_published, campaign_list_published, campaign_remaining
from coupons.signals import campaign_rows_changed
from waitingroom.models import WaitingRoom
from waitingroom.selectors import room_for_campaign

LISTED_KEPT = 200  # the most any list shows (the campaign list API's)


@dataclass
class _Copy:
    version: bytes | None
    listed: list[Campaign]  # listed ones, newest opening first (selectors.campaign_list_published)
    by_slug: dict[str, Campaign] = field(default_factory=dict)  # any published one, read when first asked
    rooms: dict[int, WaitingRoom | None] = field(default_factory=dict)  # campaign id -> its room, likewise


_copy = _Copy(version=None, listed=[])
_reading = threading.Lock()


def _current(campaign_ids: list[int]) -> tuple[_Copy, dict[int, int | None]]:
    """This process's copy at the current version, and the stock of `campaign_ids` (which it must hold)."""
    global _copy
    held = _copy
    version, remaining = listing_redis.campaigns_version_and_remaining(campaign_ids)
    if version is not None and version == held.version:
        return held, remaining
    if version is None:  # a new Redis, or one flushed: start a version, then read
        listing_redis.campaigns_version_replace(if_missing=True)
        version, _ = listing_redis.campaigns_version_and_remaining([])
    with _reading:
        if _copy.version != version or version is None:
            _copy = _Copy(version=version, listed=list(campaign_list_published()[:LISTED_KEPT]))
        return _copy, {}


def campaigns_listed(*, limit: int) -> list[Campaign]:
    """The first `limit` listed campaigns (as selectors.campaign_list_published), each the caller's own copy
    with `remaining` (the gate's, or the database's when the gate is missing) set."""
    held, remaining = _current([c.pk for c in _copy.listed[:limit]])
    campaigns = held.listed[:limit]
    if campaigns and not remaining:  # read at a new version: its stock is asked for now
        _, remaining = listing_redis.campaigns_version_and_remaining([c.pk for c in campaigns])
    return [_with_remaining(campaign, remaining.get(campaign.pk)) for campaign in campaigns]


def campaign_published(*, slug: str) -> Campaign:
    """A published campaign of firstcome's by slug (listed or not), the caller's own copy with `remaining` set."""
    kept = _copy.by_slug.get(slug)
    held, remaining = _current([kept.pk] if kept else [])
    campaign = held.by_slug.get(slug)
    if campaign is None:
        campaign = held.by_slug[slug] = campaign_get_published(slug=slug)  # CampaignNotFound if it is not
    return _with_remaining(campaign, remaining.get(campaign.pk))


def campaign_room(*, campaign_id: int) -> WaitingRoom | None:
    """The waiting room in front of a published campaign (shared: never change it). A room's save or
    delete replaces the version too; its bulk status updates change nothing a page shows of it."""
    held = _copy
    if campaign_id not in held.rooms:
        held.rooms[campaign_id] = room_for_campaign(campaign_id=campaign_id)
    return held.rooms[campaign_id]


def _with_remaining(campaign: Campaign, remaining: int | None) -> Campaign:
    own = Campaign.__new__(Campaign)  # the kept one is every thread's: the view sets its own fields on a copy
    own.__dict__.update(campaign.__dict__)
    own.remaining = max(remaining, 0) if remaining is not None else campaign_remaining(campaign=own)
    return own


def _changed(**kwargs) -> None:
    transaction.on_commit(listing_redis.campaigns_version_replace)


def receivers_connect() -> None:
    """Every process that may change a campaign (web, workers, commands) replaces the version: apps.py."""
    post_save.connect(_changed, sender=Campaign, dispatch_uid="coupons.published.saved")
    post_delete.connect(_changed, sender=Campaign, dispatch_uid="coupons.published.deleted")
    post_save.connect(_changed, sender=WaitingRoom, dispatch_uid="coupons.published.room_saved")
    post_delete.connect(_changed, sender=WaitingRoom, dispatch_uid="coupons.published.room_deleted")
    campaign_rows_changed.connect(_changed, dispatch_uid="coupons.published.updated")
