"""Coupons on the leaderboards: the events settled grants and sell-outs record, and the source a
board's rebuild and labels read (ranking/feed.py). Boards are rebuildable from the grants table,
so a failed update is logged, never raised: a leaderboard never breaks a grant."""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Max
from django.db.models.functions import TruncDate, TruncHour

from config import redis as fc_redis
from coupons.models import Campaign, Grant
from ranking import feed
from ranking import redis as rank_redis
from ranking.models import Board
from ranking.periods import period_key
from ranking.services import event_record

logger = logging.getLogger(__name__)


def ranking_settled(*, grant: Grant, succeeded: bool) -> None:
    """Count a settled grant on the leaderboards, off the claim's hot path.

    The claim counts at the moment it was accepted (created_at), so the boards
    read the same as if it had been counted in the request; users served count
    when the grant succeeded.
    """
    if grant.campaign.unlisted:
        return  # a test drop stays off the boards
    try:
        batch = fc_redis.ScriptBatch()
        event_record(metric="claims", member=grant.campaign_id, at=grant.created_at, batch=batch)
        if succeeded:
            event_record(metric="users_served", member=grant.campaign_id, at=grant.completed_at, batch=batch)
        for reply in batch.execute():
            if isinstance(reply, Exception):
                raise reply
    except Exception as exc:  # noqa: BLE001 - never let a leaderboard break a grant; rebuild fixes it
        logger.warning("ranking update for grant %s failed: %s", grant.pk, exc)


def ranking_settled_many(
    *,
    campaign_id: int,
    succeeded: Sequence[Grant],
    failed: Sequence[Grant],
    completed_at: datetime | None,
    batch: fc_redis.ScriptBatch,
    unlisted: bool = False,
) -> None:
    """ranking_settled for a whole drain batch in a few script calls with the same result, queued on `batch`.

    Boards keep whole seconds (the tie-break is the latest second seen), so the
    claims of one second count as one increment by their number.
    """
    if unlisted:
        return  # a test drop stays off the boards
    try:
        claims: dict[int, tuple[datetime, int]] = {}
        for grant in (*succeeded, *failed):
            second = rank_redis.seconds_since_epoch(grant.created_at)
            at, count = claims.get(second, (grant.created_at, 0))
            claims[second] = (max(at, grant.created_at), count + 1)
        for at, count in claims.values():
            event_record(metric="claims", member=campaign_id, at=at, amount=count, batch=batch)
        if succeeded:
            event_record(metric="users_served", member=campaign_id, at=completed_at, amount=len(succeeded), batch=batch)
    except Exception as exc:  # noqa: BLE001 - never let a leaderboard break a grant; rebuild fixes it
        logger.warning("ranking update for a drain batch of campaign %s failed: %s", campaign_id, exc)


def ranking_sold_out(*, campaign_id: int, at: datetime, seconds: int, unlisted: bool = False) -> None:
    """A campaign sold out for the first time, `seconds` after it opened (an unlisted one is not ranked)."""
    if unlisted:
        return
    try:
        event_record(metric="sell_out_seconds", member=campaign_id, at=at, amount=seconds, mode="set")
    except Exception as exc:  # noqa: BLE001 - never let a leaderboard break a grant
        logger.warning("ranking update of the sell-out of campaign %s failed: %s", campaign_id, exc)


class CampaignRankingSource:
    """Campaigns as the boards' members (registered with ranking/feed.py in CouponsConfig.ready)."""

    def board_events(self, *, board: Board, since: datetime) -> feed.Events:
        """period key → campaign id → (value, time the value was reached), from the grants table."""
        tz = ZoneInfo(settings.TIME_ZONE)
        result: dict[str, dict[str, tuple[int, datetime]]] = defaultdict(dict)
        if board.metric == Board.Metric.SELL_OUT_SECONDS:
            rows = Campaign.objects.filter(sold_out_at__isnull=False, unlisted=False).values_list(
                "pk", "opens_at", "sold_out_at"
            )
            for campaign_id, opens_at, sold_out_at in rows:
                value = max(0, int((sold_out_at - opens_at).total_seconds()))
                for kind in board.periods():
                    if kind == "all" or sold_out_at >= since:
                        result[period_key(kind, sold_out_at)][str(campaign_id)] = (value, sold_out_at)
            return result

        if board.metric == Board.Metric.CLAIMS:
            # live boards count a claim when its grant settles: pending ones are not counted yet
            grants, moment = Grant.objects.exclude(status=Grant.Status.PENDING), "created_at"
        elif board.metric == Board.Metric.USERS_SERVED:
            grants, moment = Grant.objects.filter(status=Grant.Status.SUCCEEDED), "completed_at"
        else:
            return result  # views are counted in Redis only (docs/ranking.md): nothing to rebuild them from
        grants = grants.filter(campaign__unlisted=False)  # test drops stay off the boards
        for kind in board.periods():
            if kind == "all":
                rows = grants.values("campaign_id").annotate(n=Count("id"), last=Max(moment))
                for row in rows:
                    result["all"][str(row["campaign_id"])] = (row["n"], row["last"])
                continue
            # hour buckets are UTC hours; days and weeks are local
            bucket = TruncHour(moment, tzinfo=UTC) if kind == "24h" else TruncDate(moment, tzinfo=tz)
            rows = (
                grants.filter(**{f"{moment}__gte": since})
                .annotate(bucket=bucket)
                .values("campaign_id", "bucket")
                .annotate(n=Count("id"), last=Max(moment))
            )
            merged: dict[tuple[str, str], list] = {}
            for row in rows:
                slot = (period_key(kind, row["last"]), str(row["campaign_id"]))
                n, last = merged.get(slot, (0, row["last"]))
                merged[slot] = [n + row["n"], max(last, row["last"])]
            for (key, member), (n, last) in merged.items():
                result[key][member] = (n, last)
        return result

    def viewable(self) -> dict[str, str]:
        """Drops whose page views count: published on the site, listed, not cancelled (slug → id)."""
        rows = Campaign.objects.filter(
            status__in=[s for s in Campaign.PUBLISHED if s != Campaign.Status.CANCELLED], namespace="", unlisted=False
        ).values_list("slug", "pk")
        return {slug: str(pk) for slug, pk in rows}

    def labels(self, *, members: list[str]) -> dict[str, str]:
        ids = [int(m) for m in members if m.isdigit()]
        return {str(pk): title for pk, title in Campaign.objects.filter(pk__in=ids).values_list("pk", "title")}
