"""Transfer backends: how a grant's value reaches the user.

A backend gets the pending grant inside a database transaction that holds the
grant's row lock, and either delivers (then the caller marks the grant
succeeded in the same transaction) or raises TransientTransferError /
PermanentTransferError. Delivery must be idempotent per grant: the grant id is
the idempotency key (the ledger uses it as the entry's unique reference).

A real payment API plugs in as another backend: call it with the grant id as
its idempotency key, map timeouts and 5xx to TransientTransferError and
refusals to PermanentTransferError, and let the caller mark the grant. See
docs/coupons.md.
"""

import random
import secrets
import time
from datetime import timedelta
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from coupons.errors import PermanentTransferError, TransientTransferError
from coupons.models import Campaign, Coupon, Grant, LedgerEntry, Wallet

COUPON_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


class TransferBackend(Protocol):
    def transfer(self, *, grant: Grant) -> None: ...


def wallet_lock(*, user_id: int) -> Wallet:
    """The user's wallet, created if needed, locked FOR UPDATE (always the last lock taken)."""
    Wallet.objects.bulk_create([Wallet(user_id=user_id)], ignore_conflicts=True)
    return Wallet.objects.select_for_update().get(user_id=user_id)


def coupon_code_new() -> str:
    raw = "".join(secrets.choice(COUPON_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


class LedgerBackend:
    """Credit the wallet (credit campaigns) or issue a coupon code (coupon campaigns)."""

    def transfer(self, *, grant: Grant) -> None:
        campaign: Campaign = grant.campaign
        if campaign.kind == Campaign.Kind.COUPON:
            self._issue_coupon(grant=grant, campaign=campaign)
            return
        wallet = wallet_lock(user_id=grant.user_id)
        # The unique reference makes a second run of the same grant fail loudly
        # instead of paying twice; the caller's status check normally stops it first.
        LedgerEntry.objects.create(
            wallet=wallet,
            amount=campaign.amount,
            kind=LedgerEntry.Kind.GRANT_CREDIT,
            reference=f"grant:{grant.id}",
            grant=grant,
        )
        Wallet.objects.filter(pk=wallet.pk).update(balance=F("balance") + campaign.amount)

    def _issue_coupon(self, *, grant: Grant, campaign: Campaign) -> None:
        expires_at = timezone.now() + timedelta(days=campaign.coupon_valid_days)
        for _ in range(5):
            try:
                with transaction.atomic():
                    Coupon.objects.create(
                        grant=grant,
                        campaign=campaign,
                        user_id=grant.user_id,
                        code=coupon_code_new(),
                        discount=campaign.amount,
                        expires_at=expires_at,
                    )
                return
            except IntegrityError:
                if Coupon.objects.filter(grant=grant).exists():
                    raise
        raise TransientTransferError("could not find a free coupon code")


class FlakyBackend:
    """Wraps another backend and misbehaves at configured rates (tests and demos).

    Each call draws once: below `permanent_rate` → PermanentTransferError; below
    `permanent_rate + transient_rate` → TransientTransferError; otherwise it
    delivers, first sleeping `slow_seconds` with probability `slow_rate`.
    """

    def __init__(
        self,
        *,
        inner: TransferBackend | None = None,
        transient_rate: float = 0.0,
        permanent_rate: float = 0.0,
        slow_rate: float = 0.0,
        slow_seconds: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.inner = inner or LedgerBackend()
        self.transient_rate = transient_rate
        self.permanent_rate = permanent_rate
        self.slow_rate = slow_rate
        self.slow_seconds = slow_seconds
        self.random = random.Random(seed)

    def transfer(self, *, grant: Grant) -> None:
        draw = self.random.random()
        if draw < self.permanent_rate:
            raise PermanentTransferError("flaky backend: permanent refusal")
        if draw < self.permanent_rate + self.transient_rate:
            raise TransientTransferError("flaky backend: transient failure")
        if self.slow_seconds and self.random.random() < self.slow_rate:
            time.sleep(self.slow_seconds)
        self.inner.transfer(grant=grant)


def transfer_backend() -> TransferBackend:
    """The configured backend: GRANT_TRANSFER_BACKEND is "ledger", "flaky" or a dotted path."""
    name = settings.GRANT_TRANSFER_BACKEND
    if name == "ledger":
        return LedgerBackend()
    if name == "flaky":
        return FlakyBackend(**settings.GRANT_FLAKY_OPTIONS)
    return import_string(name)()
