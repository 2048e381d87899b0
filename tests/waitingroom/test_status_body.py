"""The lean status poll's hand-written body (waitingroom/api/lean.py) is RoomStatusOutputSerializer's output."""

import itertools

import pytest
from django.utils import translation
from rest_framework.renderers import JSONRenderer

from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign
from tests.waitingroom.factories import published_room
from waitingroom.api.lean import status_body
from waitingroom.api.views import RoomStatusOutputSerializer, status_extras
from waitingroom.models import WaitingRoom
from waitingroom.services.admission import room_tick
from waitingroom.services.queue import RoomStatus, room_join, room_status

pytestmark = pytest.mark.django_db(transaction=True)


def serialized(room, result: RoomStatus) -> dict:
    """What the DRF view answers (waitingroom/api/views.py _status_body)."""
    return RoomStatusOutputSerializer({**result.__dict__, **status_extras(room, result)}).data


def assert_same(room, result: RoomStatus) -> None:
    by_hand, by_serializer = status_body(room, result), serialized(room, result)
    assert list(by_hand) == list(by_serializer)  # the same fields in the same order
    assert JSONRenderer().render(by_hand) == JSONRenderer().render(by_serializer)


def statuses():
    """Every shape a status takes, with the service's types and with looser ones a script may hand back."""
    outcomes = ["admitted", "queued", "prequeued", "absent"]
    states = ["scheduled", "queueing", "paused", "closed", "sold_out"]
    for outcome, state, eta, uncertain, throttled in itertools.product(
        outcomes, states, [None, 0, 3, 75, 4000], [False, True], [False, True, 0, 1]
    ):
        yield RoomStatus(
            outcome=outcome,
            state=state,
            position=0 if outcome != "queued" else 7,
            ahead=0 if outcome != "queued" else 6,
            size=120,
            eta_seconds=eta,
            poll_after=5,
            throttled=throttled,
            access_pass="pass-text" if outcome == "admitted" else None,
            pass_expires_ms=1_900_000_000_000 if outcome == "admitted" else None,
            ticket="ticket-text" if outcome in ("queued", "prequeued") else None,
            front=outcome != "prequeued",
            score=42,
            eta_uncertain=uncertain,
        )


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_hand_written_body_is_the_serializers_for_every_shape(language):
    room = published_room()
    with_campaign = published_room(campaign=published_campaign())
    with translation.override(language):
        for result in statuses():
            assert_same(room, result)
            assert_same(with_campaign, result)


def test_the_hand_written_body_is_the_serializers_for_real_statuses():
    room = published_room(admit_rate=1, max_active=1, campaign=published_campaign())
    users = UserFactory.create_batch(3)
    for user in users:
        room_join(room_id=room.pk, user_id=user.pk)
    room_tick(room=room)
    seen = set()
    for user in [*users, UserFactory()]:
        result = room_status(room=room, user_id=user.pk)
        seen.add(result.outcome)
        assert_same(room, result)
    assert seen == {"admitted", "queued", "absent"}
    paused = published_room(status=WaitingRoom.Status.PAUSED)
    room_join(room_id=paused.pk, user_id=users[0].pk)
    assert_same(paused, room_status(room=paused, user_id=users[0].pk))


def test_a_field_the_serializer_gains_is_noticed():
    # the comparison above can fail: a body missing a field is not the serializer's
    room = published_room()
    result = next(statuses())
    body = status_body(room, result)
    body.pop("line_url")
    assert JSONRenderer().render(body) != JSONRenderer().render(serialized(room, result))
