"""Seats: chosen slots held with fencing tokens and bought from the wallet (DESIGN §5, S1).

Writes: the seat map's generation (staff, while the campaign is a draft), hold,
confirm, release and the sweep of expired holds. Reads are in selectors.py.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config import clock
from coupons import redis as gate
from coupons.errors import (
    AccountInactive,
    AlreadyBooked,
    HoldInvalid,
    InsufficientFunds,
    InvalidTransition,
    NoSuchSeat,
    SeatTaken,
    StaleToken,
    raise_for_outcome,
)
from coupons.locks import campaign_lock, seat_lock, wallet_lock
from coupons.models import Campaign, Grant, LedgerEntry, Seat
from coupons.seats import redis as seats_redis
from coupons.seats.selectors import seat_shopper_get
from coupons.services.gate import campaign_gate_rebuild, stats_correct_quietly
from coupons.services.passes import pass_use
from coupons.services.rankings import ranking_settled
from coupons.services.wallets import Posting, ledger_post
from coupons.templatetags.money import krw

logger = logging.getLogger(__name__)


# --- seat map generation (staff, while the campaign is a draft) ---------------

ROW_SPEC = re.compile(r"^\s*([A-Z])(?:-([A-Z]))?\s*:\s*(\d+)\s*$")


@transaction.atomic
def seat_map_generate(*, campaign: Campaign, rows: str, seats_per_row: int, section_of_rows: str = "") -> int:
    """Create seats "A-1".. from a spec like "A-C:50000, D-F:30000" (rows: price).

    Sections are named after their row range ("A-C"). The campaign's quantity
    becomes the number of seats. Only drafts can change their map.
    """
    campaign = campaign_lock(campaign_id=campaign.pk)
    if campaign.status != Campaign.Status.DRAFT:
        raise InvalidTransition(_("The seat map of a published campaign is read-only."))
    if seats_per_row < 1:
        raise InvalidTransition(_("seats_per_row must be at least 1."))
    parsed = []
    for part in rows.split(","):
        match = ROW_SPEC.match(part.upper())
        if not match:
            raise InvalidTransition(_("Bad row spec %(spec)s: use e.g. 'A-C:50000'.") % {"spec": repr(part.strip())})
        first, last, price = match.group(1), match.group(2) or match.group(1), int(match.group(3))
        if last < first:
            raise InvalidTransition(
                _("Bad row range %(first)s-%(last)s: write it from first to last row.") % {"first": first, "last": last}
            )
        parsed.append((first, last, price))
    rows_used = [chr(r) for first, last, _ in parsed for r in range(ord(first), ord(last) + 1)]
    if len(rows_used) != len(set(rows_used)):
        raise InvalidTransition(_("A row appears in two ranges."))
    Seat.objects.filter(campaign=campaign).delete()
    seats, slot = [], 0
    for first, last, price in parsed:
        section = f"{first}-{last}" if first != last else first
        for row in range(ord(first), ord(last) + 1):
            for number in range(1, seats_per_row + 1):
                slot += 1
                seats.append(
                    Seat(
                        campaign=campaign,
                        slot=slot,
                        label=f"{chr(row)}-{number}",
                        section=section,
                        row=chr(row),
                        number=number,
                        price=price,
                    )
                )
    try:
        with transaction.atomic():
            Seat.objects.bulk_create(seats)
    except IntegrityError as exc:
        raise InvalidTransition(_("The seat labels collide; check the row ranges.")) from exc
    Campaign.objects.filter(pk=campaign.pk).update(
        quantity=slot, allocation=Campaign.Allocation.CHOSEN, amount=min(p for _, _, p in parsed)
    )
    return slot


# --- hold, confirm, release -------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Hold:
    slot: int
    label: str
    token: int
    expires_ms: int


def seat_hold(
    *,
    campaign_id: int,
    user_id: int,
    slot: int,
    label: str = "",
    access_pass: str | None = None,
    now_ms: int | None = None,
    client_ip: str | None = None,
) -> Hold:
    """Hold a free seat for settings.SEAT_HOLD_SECONDS; a held or sold seat is 409 seat_taken.

    A hold is refused up front when the user could not complete it (409, nothing
    held, no pass used): an inactive account (account_inactive) or a wallet
    below the seat's price (insufficient_funds, with both) from one PostgreSQL
    query; a user who bought a seat of the campaign (already_booked) from the
    hold script, which also keeps one hold per user (holding another seat
    releases the previous one). The confirm checks funds and the one seat per
    user again in PostgreSQL, which decides.

    The hold script spends a token of the user's and of `client_ip`'s bucket
    first (None: no per-IP limit); an empty one is 429 rate_limited.

    Behind a waiting room the first hold uses up the access pass and opens a
    shopping session (SEAT_SESSION_SECONDS) for switching seats without a new pass.
    """
    shopper = seat_shopper_get(campaign_id=campaign_id, user_id=user_id, slot=slot)
    if not shopper.active:
        stats_correct_quietly(campaign_id=campaign_id, counted=None, heard=f"hold:{AccountInactive.code}")
        raise AccountInactive()
    if shopper.price is not None and shopper.balance < shopper.price:
        stats_correct_quietly(campaign_id=campaign_id, counted=None, heard=f"hold:{InsufficientFunds.code}")
        raise InsufficientFunds(
            _("Your balance (%(balance)s) is below this seat's price (%(price)s): top up, then hold it again.")
            % {"balance": krw(shopper.balance), "price": krw(shopper.price)},
            extra={"balance": shopper.balance, "price": shopper.price},
        )
    hold = partial(
        seats_redis.seat_hold,
        campaign_id=campaign_id,
        user_id=user_id,
        slot=slot,
        hold_ms=settings.SEAT_HOLD_SECONDS * 1000,
        session_ms=settings.SEAT_SESSION_SECONDS * 1000,
        now_ms=now_ms,
        client_ip=client_ip,
    )
    # A used pass (a second click, a reload) is no refusal here: the shopping session decides.
    with pass_use(
        campaign_id=campaign_id,
        user_id=user_id,
        access_pass=access_pass,
        now_ms=now_ms,
        client_ip=client_ip,
        stats_prefix="hold:",
    ) as use:
        result = hold(room_id=use.room_id, token_spent=use.token_spent)
        if result.outcome == "missing":
            campaign_gate_rebuild(campaign_id=campaign_id)
            result = hold(room_id=use.room_id, token_spent=use.token_spent)
        if result.outcome in ("held", "seat_taken"):
            use.settle()  # the pass was used: the room may count it off
        else:
            use.restore()  # the pass could not be used here: keep the turn
    if result.outcome == "held":
        return Hold(slot=slot, label=label, token=result.token, expires_ms=result.expiry_ms)
    raise_for_outcome(outcome=result.outcome, campaign_id=campaign_id, retry_after_ms=result.retry_after_ms)


@dataclass(frozen=True, kw_only=True)
class Sale:
    grant: Grant
    created: bool  # False: this hold had already bought the seat (a repeat of a confirm that succeeded)


def seat_confirm(*, campaign_id: int, user_id: int, slot: int, token: int, now_ms: int | None = None) -> Sale:
    """Buy a held seat: Redis checks holder and token, then PostgreSQL decides (S1).

    One transaction locks the seat, then the wallet (always in that order, so
    concurrent confirms never deadlock), refuses a token not greater than the
    seat's stored one, refuses when the wallet cannot pay (nothing changes),
    refuses an account deactivated since its hold (account_inactive),
    debits the wallet with a ledger entry, records the grant and the token and
    marks the seat sold. Every repeat of a confirm that succeeded, concurrent
    or later, gets the same sale (created False), charged once.
    """
    check = seats_redis.seat_check(campaign_id=campaign_id, user_id=user_id, slot=slot, token=token, now_ms=now_ms)
    if check == "sold":
        bought = _grant_of_sale(campaign_id=campaign_id, user_id=user_id, slot=slot, token=token)
        if bought is not None:
            return Sale(grant=bought, created=False)  # the same confirm again (a retry after a lost answer)
        raise SeatTaken()
    if not check.startswith("ok:"):
        if check == "expired" and gate.is_retired(campaign_id=campaign_id):
            # The campaign retired (coupons/services/retire.py): its sold marks left Redis with the
            # rest of the gate, so a late repeat of a confirm that succeeded finds its sale in PostgreSQL.
            bought = _grant_of_sale(campaign_id=campaign_id, user_id=user_id, slot=slot, token=token)
            if bought is not None:
                return Sale(grant=bought, created=False)
        raise HoldInvalid()
    sale = seat_sell(
        campaign_id=campaign_id, user_id=user_id, slot=slot, token=token, hold_expires_ms=int(check[3:]), now_ms=now_ms
    )
    try:
        seats_redis.seat_settle(
            campaign_id=campaign_id, action="sold", slot=slot, user_id=user_id, token=token, grant_id=str(sale.grant.pk)
        )
    except Exception as exc:  # noqa: BLE001 - the sale is committed; reconcile marks the seat sold in Redis
        logger.warning("seat %s of campaign %s sold but Redis was not told: %s", slot, campaign_id, exc)
    return sale


def _grant_of_sale(*, campaign_id: int, user_id: int, slot: int, token: int) -> Grant | None:
    seat = Seat.objects.filter(campaign_id=campaign_id, slot=slot, sold_to_id=user_id, fence_token=token).first()
    return seat.grant if seat is not None else None


@transaction.atomic
def seat_sell(
    *,
    campaign_id: int,
    user_id: int,
    slot: int,
    token: int,
    hold_expires_ms: int | None = None,
    now_ms: int | None = None,
) -> Sale:
    """The PostgreSQL half of a confirm; it alone decides, whatever Redis said (fencing).

    A holder whose hold runs out while waiting for the locks is refused here, so
    a hold that expired can never buy, even if the seat was freed and held again.
    A confirm that waited for the lock behind an identical one (same user, same
    token) finds the sale that one made and answers it.
    """
    seat = seat_lock(campaign_id=campaign_id, slot=slot)
    if seat is None:
        raise NoSuchSeat()
    if seat.status == Seat.Status.SOLD and seat.fence_token == token and seat.sold_to_id == user_id:
        return Sale(grant=seat.grant, created=False)
    if token <= seat.fence_token:
        raise StaleToken()
    if hold_expires_ms is not None and (now_ms if now_ms is not None else clock.now_ms()) >= hold_expires_ms:
        raise HoldInvalid()
    if seat.status == Seat.Status.SOLD:
        raise SeatTaken()
    if not get_user_model().objects.filter(pk=user_id, is_active=True).exists():
        raise AccountInactive()  # deactivated (or deleted) since the hold: nothing is charged or sold
    wallet = wallet_lock(user_id=user_id)  # second and last lock
    if wallet.balance < seat.price:
        raise InsufficientFunds(extra={"balance": wallet.balance, "price": seat.price})
    now = timezone.now()
    try:
        with transaction.atomic():
            grant = Grant.objects.create(
                id=uuid.uuid4(),
                campaign_id=campaign_id,
                user_id=user_id,
                slot=slot,
                status=Grant.Status.SUCCEEDED,
                attempts=1,
                completed_at=now,
                created_at=now,
            )
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "")
        raise (SeatTaken() if constraint == "grant_one_live_per_slot" else AlreadyBooked()) from exc
    purchase = Posting(
        wallet_id=wallet.pk,
        amount=-seat.price,
        kind=LedgerEntry.Kind.PURCHASE,
        reference=f"seat:{seat.pk}:{token}",
        grant_id=grant.pk,
    )
    ledger_post(postings=[purchase])
    Seat.objects.filter(pk=seat.pk).update(
        status=Seat.Status.SOLD, fence_token=token, sold_to_id=user_id, sold_at=now, grant=grant
    )
    # A seat sale is a grant that succeeded at once: it counts on the boards like a claim
    # whose grant settled (claims and users served), once the sale is committed.
    transaction.on_commit(partial(ranking_settled, grant=grant, succeeded=True))
    return Sale(grant=grant, created=True)


def seat_release(*, campaign_id: int, user_id: int, slot: int, token: int) -> bool:
    return seats_redis.seat_settle(campaign_id=campaign_id, action="release", slot=slot, user_id=user_id, token=token)


def seats_sweep(*, now_ms: int | None = None, batch: int = 500) -> int:
    """Return expired holds of every open chosen-seat campaign (beat); Redis's clock by default."""
    returned = 0
    ids = Campaign.objects.filter(
        allocation=Campaign.Allocation.CHOSEN,
        status__in=[Campaign.Status.OPEN, Campaign.Status.SOLD_OUT],
        gate_retired_at__isnull=True,  # a tombstone holds no seat
    ).values_list("pk", flat=True)
    for campaign_id in ids:
        returned += seats_redis.seat_sweep(campaign_id=campaign_id, now_ms=now_ms, batch=batch)
    return returned
