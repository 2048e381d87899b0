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
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from coupons.errors import PermanentTransferError, TransferError, TransientTransferError
from coupons.models import Campaign, Coupon, Grant, LedgerEntry, Wallet

COUPON_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


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


def wallet_lock(*, user_id: int) -> Wallet:
    """The user's wallet, created if needed, locked FOR UPDATE (always the last lock taken)."""
    Wallet.objects.bulk_create([Wallet(user_id=user_id)], ignore_conflicts=True)
    return Wallet.objects.select_for_update().get(user_id=user_id)


# The batch path below speaks SQL with one array per column: a batch costs the
# same few statements whatever its size, and no model instance per row.


def wallets_lock(*, user_ids: Sequence[int]) -> dict[int, int]:
    """Wallet ids by user id, wallets created if needed and locked FOR UPDATE in id order.

    Creation goes in user id order and locking in wallet id order, so two
    transactions doing this for overlapping users wait for each other instead
    of deadlocking. Each holds no other wallet lock while it waits, which is what
    keeps it deadlock-free against wallet_lock (seat confirm, wallet_adjust, the
    per-grant transfer) too: those take a single wallet, last.
    """
    ordered = sorted(set(user_ids))
    table = Wallet._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (user_id, balance, updated_at)
                SELECT u, 0, %s FROM unnest(%s::bigint[]) AS t(u) ORDER BY u
                ON CONFLICT (user_id) DO NOTHING""",
            [timezone.now(), ordered],
        )
        cursor.execute(
            f"SELECT id, user_id FROM {table} WHERE user_id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE", [ordered]
        )
        return {user_id: wallet_id for wallet_id, user_id in cursor.fetchall()}


def _ledger_credit(*, credits: Sequence[tuple[int, int, uuid.UUID]]) -> None:
    """(wallet id, amount, grant id) triples: one entry each (reference "grant:<id>"), then the balances."""
    amounts: dict[int, int] = defaultdict(int)
    for wallet_id, amount, _ in credits:
        amounts[wallet_id] += amount
    wallet_ids, amount_list, grant_ids = (list(column) for column in zip(*credits, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {LedgerEntry._meta.db_table} (wallet_id, amount, kind, reference, grant_id, created_at)
                SELECT w, a, %s, 'grant:' || g::text, g, %s
                FROM unnest(%s::bigint[], %s::bigint[], %s::uuid[]) AS t(w, a, g)""",
            [LedgerEntry.Kind.GRANT_CREDIT.value, timezone.now(), wallet_ids, amount_list, grant_ids],
        )
        cursor.execute(
            f"""UPDATE {Wallet._meta.db_table} AS w SET balance = w.balance + v.amount
                FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, amount) WHERE w.id = v.id""",
            [list(amounts), list(amounts.values())],
        )


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
        _ledger_credit(credits=[(wallets[g.user_id], g.campaign.amount, g.id) for g in credits])
        return results | {g.id: None for g in credits}

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
