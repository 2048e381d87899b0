"""W8: a Redis failover that loses the room's recent writes (issue 16, item 10).

The failover is a rollback of the room's keys to a copy taken earlier (DUMP, then RESTORE
of every key as it was: what a replica promoted while it lagged holds). Clients act
through the HTTP API, keeping the arrival ticket each answer gives them."""

import time

import pytest

from config import redis as fc_redis
from coupons.models import Grant
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import client_with
from tests.coupons.factories import published_campaign
from tests.waitingroom.factories import published_room
from tests.waitingroom.test_room import account_token
from waitingroom import redis as room_redis
from waitingroom.errors import PassInvalid
from waitingroom.models import AccessPassUse
from waitingroom.services.admission import room_tick
from waitingroom.services.passes import pass_consume
from waitingroom.services.queue import room_join, room_leave, room_status

pytestmark = pytest.mark.django_db(transaction=True)

BAND_MS = 100  # lib/heartbeat.lua: arrivals are ordered by the tenth of a second first


class Client:
    """A user of the API that keeps the latest ticket and pass it was given."""

    def __init__(self, room, campaign):
        self.user = UserFactory()
        self.api = client_with(account_token(self.user))
        self.room, self.campaign = room, campaign
        self.ticket = self.access_pass = None

    def _keep(self, response) -> dict:
        assert response.status_code == 200, response.content
        body = response.json()
        self.ticket = body["ticket"] or self.ticket
        self.access_pass = body["access_pass"] or self.access_pass
        return body

    def join(self, *, with_ticket: bool = True) -> dict:
        body = {"ticket": self.ticket} if with_ticket and self.ticket else {}
        return self._keep(self.api.post(f"/api/v1/rooms/{self.room.slug}/join/", body, format="json"))

    def status(self) -> dict:
        query = {"ticket": self.ticket} if self.ticket else {}
        return self._keep(self.api.get(f"/api/v1/rooms/{self.room.slug}/status/", query))

    def claim(self):
        url = f"/api/v1/campaigns/{self.campaign.slug}/claims/"
        return self.api.post(url, {"access_pass": self.access_pass}, format="json")


def redis_ms() -> int:
    seconds, micros = fc_redis.client().time()
    return seconds * 1000 + micros // 1000


def failover_lasts(*, since: int) -> None:
    """A failover takes longer than one band (a tenth of a second; seconds in practice): the
    Redis clock is read until it has moved that far past `since` (no sleep that may fall short)."""
    while redis_ms() < since + BAND_MS:
        time.sleep(0.005)


def snapshot(room) -> dict[str, bytes | None]:
    client = fc_redis.client()
    return {key: client.dump(key) for key in room_redis.RoomKeys.of(room.pk).all()}


def roll_back(copy: dict[str, bytes | None]) -> None:
    """Every key of the room as the copy has it: newer keys gone, older ones back."""
    client = fc_redis.client()
    for key, value in copy.items():
        client.delete(key)
        if value is not None:
            client.restore(key, 0, value)


def queue_order(room) -> list[int]:
    return [int(m) for m in fc_redis.client().zrange(room_redis.RoomKeys.of(room.pk).queue, 0, -1)]


def test_a_rollback_keeps_the_line_in_arrival_order_and_every_pass_given_working():
    # given: a room in front of 20 slots; a and b admitted, c waiting
    campaign = published_campaign(quantity=20)
    room = published_room(campaign=campaign, admit_rate=2, max_active=10, pass_ttl_seconds=300)
    a, b, c, d, e, g, f = (Client(room, campaign) for _ in range(7))
    for client in (a, b, c):
        client.join()
    t0 = redis_ms()
    room_tick(room=room, now_ms=t0)
    assert [a.status()["outcome"], b.status()["outcome"], c.status()["position"]] == ["admitted", "admitted", 1]

    # and a copy of the room's keys, as a replica lagging from here on would hold them
    copy = snapshot(room)

    # when: the primary goes on: d, e and g join, c is admitted and given a pass, a uses theirs
    for client in (d, e, g):
        client.join()
        client.status()
    last_lost_join = redis_ms()
    room_tick(room=room, now_ms=t0 + 1000)
    assert c.status()["outcome"] == "admitted"
    assert a.claim().status_code == 202

    # and then fails over to the replica: every key of the room rolls back to the copy
    roll_back(copy)
    failover_lasts(since=last_lost_join)

    # then: f, who arrives after the failover, joins behind everyone who joined before it:
    # d and e come back at their places with their tickets, in their order
    f.join()
    assert d.status()["position"] == 2 and e.status()["position"] == 3  # c is back in line too (the copy's)
    assert f.status()["position"] == 4
    # and g, who sends no ticket, joins at the back (documented)
    g.join(with_ticket=False)
    assert queue_order(room) == [c.user.pk, d.user.pk, e.user.pk, f.user.pk, g.user.pk]
    # and no place was issued twice: f's arrival number is not one the copy gave out again
    scores = fc_redis.client().zrange(room_redis.RoomKeys.of(room.pk).queue, 0, -1, withscores=True)
    assert len({score for _, score in scores}) == 5

    # then: every pass given works until its expiry, once: c's (given after the copy), b's (before it)
    assert c.claim().status_code == 202
    assert b.claim().status_code == 202
    assert c.user.pk not in queue_order(room)  # c was served: out of the line the failover put them back in
    # and the pass a used after the copy does not work again, though the copy shows it unused
    with pytest.raises(PassInvalid):
        pass_consume(token=a.access_pass, user_id=a.user.pk)
    assert AccessPassUse.objects.filter(user=a.user).count() == 1
    assert Grant.objects.filter(campaign=campaign).count() == 3

    # then: admission goes on in arrival order
    room_tick(room=room, now_ms=t0 + 2000)
    room_tick(room=room, now_ms=t0 + 3000)
    assert [client.status()["outcome"] for client in (d, e, f, g)] == ["admitted"] * 4
    assert queue_order(room) == []


