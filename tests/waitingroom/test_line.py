"""The line document and the front zone (issue 21): a small line served the way a million would be.

400 people join a room on an injected clock. Far back they read the room's
line document (one per second, as the proxy would keep it) and place
themselves in it from their ticket's arrival score; in the front zone they
poll their own status. A fifth of those further back go silent after
joining. Second by second: every place a reader computes is within
max(100, 1%) of the exact rank at that moment, status polls come only from
the front zone, every live user hears of their admission within 2 s, no
silent user ever takes an active place, and W1-W3 hold. At the end every
person is counted: admitted, or dropped as silent.
"""

import base64
import json
from dataclasses import dataclass
from itertools import pairwise

import pytest
from django.core import signing
from django.utils import timezone

from config import redis as fc_redis
from tests.waitingroom.factories import published_room
from waitingroom import eta, schedule
from waitingroom import redis as room_redis
from waitingroom.services.admission import Pressure, room_tick
from waitingroom.services.line import GAP_SHARE, LEAST_GAP, RoomLine, room_line
from waitingroom.services.passes import PASS_SALT, pass_room
from waitingroom.services.queue import room_join, room_leave, room_status

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_900_000_000_000  # a fixed clock: this room lives in 2030
CALM = Pressure(pending_grants=0, latency_ms=0)


def ticket_score(ticket: str) -> int:
    """What room.js does: the ticket's payload is readable base64url JSON before the first colon."""
    payload = ticket.split(":")[0]
    return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["s"])


def placed(line: RoomLine, score: int) -> tuple[int, int, int] | None:
    """(lowest, highest, told) place of `score` in the document; None: before the first mark (served)."""
    below = [mark for mark in line.marks if mark.score <= score]
    if not below:
        return None
    low = below[-1]
    above = [mark for mark in line.marks if mark.score > score]
    high = above[0].position - 1 if above else low.position
    return low.position, high, (low.position + high) // 2


def exact_position(room, user_id: int) -> int | None:
    rank = fc_redis.client().zrank(room_redis.RoomKeys.of(room.pk).queue, user_id)
    return None if rank is None else rank + 1


def close_enough(told: int, exact: int) -> bool:
    return abs(told - exact) <= max(100, exact / 100)


def test_marks_place_everyone_within_the_bound_and_the_front_score_is_exact():
    # given: 1,500 in line, then 300 of them leave from all over it
    room = published_room(admit_rate=40, max_active=100, silence_timeout_seconds=60)
    scores = {}
    for user_id in range(1, 1501):
        scores[user_id] = room_join(room_id=room.pk, user_id=user_id, now_ms=T0).score
    for user_id in range(3, 1501, 5):
        room_leave(room_id=room.pk, user_id=user_id)
        del scores[user_id]

    # when
    line = room_line(room=room, now_ms=T0 + 10)

    # then: every remaining person is placed within the bound, and the front zone is the first `front` places
    assert line.size == 1200 and line.front == schedule.front_size(rate=40) == 240
    gaps = [b.position - a.position for a, b in pairwise(line.marks)]
    assert line.marks[0].position == 1 and line.marks[-1].position == 1200 and max(gaps) <= LEAST_GAP
    for user_id, score in scores.items():
        exact = exact_position(room, user_id)
        low, high, told = placed(line, score)
        assert low <= exact <= high and close_enough(told, exact), (user_id, exact, low, high)
        assert (score <= line.front_score) == (exact <= line.front)
    assert line.marks[0].eta_seconds == 1 and line.marks[-1].after > line.marks[0].after


