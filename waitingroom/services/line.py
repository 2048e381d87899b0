"""The line document: one answer for everyone queued in a room, which the proxy keeps for a second.

A queued user outside the front zone does not poll their own status
(waitingroom/schedule.py): they read this document and place themselves in it
with the arrival score of their ticket (tickets.py; it is readable). It holds
marks, the scores at places spread along the line (every 200 places, then
every 2% of the place), each with the wait and the next-read interval that
place would be told; a user whose score lies between two marks stands
between them, and the middle is within max(100 people, 1%) of their exact
place when the document was made. A user at or before `front_score` is in the
front zone and polls their status (their heartbeat, W5) every `front_poll`
seconds. Before opening there are no marks (the pre-queue's order is secret).
"""

from dataclasses import dataclass
from functools import partial

from config import clock
from waitingroom import eta, schedule
from waitingroom import redis as room_redis
from waitingroom.models import WaitingRoom
from waitingroom.services.rooms import room_meta_ensure

LEAST_GAP, GAP_SHARE = schedule.LEAST_GAP, schedule.GAP_SHARE


@dataclass(frozen=True, kw_only=True)
class LineMark:
    position: int  # 1 = next in line
    score: int  # the arrival score standing at that place
    eta_seconds: int | None  # what status would tell that place (eta.py)
    after: int  # when that place reads the line again (schedule.line_interval)


@dataclass(frozen=True, kw_only=True)
class RoomLine:
    state: str
    size: int
    throttled: bool
    generated_ms: int
    poll_after: int  # when a user this document cannot place reads it again
    front: int  # places of the front zone
    front_score: int | None
    front_poll: int
    marks: list[LineMark]


def room_line(*, room: WaitingRoom, now_ms: int | None = None) -> RoomLine:
    now = now_ms if now_ms is not None else clock.now_ms()
    read = partial(
        room_redis.line,
        room_id=room.pk,
        front_seconds=schedule.FRONT_SECONDS,
        front_min=schedule.FRONT_MIN,
        configured_rate=room.admit_rate,
        least_gap=LEAST_GAP,
        gap_share=GAP_SHARE,
        now_ms=now,
    )
    line = read()
    if line.outcome == "missing":
        room_meta_ensure(room.pk)
        line = read()
    pace = eta.Pace(line.rate_ema, line.pos_ema, line.admissible, line.last_tick_ms)
    rate = eta.people_per_tick(pace, configured_rate=room.admit_rate)
    waiting = line.state not in ("paused", "closed", "sold_out")
    marks = [
        LineMark(
            position=rank + 1,
            score=score,
            eta_seconds=eta.eta_seconds(ahead=rank, pace=pace, configured_rate=room.admit_rate, now_ms=now)
            if waiting
            else None,
            after=schedule.line_interval(ahead=rank, rate=rate),
        )
        for rank, score in line.marks
    ]
    poll_after = 1
    if line.opens_at_ms is not None and now < line.opens_at_ms:
        poll_after = max(1, min(schedule.MAX_INTERVAL, (line.opens_at_ms - now) // 4000))
    return RoomLine(
        state=line.state,
        size=line.size,
        throttled=line.throttled,
        generated_ms=now,
        poll_after=poll_after,
        front=line.front,
        front_score=line.front_score,
        front_poll=schedule.front_poll_interval(silence_timeout=room.silence_timeout_seconds),
        marks=marks,
    )
