"""Campaigns, grants, wallets with their ledger, and coupon codes (PostgreSQL is the truth)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.ratelimit import RateLimitFields
from coupons.signals import campaign_rows_changed


class CampaignQuerySet(models.QuerySet):
    def update(self, **kwargs) -> int:
        """A bulk update tells, like a save, that campaign rows changed (coupons/published.py)."""
        changed = super().update(**kwargs)
        if changed:
            campaign_rows_changed.send(sender=Campaign)
        return changed


class Campaign(RateLimitFields):
    class Kind(models.TextChoices):
        CREDIT = "credit", _("Wallet credit")
        COUPON = "coupon", _("Coupon code")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        OPEN = "open", _("Open")
        SOLD_OUT = "sold_out", _("Sold out")
        CLOSED = "closed", _("Closed")
        CANCELLED = "cancelled", _("Cancelled")

    class Allocation(models.TextChoices):
        FIRST_FREE = "first_free", _("First free slot")
        CHOSEN = "chosen", _("Chosen slot (seats)")

    # Statuses in which the terms are frozen and the Redis gate exists.
    PUBLISHED = (Status.SCHEDULED, Status.OPEN, Status.SOLD_OUT, Status.CLOSED, Status.CANCELLED)

    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("slug"))
    objects = CampaignQuerySet.as_manager()
    # Which external system owns the campaign ("" for firstcome's own): a partner's
    # campaigns are made, read and claimed only through that partner's API keys, and
    # firstcome's own pages and user API never show them (coupons/selectors.py).
    namespace = models.CharField(
        max_length=40,
        blank=True,
        default="",
        db_index=True,
        help_text=_("The external system that owns this campaign; empty for firstcome's own."),
        verbose_name=_("namespace"),
    )
    title = models.CharField(max_length=200, verbose_name=_("title"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CREDIT, verbose_name=_("kind"))
    allocation = models.CharField(
        max_length=12, choices=Allocation.choices, default=Allocation.FIRST_FREE, verbose_name=_("allocation")
    )
    quantity = models.PositiveIntegerField(help_text=_("N: how many slots there are."), verbose_name=_("quantity"))
    amount = models.PositiveBigIntegerField(
        help_text=_("KRW credited to the wallet, or the coupon's discount in KRW."), verbose_name=_("amount")
    )
    coupon_valid_days = models.PositiveIntegerField(
        default=30, help_text=_("Coupon campaigns: days a code stays valid."), verbose_name=_("coupon valid days")
    )
    opens_at = models.DateTimeField(verbose_name=_("opens at"))
    # Test drops (simulate_spike, the benchmarks) stay off the home page and the rankings; the link still works.
    unlisted = models.BooleanField(
        default=False,
        help_text=_("Hidden from the public list of drops and from the rankings; its page still opens by link."),
        verbose_name=_("unlisted"),
    )
    closes_at = models.DateTimeField(verbose_name=_("closes at"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True, verbose_name=_("status")
    )
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published at"))
    sold_out_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sold out at"))
    # Set once the ended campaign's Redis state was replaced by a tombstone (coupons/services/retire.py):
    # from then on its gate is never rebuilt (docs/operations.md, "Redis memory").
    gate_retired_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the ended campaign's live state left Redis; late clicks are answered from a tombstone."),
        verbose_name=_("gate retired at"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="campaign_quantity_positive"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="campaign_amount_not_negative"),
            models.CheckConstraint(condition=Q(closes_at__gt=models.F("opens_at")), name="campaign_window_ordered"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.status in self.PUBLISHED


class Grant(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    LIVE = (Status.PENDING, Status.SUCCEEDED)

    # Generated by the web process before the Redis claim, so Redis can answer a
    # duplicate claim with the grant id without asking the database.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name=_("id"))
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="grants", verbose_name=_("campaign"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="grants", verbose_name=_("user")
    )
    slot = models.PositiveIntegerField(verbose_name=_("slot"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    # Set by the claim itself (not auto_now_add) so the rankings record the same instant.
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(slot__gte=1), name="grant_slot_positive"),
            # I2: one live grant per (campaign, user); I3: per (campaign, slot).
            models.UniqueConstraint(
                fields=["campaign", "user"],
                condition=Q(status__in=["pending", "succeeded"]),
                name="grant_one_live_per_user",
            ),
            models.UniqueConstraint(
                fields=["campaign", "slot"],
                condition=Q(status__in=["pending", "succeeded"]),
                name="grant_one_live_per_slot",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="grant_campaign_status"),
            models.Index(fields=["status", "updated_at"], name="grant_status_updated"),
            models.Index(fields=["user", "-created_at"], name="grant_user_recent"),
            # The drain's work queue: pending grants no transfer has tried yet, oldest
            # first (grants a transfer already tried retry one by one).
            models.Index(
                fields=["campaign", "created_at"],
                condition=Q(status="pending", attempts=0),
                name="grant_drain_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}#{self.slot} → {self.user_id} ({self.get_status_display()})"

    @property
    def amount(self) -> int:
        """KRW the user received (a credit, a coupon's discount) or paid (a seat: its own price, where
        the campaign's amount is its lowest). Load with select_related("campaign", "seat")."""
        if self.campaign.allocation == Campaign.Allocation.CHOSEN:
            seat = getattr(self, "seat", None)  # every sale writes its seat with its grant; None: not loaded yet
            if seat is not None:
                return seat.price
        return self.campaign.amount


class Wallet(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet", verbose_name=_("user")
    )
    balance = models.BigIntegerField(default=0, verbose_name=_("balance"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_not_negative")]

    def __str__(self) -> str:
        return _("wallet of %(user)s: %(balance)s KRW") % {"user": self.user_id, "balance": self.balance}


class LedgerEntry(models.Model):
    class Kind(models.TextChoices):
        GRANT_CREDIT = "grant_credit", _("Grant credit")
        PURCHASE = "purchase", _("Purchase")
        ADJUSTMENT = "adjustment", _("Adjustment")

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries", verbose_name=_("wallet"))
    amount = models.BigIntegerField(help_text=_("Positive credits, negative debits (KRW)."), verbose_name=_("amount"))
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    # Idempotency: one entry per reference (e.g. "grant:<uuid>"), so a transfer
    # that runs twice credits once (I6).
    reference = models.CharField(max_length=80, unique=True, verbose_name=_("reference"))
    grant = models.OneToOneField(
        Grant, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entry", verbose_name=_("grant")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.reference}: {self.amount:+} KRW"


class Coupon(models.Model):
    grant = models.OneToOneField(Grant, on_delete=models.PROTECT, related_name="coupon", verbose_name=_("grant"))
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("campaign"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("user")
    )
    code = models.CharField(max_length=24, unique=True, verbose_name=_("code"))
    discount = models.PositiveBigIntegerField(verbose_name=_("discount"))
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    redeemed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("redeemed at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.code


class Seat(models.Model):
    """A chosen slot of an `allocation = chosen` campaign: a labelled seat with a price."""

    class Status(models.TextChoices):
        FREE = "free", _("Free")
        SOLD = "sold", _("Sold")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="seats", verbose_name=_("campaign"))
    slot = models.PositiveIntegerField(
        help_text=_("1..N: the slot number the Redis gate uses."), verbose_name=_("slot")
    )
    label = models.CharField(max_length=12, help_text=_('What people see, e.g. "A-12".'), verbose_name=_("label"))
    section = models.CharField(max_length=40, blank=True, verbose_name=_("section"))
    # Where the seat stands, for the map: rows in order from the stage, seats by number in a row.
    row = models.CharField(max_length=4, blank=True, default="", help_text=_('e.g. "A"'), verbose_name=_("row"))
    number = models.PositiveIntegerField(default=0, help_text=_("Its number in the row."), verbose_name=_("number"))
    price = models.PositiveBigIntegerField(help_text=_("KRW, paid from the wallet."), verbose_name=_("price"))
    status = models.CharField(max_length=4, choices=Status.choices, default=Status.FREE, verbose_name=_("status"))
    # The fencing token of the hold that bought the seat: a confirm must present a
    # greater one, so a holder who stalled past the hold can never confirm (S1).
    fence_token = models.BigIntegerField(default=0, verbose_name=_("fence token"))
    sold_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="seats",
        verbose_name=_("sold to"),
    )
    sold_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sold at"))
    grant = models.OneToOneField(
        Grant, on_delete=models.PROTECT, null=True, blank=True, related_name="seat", verbose_name=_("grant")
    )

    class Meta:
        verbose_name = _("seat")
        verbose_name_plural = _("seats")
        ordering = ["campaign", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "slot"], name="seat_unique_slot"),
            models.UniqueConstraint(fields=["campaign", "label"], name="seat_unique_label"),
            models.CheckConstraint(condition=Q(slot__gte=1), name="seat_slot_positive"),
            models.CheckConstraint(
                condition=Q(status="free", sold_to__isnull=True) | Q(status="sold", sold_to__isnull=False),
                name="seat_sold_has_buyer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.label}"


class ExternalClient(models.Model):
    """A user of another system (`client_id` in that system's `namespace`), claiming through it.

    It is backed by a shadow user of its own, so its grants are ordinary grants: the one
    live grant per user and campaign constraint (I2), the gate, the drain, the ledger, the
    admin, the dashboard and the rankings treat them like anyone's. The shadow user has no
    usable password: nobody signs in as it.
    """

    namespace = models.CharField(max_length=40, verbose_name=_("namespace"))
    client_id = models.CharField(max_length=128, verbose_name=_("client id"))
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="external_client", verbose_name=_("user")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("external client")
        verbose_name_plural = _("external clients")
        ordering = ["namespace", "client_id"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "client_id"], name="external_client_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}:{self.client_id}"
