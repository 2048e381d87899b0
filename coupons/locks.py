"""Every row lock of the coupons app, in one place and one order (STYLE.md, "Locks in one place").

A transaction that locks more than one kind of row takes them in this order:
campaign, then seat, then grants, then wallets (always last). Rows of one kind
are locked in primary-key order, so two transactions that lock overlapping
sets wait for each other instead of deadlocking. The drain's batch is the one
exception to pk order: SKIP LOCKED never waits, so its order (oldest first) is
free to follow the work queue.
"""

from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from coupons.models import Campaign, Coupon, Grant, Seat, Wallet


def campaign_lock(*, campaign_id: int) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign_id)


def seat_lock(*, campaign_id: int, slot: int) -> Seat | None:
    return Seat.objects.select_for_update().filter(campaign_id=campaign_id, slot=slot).first()


def grant_lock(*, grant_id: str, pending_only: bool = False, with_campaign: bool = False) -> Grant | None:
    """One grant locked (its campaign read along, not locked, with `with_campaign`)."""
    grants = Grant.objects.select_for_update(of=("self",)) if with_campaign else Grant.objects.select_for_update()
    if with_campaign:
        grants = grants.select_related("campaign")
    if pending_only:
        grants = grants.filter(status=Grant.Status.PENDING)
    return grants.filter(pk=grant_id).first()


def grants_lock_drain_batch(*, campaign_id: int, size: int) -> list[Grant]:
    """Up to `size` untried pending grants, oldest first, skipping the ones another transaction holds."""
    return list(
        Grant.objects.select_for_update(skip_locked=True)
        .filter(campaign_id=campaign_id, status=Grant.Status.PENDING, attempts=0)
        .order_by("created_at")[:size]
    )


def coupon_lock(*, code: str, user_id: int) -> Coupon | None:
    return Coupon.objects.select_for_update().filter(code=code, user_id=user_id).first()


def wallet_lock(*, user_id: int) -> Wallet:
    """The user's wallet, created if needed, locked FOR UPDATE (always the last lock taken)."""
    Wallet.objects.bulk_create([Wallet(user_id=user_id)], ignore_conflicts=True)
    return Wallet.objects.select_for_update().get(user_id=user_id)


def wallets_lock(*, user_ids: Sequence[int]) -> dict[int, int]:
    """Wallet ids by user id, wallets created if needed and locked FOR UPDATE in id order.

    Creation goes in user id order and locking in wallet id order, so two
    transactions doing this for overlapping users wait for each other instead
    of deadlocking. Each holds no other wallet lock while it waits, which is what
    keeps it deadlock-free against wallet_lock (seat confirm, wallet_adjust, the
    per-grant transfer) too: those take a single wallet, last. SQL with one array
    per column: a batch costs the same two statements whatever its size.
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
