from datetime import timedelta

import factory
from django.utils import timezone

from waitingroom.models import WaitingRoom
from waitingroom.services.rooms import room_publish


class WaitingRoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WaitingRoom

    slug = factory.Sequence(lambda n: f"room-{n}")
    title = factory.LazyAttribute(lambda r: f"Room {r.slug}")
    max_active = 10
    admit_rate = 5
    pass_ttl_seconds = 60
    silence_timeout_seconds = 60
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(seconds=1))
    prequeue = False
    status = WaitingRoom.Status.QUEUEING
    max_pending_grants = 0
    max_store_latency_ms = 0


def published_room(**fields) -> WaitingRoom:
    room = WaitingRoomFactory(**fields)
    room_publish(room=room)
    return room
