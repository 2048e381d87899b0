"""Waiting rooms: a virtual queue in front of a campaign (or any page)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.ratelimit import RateLimitFields


class WaitingRoom(RateLimitFields):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        QUEUEING = "queueing", _("Queueing")
        PAUSED = "paused", _("Paused")
        CLOSED = "closed", _("Closed")

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    campaign = models.OneToOneField(
        "coupons.Campaign",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="waiting_room",
        help_text="The campaign this room protects; its claim then needs an access pass.",
    )
    max_active = models.PositiveIntegerField(default=500, help_text="At most this many admitted users at once (W1).")
    admit_rate = models.PositiveIntegerField(
        default=50, help_text="Users admitted per second at most (pause the room to stop admission)."
    )
    pass_ttl_seconds = models.PositiveIntegerField(default=120, help_text="How long an access pass stays valid.")
    silence_timeout_seconds = models.PositiveIntegerField(
        default=120, help_text="Queued users who stop polling this long lose their place."
    )
    opens_at = models.DateTimeField()
    prequeue = models.BooleanField(
        default=True, help_text="Users who arrive before opening are shuffled into a random order at opening."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    # Back-pressure: admission pauses by itself while the system behind struggles.
    max_pending_grants = models.PositiveIntegerField(
        default=2000, help_text="Pause admission while the campaign has more pending grants than this (0: off)."
    )
    max_store_latency_ms = models.PositiveIntegerField(
        default=250, help_text="Pause admission while Redis or PostgreSQL answers slower than this (0: off)."
    )
    closed_reason = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(condition=Q(max_active__gt=0), name="room_max_active_positive"),
            models.CheckConstraint(condition=Q(admit_rate__gt=0), name="room_admit_rate_positive"),
            models.CheckConstraint(condition=Q(pass_ttl_seconds__gt=0), name="room_pass_ttl_positive"),
            models.CheckConstraint(condition=Q(silence_timeout_seconds__gt=0), name="room_silence_positive"),
        ]

    def __str__(self) -> str:
        return self.title
