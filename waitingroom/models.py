"""Waiting rooms: a virtual queue in front of a campaign (or any page)."""

from django.conf import settings
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

    class ClosedReason(models.TextChoices):
        STAFF = "staff", _("Closed by staff")
        SOLD_OUT = "sold_out", _("Sold out (reopens when a slot comes back)")
        CAMPAIGN_ENDED = "campaign_ended", _("Its campaign ended")

    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("slug"))
    title = models.CharField(max_length=200, verbose_name=_("title"))
    campaign = models.OneToOneField(
        "coupons.Campaign",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="waiting_room",
        help_text=_("The campaign this room protects; its claim then needs an access pass."),
        verbose_name=_("campaign"),
    )
    # Set: the room is a partner's, for the visitors that partner sends with signed tokens
    # (partners app); firstcome accounts cannot join it (its pages and API answer 404).
    namespace = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text=_("The namespace of the external visitors it admits; empty: firstcome's own users."),
        verbose_name=_("namespace"),
    )
    max_active = models.PositiveIntegerField(
        default=500, help_text=_("At most this many admitted users at once (W1)."), verbose_name=_("max active")
    )
    admit_rate = models.PositiveIntegerField(
        default=50,
        help_text=_("Users admitted per second at most (pause the room to stop admission)."),
        verbose_name=_("admit rate"),
    )
    pass_ttl_seconds = models.PositiveIntegerField(
        default=120, help_text=_("How long an access pass stays valid."), verbose_name=_("pass ttl seconds")
    )
    silence_timeout_seconds = models.PositiveIntegerField(
        default=120,
        help_text=_(
            "Users at the front of the line (the next few seconds of admissions, who poll every 2 s) not heard "
            "for this long are passed over by the admission tick; users further back are never polled."
        ),
        verbose_name=_("silence timeout seconds"),
    )
    opens_at = models.DateTimeField(verbose_name=_("opens at"))
    prequeue = models.BooleanField(
        default=True,
        help_text=_("Users who arrive before opening are shuffled into a random order at opening."),
        verbose_name=_("prequeue"),
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED, verbose_name=_("status"))
    # Back-pressure: admission pauses by itself while the system behind struggles.
    max_pending_grants = models.PositiveIntegerField(
        default=2000,
        help_text=_("Pause admission while the campaign has more pending grants than this (0: off)."),
        verbose_name=_("max pending grants"),
    )
    max_store_latency_ms = models.PositiveIntegerField(
        default=250,
        help_text=_("Pause admission while Redis or PostgreSQL answers slower than this (0: off)."),
        verbose_name=_("max store latency ms"),
    )
    closed_reason = models.CharField(
        max_length=40, blank=True, choices=ClosedReason.choices, verbose_name=_("closed reason")
    )
    # Set once the closed room's queue left Redis (waitingroom/services/retire.py); it never reopens.
    retired_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the closed room's queue left Redis; joins are answered from a tombstone."),
        verbose_name=_("retired at"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("waiting room")
        verbose_name_plural = _("waiting rooms")
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(condition=Q(max_active__gt=0), name="room_max_active_positive"),
            models.CheckConstraint(condition=Q(admit_rate__gt=0), name="room_admit_rate_positive"),
            models.CheckConstraint(condition=Q(pass_ttl_seconds__gt=0), name="room_pass_ttl_positive"),
            models.CheckConstraint(condition=Q(silence_timeout_seconds__gt=0), name="room_silence_positive"),
        ]

    def __str__(self) -> str:
        return self.title


class AccessPassUse(models.Model):
    """A pass used: the proof that outlives Redis (W4 after a failover, W8).

    Written before the claim or seat hold that uses the pass goes on, so a Redis
    that forgot the use (a failover to a replica that missed it, a flush) cannot
    make the pass usable again; deleted when the use is given back, and once
    the pass has expired (admission.pass_uses_forget), since an expired pass is refused anyway.
    """

    room = models.ForeignKey(WaitingRoom, on_delete=models.CASCADE, related_name="+", verbose_name=_("room"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    expiry_ms = models.BigIntegerField(db_index=True, verbose_name=_("pass expiry (ms)"))
    used_at = models.DateTimeField(auto_now_add=True, verbose_name=_("used at"))

    class Meta:
        verbose_name = _("access pass use")
        verbose_name_plural = _("access pass uses")
        constraints = [
            models.UniqueConstraint(fields=["room", "user", "expiry_ms"], name="access_pass_used_once"),
        ]

    def __str__(self) -> str:
        return f"{self.room_id}:{self.user_id}:{self.expiry_ms}"
