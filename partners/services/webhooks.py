"""Outcome webhooks: events written in the transaction of the change (an outbox), delivered at least once.

A delivery is POSTed with the Standard Webhooks headers (webhook-id: the event id,
the same on every attempt; webhook-timestamp; webhook-signature: HMAC-SHA256 with
the partner's signing secret, by the `standardwebhooks` library). A 2xx answer
delivers it; anything else (or no answer in PARTNER_WEBHOOK_TIMEOUT_SECONDS) is
tried again after an exponential backoff with jitter, for PARTNER_WEBHOOK_GIVE_UP_SECONDS
(a day), then it is failed and staff may replay it from the admin. Nothing here
runs inside a claim or a drain: they only insert rows; Celery sends them.
"""

import json
import logging
import random
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from coupons.models import Campaign, ExternalClient, Grant
from partners.models import Partner, WebhookDelivery

logger = logging.getLogger(__name__)


def _partner_listening(namespace: str) -> Partner | None:
    if not namespace:
        return None
    return Partner.objects.filter(namespace=namespace).exclude(webhook_url="").first()


def _event(partner: Partner, event_type: str, data: dict, now: datetime) -> WebhookDelivery:
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    # enqueued_at: _enqueue_on_commit hands it to the broker (the due tick only if that message is lost)
    return WebhookDelivery(
        partner=partner, event_type=event_type, payload=payload, next_attempt_at=now, enqueued_at=now
    )


def _enqueue_on_commit(deliveries: list[WebhookDelivery]) -> None:
    from partners.tasks import webhook_deliver_task

    ids = [str(delivery.pk) for delivery in deliveries]

    def send() -> None:
        for delivery_id in ids:
            try:
                webhook_deliver_task.delay(delivery_id)
            except Exception as exc:  # noqa: BLE001 - the broker is away: the due tick sends it later
                logger.warning("could not enqueue webhook %s: %s", delivery_id, exc)

    transaction.on_commit(send)


def webhooks_grants_settled(*, campaign: Campaign, succeeded: list[Grant], failed: list[Grant]) -> int:
    """Write grant.succeeded / grant.failed events for a partner's clients (inside the settling transaction)."""
    partner = _partner_listening(campaign.namespace)
    if partner is None:
        return 0
    grants = [*succeeded, *failed]
    client_ids = dict(
        ExternalClient.objects.filter(user_id__in=[g.user_id for g in grants]).values_list("user_id", "client_id")
    )
    slug = campaign.slug.removeprefix(f"{campaign.namespace}-")
    now = timezone.now()
    outcomes = [(grant, "succeeded") for grant in succeeded] + [(grant, "failed") for grant in failed]
    deliveries = [
        _event(
            partner,
            f"grant.{status}",
            {
                "grant_id": str(grant.pk),
                "campaign": slug,
                "client_id": client_ids.get(grant.user_id, ""),
                "slot": grant.slot,
                "status": status,
            },
            now,
        )
        for grant, status in outcomes
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    _enqueue_on_commit(deliveries)
    return len(deliveries)


def webhooks_campaign_ended(*, campaign_id: int, status: str) -> int:
    """Write a campaign.sold_out / campaign.closed / campaign.cancelled event (inside the changing transaction)."""
    campaign = Campaign.objects.filter(pk=campaign_id).values_list("namespace", "slug").first()
    if campaign is None:
        return 0
    namespace, slug = campaign
    partner = _partner_listening(namespace)
    if partner is None:
        return 0
    now = timezone.now()
    delivery = _event(
        partner,
        f"campaign.{status}",
        {"campaign": slug.removeprefix(f"{namespace}-"), "status": status},
        now,
    )
    delivery.save()
    _enqueue_on_commit([delivery])
    return 1


def _backoff(attempts: int) -> timedelta:
    """Exponential, capped, with ±20 % jitter so a partner coming back is not hit by every retry at once."""
    base = settings.PARTNER_WEBHOOK_BACKOFF_BASE_SECONDS * 2 ** min(attempts - 1, 30)
    seconds = min(base, settings.PARTNER_WEBHOOK_BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def webhook_headers(*, partner: Partner, delivery_id: str, body: str, now: datetime) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(partner.signing_secret).sign(msg_id=delivery_id, timestamp=now, data=body),
    }


def webhook_deliver(*, delivery_id: str) -> str:
    """Try one delivery if it is due (a row lock keeps two workers from sending it at once); its status after."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("partner")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return "busy"  # another worker holds it (or it is gone)
        now = timezone.now()
        if delivery.status != WebhookDelivery.Status.PENDING or delivery.next_attempt_at > now:
            return delivery.status
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
        headers = webhook_headers(partner=delivery.partner, delivery_id=str(delivery.pk), body=body, now=now)
        request = urllib.request.Request(delivery.partner.webhook_url, data=body.encode(), headers=headers)
        code, error = None, ""
        try:
            with urllib.request.urlopen(request, timeout=settings.PARTNER_WEBHOOK_TIMEOUT_SECONDS) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code, error = exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = str(getattr(exc, "reason", exc))[:1000]
        delivery.attempts += 1
        delivery.last_status_code = code
        delivery.last_error = error
        if code is not None and 200 <= code < 300:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
        elif now - (delivery.replayed_at or delivery.created_at) >= timedelta(
            seconds=settings.PARTNER_WEBHOOK_GIVE_UP_SECONDS
        ):
            delivery.status = WebhookDelivery.Status.FAILED
        else:
            delivery.next_attempt_at = now + _backoff(delivery.attempts)
            delivery.enqueued_at = None  # the due tick hands the retry over when it is due
        delivery.save()
        return delivery.status


def webhooks_due(*, now: datetime | None = None, limit: int = 500) -> list[str]:
    """Pending deliveries whose next attempt is due and not handed to the broker already (or handed
    PARTNER_WEBHOOK_REDUE_SECONDS ago: that message was lost), oldest first; marked as handed over.

    Without the mark every tick handed every due delivery over again while its first message still
    waited in the queue: 300 events of one drop and a tick every 0.3 s flooded the worker with
    no-op tasks faster than it could send (tests/partners/test_room_end_to_end.py)."""
    now = now or timezone.now()
    handed_before = now - timedelta(seconds=settings.PARTNER_WEBHOOK_REDUE_SECONDS)
    with transaction.atomic():
        due = (
            WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=handed_before))
            .order_by("next_attempt_at")
            .select_for_update(skip_locked=True)
        )
        ids = list(due.values_list("pk", flat=True)[:limit])
        WebhookDelivery.objects.filter(pk__in=ids).update(enqueued_at=now)
    return [str(pk) for pk in ids]


def webhook_replay(*, delivery: WebhookDelivery) -> None:
    """Send a delivery again now (its event id stays: a partner that had it deduplicates)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=timezone.now(),
        replayed_at=timezone.now(),
        enqueued_at=timezone.now(),
    )
    _enqueue_on_commit([delivery])