def test_a_ticket_does_not_bring_back_a_place_that_was_served_or_left_silent():
    room = published_room(admit_rate=1, max_active=10, silence_timeout_seconds=30)
    served, silent, waiting = (Client(room, None) for _ in range(3))
    for client in (served, silent, waiting):
        client.join()
    t0 = redis_ms()
    room_tick(room=room, now_ms=t0)
    assert served.status()["outcome"] == "admitted"

    # when: the admitted user leaves and comes back with the ticket of the place already served
    room_leave(room_id=room.pk, user_id=served.user.pk)
    room_status(room=room, user_id=served.user.pk, ticket=served.ticket)
    # then: it is spent
    assert served.user.pk not in queue_order(room)

    # when: the silent one is dropped at the front, then comes back with a ticket older than the silence timeout
    room_status(room=room, user_id=waiting.user.pk, now_ms=t0 + 70_000)
    tick = room_tick(room=room, now_ms=t0 + 70_000)
    assert (tick.dropped, tick.admitted) == (1, 1)
    assert queue_order(room) == []
    result = room_status(room=room, user_id=silent.user.pk, ticket=silent.ticket, now_ms=t0 + 141_000)

    # then: no place comes back (W5): joining again is at the back
    assert result.outcome == "absent"


def test_a_forged_or_foreign_ticket_is_refused_and_changes_nothing():
    room = published_room()
    owner, other = Client(room, None), Client(room, None)
    owner.join()
    forged = owner.ticket[:-2] + ("aa" if not owner.ticket.endswith("aa") else "bb")
    for response in (
        other.api.post(f"/api/v1/rooms/{room.slug}/join/", {"ticket": owner.ticket}, format="json"),
        other.api.post(f"/api/v1/rooms/{room.slug}/join/", {"ticket": forged}, format="json"),
        other.api.get(f"/api/v1/rooms/{room.slug}/status/", {"ticket": owner.ticket}),
    ):
        assert (response.status_code, response.json()["code"]) == (400, "ticket_invalid")
    assert queue_order(room) == [owner.user.pk]


def test_the_waiting_page_keeps_the_ticket_in_a_cookie_and_gets_the_place_back(client, user):
    # given: someone in line on the waiting page, behind one other
    room = published_room()
    room_join(room_id=room.pk, user_id=UserFactory().pk)
    client.force_login(user)
    client.post(f"/rooms/{room.slug}/join/")
    joined = redis_ms()
    assert 'data-field="position">2<' in client.get(f"/rooms/{room.slug}/").content.decode()
    assert client.cookies[f"fc_ticket_{room.pk}"].value

    # when: Redis forgets them (their entry and the arrival counter) and two people join meanwhile
    keys = room_redis.RoomKeys.of(room.pk)
    fc_redis.client().zrem(keys.queue, user.pk)
    fc_redis.client().set(keys.seq, 1)
    failover_lasts(since=joined)
    for other in UserFactory.create_batch(2):
        room_join(room_id=room.pk, user_id=other.pk)

    # then: the page's next poll (the script's fetch sends the cookie too) puts them back at their place
    assert client.get(f"/api/v1/rooms/{room.slug}/status/").json()["position"] == 2
    assert 'data-field="position">2<' in client.get(f"/rooms/{room.slug}/").content.decode()

    # and leaving drops the cookie: a place given up does not come back
    client.post(f"/rooms/{room.slug}/leave/")
    assert not client.cookies[f"fc_ticket_{room.pk}"].value


def test_a_places_ticket_is_the_same_at_every_answer_and_an_earlier_ones_still_works():
    from django.core import signing

    from waitingroom.tickets import TICKET_SALT

    # given a user in line, polling twice
    campaign = published_campaign(quantity=5)
    room = published_room(campaign=campaign)
    a = Client(room, campaign)
    a.join()
    first = a.status()["ticket"]
    assert a.status()["ticket"] == first  # the same place, the same ticket (signed once per process)
    payload = signing.loads(first, salt=TICKET_SALT)
    assert set(payload) == {"r", "u", "s"}

    # and a ticket as issued before tickets dropped the time last heard (key h)
    earlier = signing.dumps({**payload, "h": redis_ms() - 3_600_000}, salt=TICKET_SALT, compress=False)
    copy = {key: None for key in room_redis.RoomKeys.of(room.pk).all()}  # a failover to an empty replica

    # when Redis forgets the room, then the earlier ticket brings the place back
    roll_back(copy)
    a.ticket = earlier
    assert a.status()["position"] == 1
    assert queue_order(room) == [a.user.pk]
