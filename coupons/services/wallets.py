"""Wallets and their ledger: every balance change is a ledger entry, posted by ledger_post()."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from coupons.locks import wallet_lock
from coupons.models import LedgerEntry, Wallet


@dataclass(frozen=True, kw_only=True)
class Posting:
    wallet_id: int
    amount: int  # KRW: positive credits, negative debits
    kind: str  # LedgerEntry.Kind
    reference: str  # unique: a second posting of the same reference fails (I6)
    grant_id: uuid.UUID | str | None = None


def ledger_post(*, postings: Sequence[Posting]) -> None:
    """One ledger entry per posting, then each wallet's balance moved by the sum of its postings.

    The caller holds the wallets' locks (coupons/locks.py) in its transaction.
    Two statements whatever the number of postings (SQL with one array per
    column): the drain posts hundreds of credits at once. A duplicate reference
    or a balance going below zero raises IntegrityError and changes nothing.
    """
    if not postings:
        return
    amounts: dict[int, int] = defaultdict(int)
    for posting in postings:
        amounts[posting.wallet_id] += posting.amount
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {LedgerEntry._meta.db_table} (wallet_id, amount, kind, reference, grant_id, created_at)
                SELECT w, a, k, r, g, %s
                FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::uuid[]) AS t(w, a, k, r, g)""",
            [
                timezone.now(),
                [p.wallet_id for p in postings],
                [p.amount for p in postings],
                [str(p.kind) for p in postings],
                [p.reference for p in postings],
                [None if p.grant_id is None else str(p.grant_id) for p in postings],
            ],
        )
        cursor.execute(
            f"""UPDATE {Wallet._meta.db_table} AS w SET balance = w.balance + v.amount
                FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, amount) WHERE w.id = v.id""",
            [list(amounts), list(amounts.values())],
        )


@transaction.atomic
def wallet_adjust(*, user_id: int, amount: int, reference: str) -> int:
    """Credit (or debit) a wallet by hand with a ledger entry; returns the new balance."""
    wallet = wallet_lock(user_id=user_id)
    ledger_post(
        postings=[Posting(wallet_id=wallet.pk, amount=amount, kind=LedgerEntry.Kind.ADJUSTMENT, reference=reference)]
    )
    return wallet.balance + amount
