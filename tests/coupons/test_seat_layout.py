"""The seat map's layout: sections from the stage back with their price and colour, rows lined up by number."""

import pytest

from coupons.models import Campaign, Seat
from coupons.seats.selectors import SeatView, seat_layout, seat_map
from coupons.seats.services import seat_map_generate
from tests.coupons.factories import CampaignFactory


def view(label: str, *, slot: int, section: str = "A", price: int = 50_000, state: str = "free") -> SeatView:
    row, number = label.split("-")
    return SeatView(label=label, slot=slot, section=section, row=row, number=int(number), price=price, state=state)


def labels(row) -> list[str | None]:
    return [cell.label if cell else None for cell in row.cells]


@pytest.mark.django_db
def test_generated_seats_have_a_row_and_a_number_and_lay_out_by_section_and_row():
    # given a hall of two priced sections, 10 seats a row
    campaign = CampaignFactory(quantity=1, amount=0)
    seat_map_generate(campaign=campaign, rows="A-B:50000, C-E:30000", seats_per_row=10)

    # when the map is laid out
    seats = seat_map(campaign_id=campaign.pk, user_id=None)
    sections = seat_layout(seats)

    # then each seat knows its row and number, and the sections come front first, dearest in the first colour
    assert {(s.label, s.row, s.number) for s in seats} >= {("A-1", "A", 1), ("E-10", "E", 10)}
    assert Seat.objects.filter(campaign=campaign, number=0).count() == 0
    assert [(s.name, s.price, s.tier) for s in sections] == [("A-B", 50_000, 1), ("C-E", 30_000, 2)]
    assert [row.name for row in sections[1].rows] == ["C", "D", "E"]
    # and a row of 10 has an aisle after seat 5, so every row is 11 cells wide and seat numbers line up
    first = sections[0].rows[0]
    assert labels(first) == ["A-1", "A-2", "A-3", "A-4", "A-5", None, "A-6", "A-7", "A-8", "A-9", "A-10"]
    assert {len(row.cells) for section in sections for row in section.rows} == {11}
    assert Campaign.objects.get(pk=campaign.pk).quantity == 50


def test_a_missing_seat_leaves_a_gap_so_the_numbers_still_line_up():
    seats = [view("A-1", slot=1), view("A-2", slot=2), view("A-3", slot=3), view("B-1", slot=4), view("B-3", slot=5)]
    (section,) = seat_layout(seats)
    assert [labels(row) for row in section.rows] == [["A-1", "A-2", "A-3"], ["B-1", None, "B-3"]]


def test_rows_sort_as_a_hall_does_and_short_rows_get_no_aisle():
    seats = [view("AA-1", slot=1), view("B-1", slot=2), view("A-1", slot=3), view("A-2", slot=4)]
    (section,) = seat_layout(seats)
    assert [row.name for row in section.rows] == ["A", "B", "AA"]
    assert labels(section.rows[0]) == ["A-1", "A-2"]


def test_sections_priced_alike_share_a_colour_and_colours_stop_at_four():
    prices = [90_000, 70_000, 50_000, 30_000, 10_000, 70_000]
    seats = [view(f"{chr(65 + i)}-1", slot=i + 1, section=chr(65 + i), price=p) for i, p in enumerate(prices)]
    assert [s.tier for s in seat_layout(seats)] == [1, 2, 3, 4, 4, 2]


def test_the_states_of_a_seat_keep_their_layout_place():
    seats = [view("A-1", slot=1, state="bought"), view("A-2", slot=2, state="mine"), view("A-3", slot=3, state="held")]
    (section,) = seat_layout(seats)
    assert [cell.state for cell in section.rows[0].cells] == ["bought", "mine", "held"]
    assert seat_layout([]) == []
