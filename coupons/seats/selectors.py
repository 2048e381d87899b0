"""Reads of seats: one seat by its label, the seat map with its live state and its layout, and who may hold a seat."""

import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Subquery

from config import clock
from coupons.errors import NoSuchSeat
from coupons.models import Seat
from coupons.seats import redis as seats_redis

LABEL = re.compile(r"^[A-Za-z0-9-]{1,12}$")


def seat_get(*, campaign_id: int, label: str) -> Seat:
    if not LABEL.match(label):
        raise NoSuchSeat()
    seat = Seat.objects.filter(campaign_id=campaign_id, label=label.upper()).first()
    if seat is None:
        raise NoSuchSeat()
    return seat


@dataclass(frozen=True, kw_only=True)
class SeatView:
    label: str
    slot: int
    section: str
    row: str
    number: int
    price: int
    state: str  # free | held (by another) | mine (held by you) | sold (to another) | bought (by you)
    token: int | None = None
    expires_ms: int | None = None


def seat_map(*, campaign_id: int, user_id: int | None, now_ms: int | None = None) -> list[SeatView]:
    """Every seat with its live state: PostgreSQL for the map, Redis for holds and sales."""
    now = now_ms if now_ms is not None else clock.now_ms()
    states = seats_redis.seat_states(campaign_id=campaign_id)
    views = []
    for seat in Seat.objects.filter(campaign_id=campaign_id).order_by("slot"):
        value = states.get(seat.slot)
        state, token, expires = "free", None, None
        if seat.status == Seat.Status.SOLD or value == "sold":
            state = "bought" if user_id is not None and seat.sold_to_id == user_id else "sold"
        elif value:
            holder, held_token, expiry = value.split(":")[1:4]
            if int(expiry) > now:
                state = "mine" if user_id is not None and int(holder) == user_id else "held"
                if state == "mine":
                    token, expires = int(held_token), int(expiry)
        views.append(
            SeatView(
                label=seat.label,
                slot=seat.slot,
                section=seat.section,
                row=seat.row,
                number=seat.number,
                price=seat.price,
                state=state,
                token=token,
                expires_ms=expires,
            )
        )
    return views


# Sections take these colours by price, dearest first (static/css/app.css: .seat--tier1..4).
TIERS = 4
AISLE_FROM = 8  # a row of at least this many seats gets an aisle in its middle


@dataclass(frozen=True, kw_only=True)
class SeatRow:
    name: str
    cells: list[SeatView | None]  # by number from 1; None: no seat there (a gap, or the aisle)


@dataclass(frozen=True, kw_only=True)
class Section:
    name: str
    price: int
    tier: int  # 1..TIERS, the colour
    rows: list[SeatRow]


def seat_layout(seats: list[SeatView]) -> list[Section]:
    """The map as the hall stands: sections from the stage back, their rows in order, seats by number.

    A section is drawn as wide as its longest row, so the same numbers line up
    down the section; a missing number leaves a gap, and a wide row an aisle in
    its middle. A section priced differently inside (staff data) shows its lowest
    price; every seat still carries its own.
    """
    by_section: dict[str, list[SeatView]] = {}
    for seat in sorted(seats, key=lambda s: s.slot):
        by_section.setdefault(seat.section, []).append(seat)
    prices = sorted({min(s.price for s in members) for members in by_section.values()}, reverse=True)
    sections = []
    for name, members in by_section.items():
        width = max((s.number for s in members), default=0) or len(members)
        aisle = width // 2 if width >= AISLE_FROM else None
        rows: dict[str, dict[int, SeatView]] = {}
        for position, seat in enumerate(members, start=1):
            rows.setdefault(seat.row, {})[seat.number or position] = seat
        seat_rows = []
        for row_name in sorted(rows, key=lambda r: (len(r), r)):
            numbered = rows[row_name]
            cells: list[SeatView | None] = []
            for number in range(1, max(width, max(numbered)) + 1):
                cells.append(numbered.get(number))
                if number == aisle:
                    cells.append(None)
            seat_rows.append(SeatRow(name=row_name, cells=cells))
        price = min(s.price for s in members)
        sections.append(Section(name=name, price=price, tier=min(prices.index(price) + 1, TIERS), rows=seat_rows))
    return sections


@dataclass(frozen=True, kw_only=True)
class Shopper:
    """What a hold checks in PostgreSQL before it takes a seat."""

    active: bool  # False also for a user deleted since they authenticated
    balance: int  # KRW in their wallet (0 without one)
    price: int | None  # KRW of the seat; None: no such seat


def seat_shopper_get(*, campaign_id: int, user_id: int, slot: int) -> Shopper:
    """The user's account state, their wallet's balance and the seat's price, in one query."""
    price = Seat.objects.filter(campaign_id=campaign_id, slot=slot).order_by().values("price")[:1]  # unique: no sort
    row = (
        get_user_model()
        .objects.filter(pk=user_id)
        .annotate(seat_price=Subquery(price))
        .values_list("is_active", "wallet__balance", "seat_price")
        .first()
    )
    if row is None:  # deleted since the request was authenticated
        return Shopper(active=False, balance=0, price=None)
    active, balance, seat_price = row
    return Shopper(active=active, balance=balance or 0, price=seat_price)
