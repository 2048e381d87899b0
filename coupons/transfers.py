"""Transfer backends: how a grant's value reaches the user.

A backend gets the pending grant inside a database transaction that holds the
grant's row lock, and either delivers (then the caller marks the grant
succeeded in the same transaction) or raises TransientTransferError /
PermanentTransferError. Delivery must be idempotent per grant: the grant id is
the idempotency key (the ledger uses it as the entry's unique reference).

The drain hands a backend many locked grants at once (`transfer_many`, see
BatchTransferBackend): the answer gives each grant its own outcome, and a grant
that did not succeed left no write behind. A backend without `transfer_many` is
called once per grant, each call in its own savepoint (`transfer_each`).

A real payment API plugs in as another backend: call it with the grant id as
its idempotency key, map timeouts and 5xx to TransientTransferError and
refusals to PermanentTransferError, and let the caller mark the grant. See
docs/coupons.md.
"""

import random
import time
import uuid
from collections.abc import Sequence
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from coupons.errors import PermanentTransferError, TransferError, TransientTransferError
from coupons.locks import wallet_lock, wallets_lock
from coupons.models import Campaign, Grant, LedgerEntry
from coupons.services.coupon_codes import coupon_issue
from coupons.services.wallets import Posting, ledger_post

# Per grant id: None when delivered, else the TransientTransferError or
# PermanentTransferError that stopped it.
TransferResults = dict[uuid.UUID, TransferError | None]


class TransferBackend(Protocol):
    def transfer(self, *, grant: Grant) -> None: ...


class BatchTransferBackend(TransferBackend, Protocol):
    def transfer_many(self, *, grants: Sequence[Grant]) -> TransferResults: ...


def transfer_each(backend: TransferBackend, grants: Sequence[Grant]) -> TransferResults:
    """One transfer() per grant, each in a savepoint so a refused grant leaves nothing behind.

    Any other exception propagates: the caller's whole transaction rolls back.
    """
    results: TransferResults = {}
    for grant in grants:
        try:
            with transaction.atomic():
                backend.transfer(grant=grant)
        except (TransientTransferError, PermanentTransferError) as error:
            results[grant.id] = error
        else:
            results[grant.id] = None
    return results


def transfer_many(backend: TransferBackend, grants: Sequence[Grant]) -> TransferResults:
    """The backend's own batch path if it has one, else one savepoint per grant."""
    if not grants:
        return {}
    many = getattr(backend, "transfer_many", None)
    return many(grants=grants) if many is not None else transfer_each(backend, grants)


class LedgerBackend:
    """Credit the wallet (credit campaigns) or issue a coupon code (coupon campaigns)."""

    def transfer(self, *, grant: Grant) -> None:
        campaign: Campaign = grant.campaign
        if campaign.kind == Campaign.Kind.COUPON:
            coupon_issue(grant=grant, campaign=campaign)
            return
        wallet = wallet_lock(user_id=grant.user_id)
        # The unique reference makes a second run of the same grant fail loudly
        # instead of paying twice; the caller's status check normally stops it first.
        ledger_post(postings=[_credit(wallet_id=wallet.pk, grant=grant)])

    def transfer_many(self, *, grants: Sequence[Grant]) -> TransferResults:
        """Credit campaigns set-based (a handful of statements for the whole batch);
        coupon codes one by one, as a random code may collide and is drawn again."""
        credits = [g for g in grants if g.campaign.kind == Campaign.Kind.CREDIT]
        results = transfer_each(self, [g for g in grants if g.campaign.kind != Campaign.Kind.CREDIT])
        if not credits:
            return results
        wallets = wallets_lock(user_ids=[g.user_id for g in credits])
        # The unique reference still refuses a second credit of the same grant:
        # then the whole batch rolls back and its grants go the per-grant way.
        ledger_post(postings=[_credit(wallet_id=wallets[g.user_id], grant=g) for g in credits])
        return results | {g.id: None for g in credits}


def _credit(*, wallet_id: int, grant: Grant) -> Posting:
    return Posting(
        wallet_id=wallet_id,
        amount=grant.campaign.amount,
        kind=LedgerEntry.Kind.GRANT_CREDIT,
        reference=f"grant:{grant.id}",
        grant_id=grant.id,
    )


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
        self._misbehave()
        self.inner.transfer(grant=grant)

    def transfer_many(self, *, grants: Sequence[Grant]) -> TransferResults:
        """One draw per grant, before any write: the refused ones are answered
        without reaching the inner backend, the others go to it together."""
        results: TransferResults = {}
        passed = []
        for grant in grants:
            try:
                self._misbehave()
            except (TransientTransferError, PermanentTransferError) as error:
                results[grant.id] = error
            else:
                passed.append(grant)
        return results | transfer_many(self.inner, passed)

    def _misbehave(self) -> None:
        draw = self.random.random()
        if draw < self.permanent_rate:
            raise PermanentTransferError("flaky backend: permanent refusal")
        if draw < self.permanent_rate + self.transient_rate:
            raise TransientTransferError("flaky backend: transient failure")
        if self.slow_seconds and self.random.random() < self.slow_rate:
            time.sleep(self.slow_seconds)


def transfer_backend() -> TransferBackend:
    """The configured backend: GRANT_TRANSFER_BACKEND is "ledger", "flaky" or a dotted path."""
    name = settings.GRANT_TRANSFER_BACKEND
    if name == "ledger":
        return LedgerBackend()
    if name == "flaky":
        return FlakyBackend(**settings.GRANT_FLAKY_OPTIONS)
    return import_string(name)()
