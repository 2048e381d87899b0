"""Partners (other systems that use firstcome as a service), their API keys and idempotent creates."""

import base64
import secrets
import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from coupons.models import Campaign


def signing_secret_new() -> str:
    """32 random bytes in the Standard Webhooks form ("whsec_" + base64): what signs the partner's
    webhooks (and its tokens)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Partner(models.Model):
    name = models.CharField(max_length=100, verbose_name=_("name"))
    # The namespace of the partner's campaigns and of its clients' ids (coupons.ExternalClient).
    namespace = models.SlugField(
        max_length=40,
        unique=True,
        help_text=_("Owns the partner's campaigns and client ids; never changes once keys are in use."),
        verbose_name=_("namespace"),
    )
    # A key is stored hashed and cannot sign: tokens and webhooks are signed with this secret
    # (HMAC), which firstcome keeps and hands to the partner once, out of band.
    signing_secret = models.CharField(
        max_length=100, default=signing_secret_new, editable=False, verbose_name=_("signing secret")
    )
    webhook_url = models.URLField(
        blank=True,
        help_text=_("Where firstcome POSTs signed outcome events (grants settled, campaigns ended); empty: none."),
        verbose_name=_("webhook URL"),
    )
    # Where an admitted visitor goes back with its pass (a room's own return URL, set by the partner's
    # API, comes first): only a URL registered here or by the partner, never one a visitor names.
    return_url = models.URLField(
        blank=True,
        help_text=_("Where the waiting room sends an admitted visitor back, with its signed pass; empty: none."),
        verbose_name=_("return URL"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerAPIKey(AbstractAPIKey):
    """A partner's API key: hashed at rest by djangorestframework-api-key, shown once, revocable for good."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("partner"))
    rate_burst = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Requests the key may make at once (blank: default; 0: no limit)."),
        verbose_name=_("rate burst"),
    )
    rate_per_second = models.FloatField(
        null=True,
        blank=True,
        help_text=_("Tokens a second the key gets back (blank: default; 0: no limit)."),
        verbose_name=_("rate per second"),
    )
    # Copied from Redis now and then (partners.tasks); the admin shows the fresher of the two.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last used at"))

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("partner API key")
        verbose_name_plural = _("partner API keys")


class PartnerRoom(models.Model):
    """A waiting room a partner put in front of one of its campaigns, for its own visitors."""

    room = models.OneToOneField(
        "waitingroom.WaitingRoom",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="partner_room",
        verbose_name=_("room"),
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="rooms", verbose_name=_("partner"))
    return_url = models.URLField(
        blank=True,
        help_text=_("Where an admitted visitor goes back with its pass (empty: the partner's return URL)."),
        verbose_name=_("return URL"),
    )

    class Meta:
        verbose_name = _("partner room")
        verbose_name_plural = _("partner rooms")

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.room_id}"


class CampaignCreateRecord(models.Model):
    """One campaign creation under an Idempotency-Key: the same key again answers the same campaign."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", verbose_name=_("partner"))
    key = models.CharField(max_length=100, verbose_name=_("idempotency key"))
    fingerprint = models.CharField(max_length=64, help_text=_("SHA-256 of the request body."))
    # Written in the transaction that inserted the record first (so a concurrent create with the
    # same key waits on the unique index and then reads it): null only inside that transaction.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, related_name="+", verbose_name=_("campaign")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("campaign create record")
        verbose_name_plural = _("campaign create records")
        constraints = [models.UniqueConstraint(fields=["partner", "key"], name="campaign_create_record_unique_key")]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.key}"


class WebhookDelivery(models.Model):
    """One outcome event for a partner, written in the transaction of the change it reports (an outbox),
    then POSTed until the partner answers 2xx or a day has passed (partners/services/webhooks.py)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    # The Standard Webhooks "webhook-id": the same on every attempt and replay, so the partner deduplicates.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("event id"))
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("partner"))
    event_type = models.CharField(max_length=40, verbose_name=_("event type"))
    payload = models.JSONField(verbose_name=_("payload"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(verbose_name=_("next attempt at"))
    # When its attempt was last handed to the broker: the due tick hands it again only after
    # PARTNER_WEBHOOK_REDUE_SECONDS (a lost message), not on every tick while it waits in the queue.
    enqueued_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("enqueued at"))
    last_status_code = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("last status code"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    # Staff replayed it: it is tried for another day from then.
    replayed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("replayed at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id}"