def test_the_gap_grows_to_two_percent_far_back(monkeypatch):
    # marks every 2% of the place once that is more than 200 places (checked on 30,000 without the clock)
    room = published_room(admit_rate=1000, max_active=100)
    batch = fc_redis.ScriptBatch()
    for user_id in range(1, 30_001):
        room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0, now_ms=T0, batch=batch)
    batch.execute()
    line = room_line(room=room, now_ms=T0 + 10)
    for a, b in pairwise(line.marks):
        assert b.position - a.position <= max(LEAST_GAP, (a.position - 1) // GAP_SHARE)
    assert len(line.marks) < 120
    assert [mark.position - 1 for mark in line.marks] == schedule.mark_ranks(30_000)  # what bench/crowd.py sums


def test_the_line_scripts_front_zone_is_schedules():
    room = published_room(admit_rate=3, max_active=100)
    for user_id in range(1, 60):
        room_join(room_id=room.pk, user_id=user_id, now_ms=T0)
    before = room_line(room=room, now_ms=T0)
    room_tick(room=room, now_ms=T0 + 1000, pressure=CALM)
    after = room_line(room=room, now_ms=T0 + 1100)
    meta = room_redis.meta_get(room_id=room.pk)
    pace = eta.Pace(float(meta["rate_ema"]), float(meta["pos_ema"]), None, int(meta["last_tick_ms"]))
    assert before.front == schedule.front_size(rate=3) == schedule.FRONT_MIN
    assert after.front == schedule.front_size(rate=eta.people_per_tick(pace, configured_rate=3))


def test_the_line_has_no_marks_before_opening():
    opens = timezone.now() + timezone.timedelta(minutes=10)
    room = published_room(prequeue=True, opens_at=opens, status="scheduled")
    room_join(room_id=room.pk, user_id=1)
    line = room_line(room=room)
    assert (line.state, line.size, line.marks, line.front_score) == ("scheduled", 1, [], None)
    assert line.poll_after > 1  # a quarter of the wait to opening


@dataclass
class Person:
    user_id: int
    silent: bool
    score: int = 0
    next_at: int = 0  # the second of their next request
    polling: bool = False  # in the front zone: polls status
    admitted_at: int | None = None  # the tick that admitted them
    heard_at: int | None = None  # the second they learnt it
    access_pass: str | None = None


def test_a_small_line_served_the_new_way_keeps_every_guarantee():
    # given: 400 people; a rate of 10 a second, so the front zone is 60 places; passes last 3 s
    room = published_room(admit_rate=10, max_active=25, pass_ttl_seconds=3, silence_timeout_seconds=6)
    people = [Person(user_id=n, silent=n > 150 and n % 5 == 0) for n in range(1, 401)]
    for person in people:
        room_join(room_id=room.pk, user_id=person.user_id, now_ms=T0)
        answer = room_status(room=room, user_id=person.user_id, now_ms=T0)  # what the join answers
        person.score, person.polling, person.next_at = ticket_score(answer.ticket), answer.front, answer.poll_after
    assert sum(p.polling for p in people) == schedule.front_size(rate=10) == 60
    rejoin = room_join(room_id=room.pk, user_id=200, now_ms=T0 + 5)  # W3: a re-join keeps the place
    assert rejoin.score == people[199].score

    keys = room_redis.RoomKeys.of(room.pk)
    status_polls, line_reads, documents, order = {}, 0, 0, []
    for second in range(1, 121):
        now = T0 + second * 1000
        # the admission tick, then W1 and W2
        before = set(int(m) for m in fc_redis.client().zrange(keys.active, 0, -1))
        room_tick(room=room, now_ms=now, pressure=CALM)
        active = set(int(m) for m in fc_redis.client().zrange(keys.active, 0, -1))
        assert len(active) <= room.max_active
        for user_id in sorted(active - before):
            people[user_id - 1].admitted_at = second
            order.append(people[user_id - 1].score)
        # the proxy's copy of the line document, made once a second
        line = room_line(room=room, now_ms=now + 1)
        documents += 1
        status_polls[second] = 0
        for person in people:
            if person.silent or person.heard_at is not None or person.next_at > second:
                continue
            if not person.polling:
                line_reads += 1
                where = placed(line, person.score)
                if where is None or person.score <= line.front_score:
                    person.polling = True  # in the front zone (or served): poll status from now on
                else:
                    exact = exact_position(room, person.user_id)
                    assert close_enough(where[2], exact), (second, person, where, exact)
                    mark = next(m for m in reversed(line.marks) if m.score <= person.score)
                    person.next_at = second + mark.after
                    continue
            answer = room_status(room=room, user_id=person.user_id, now_ms=now + 2)
            status_polls[second] += 1
            if answer.outcome == "admitted":
                person.heard_at, person.access_pass = second, answer.access_pass
            else:
                assert answer.outcome == "queued" and answer.front, (second, person, answer)
                person.next_at = second + answer.poll_after
        if not fc_redis.client().zcard(keys.queue) and all(p.silent or p.heard_at for p in people):
            break

    # then: every person is counted, admitted or dropped as silent, and the line is empty
    live = [p for p in people if not p.silent]
    silent = [p for p in people if p.silent]
    assert len(live) + len(silent) == 400 and len(silent) == 50
    assert all(p.admitted_at is None for p in silent)  # W5: no silent user took an active place
    assert all(p.heard_at is not None and p.heard_at - p.admitted_at <= 2 for p in live)  # within 2 s
    assert fc_redis.client().zcard(keys.queue) == 0
    assert room_redis.meta_get(room_id=room.pk)["admitted"] == "350"
    assert order == sorted(order)  # W2: admitted in join order
    # status polls came from the front zone only: 60 people each every 2 s, plus the 10 a second
    # who enter it or hear they are in (these 400 joined in one second, so their polls come in step)
    polls = list(status_polls.values())
    assert sum(polls) / len(polls) <= 60 / schedule.FRONT_POLL_SECONDS + 10
    assert max(a + b for a, b in pairwise(polls)) <= 60 + 3 * 10
    assert sum(status_polls.values()) < 400 * 6 and line_reads > 0 and documents == second
    # W4 holds as before: the pass of the last admitted is theirs only, and works once (these
    # people have no account rows, so the Redis half of pass_consume is run directly)
    last = max(live, key=lambda p: p.admitted_at)
    assert pass_room(token=last.access_pass, user_id=last.user_id) == room.pk
    assert pass_room(token=last.access_pass, user_id=last.user_id + 1) is None
    expiry = signing.loads(last.access_pass, salt=PASS_SALT)["x"]
    used_at = T0 + last.heard_at * 1000 + 10
    consume = [
        room_redis.consume(room_id=room.pk, user_id=last.user_id, expiry_ms=expiry, now_ms=used_at) for _ in "12"
    ]
    assert consume == [1, 0]


def test_a_far_back_user_the_room_forgot_gets_their_place_back_however_long_they_only_read_the_line():
    # given: 100 in line (front zone 20 at a rate of 2); the 80th reads only the line document from then on
    room = published_room(admit_rate=2, max_active=100, silence_timeout_seconds=30)
    for user_id in range(1, 101):
        room_join(room_id=room.pk, user_id=user_id, now_ms=T0)
        room_status(room=room, user_id=user_id, now_ms=T0)
    ticket = room_status(room=room, user_id=80, now_ms=T0).ticket
    for second in range(1, 20):  # others poll; the ticks admit 38
        for user_id in range(1, 101):
            if user_id != 80:
                room_status(room=room, user_id=user_id, now_ms=T0 + second * 1000)
        room_tick(room=room, now_ms=T0 + second * 1000 + 1, pressure=CALM)

    # when: a failover forgot them, and 5 silence timeouts after their last status poll their
    # page polls status with its ticket (as it does once the document puts it in the front zone)
    fc_redis.client().zrem(room_redis.RoomKeys.of(room.pk).queue, 80)
    assert exact_position(room, 80) is None
    back = room_status(room=room, user_id=80, ticket=ticket, now_ms=T0 + 150_000)

    # then: their place, behind the 41 still ahead of them (79 - 38), not at the back
    assert (back.outcome, back.position, back.front) == ("queued", 42, False)
