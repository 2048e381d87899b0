"""The ETA a queued user is told against the moment they are admitted (W7; issue 16, item 8).

A line of users joins a room in front of a campaign; the clock is injected and
moves a second at a time: each second the admission tick runs, then every
polling user whose turn to poll has come asks for their status (the real
service, on real Redis and PostgreSQL) and polls again `poll_after` seconds
later; an admitted user claims with their pass at that poll. Silent users join
and never poll again (the tick skips them once their heartbeat is gone, or
admits them and their pass expires unused). Every ETA a polling user is told
is recorded with the second it was told; the tick that admitted each user is
read from the room's `active` set right after the tick.

`tests/waitingroom/test_eta.py` runs it on a small line and holds the bounds;
`bench/run.py eta` runs larger lines for docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

POLL_OFFSET_MS = 1  # polls come just after the tick of their second


@dataclass
class EtaRun:
    told: list[tuple[int, int, int]] = field(default_factory=list)  # (user, second told, eta seconds)
    told_none: int = 0  # answers without a number (paused, or the stock left is spoken for)
    admitted_at: dict[int, int] = field(default_factory=dict)  # user -> second of the tick that admitted them
    claimed: dict[int, str] = field(default_factory=dict)  # polling user -> "granted" or the error code heard
    polls: int = 0
    seconds: int = 0

    @property
    def first_admission(self) -> int | None:
        return min(self.admitted_at.values(), default=None)


def simulate(
    *,
    room,
    campaign,
    user_ids: list[int],
    silent: set[int],
    t0_ms: int,
    max_seconds: int = 600,
    pause: tuple[int, int] | None = None,
) -> EtaRun:
    """Join everyone just before t0, then run second by second until every polling user is done."""
    from config import redis as fc_redis
    from waitingroom import redis as room_redis
    from waitingroom.services.admission import room_tick
    from waitingroom.services.queue import room_join, room_status
    from waitingroom.services.rooms import room_pause, room_resume

    for user_id in user_ids:
        room_join(room_id=room.pk, user_id=user_id, now_ms=t0_ms - 500)
    run = EtaRun()
    next_poll = {user_id: 0 for user_id in user_ids if user_id not in silent}
    active_key = room_redis.RoomKeys.of(room.pk).active
    for second in range(max_seconds):
        if not next_poll:
            break
        run.seconds = second + 1
        if pause and second == pause[0]:
            room = room_pause(room=room)
        if pause and second == pause[1]:
            room = room_resume(room=room)
        now = t0_ms + second * 1000
        room_tick(room=room, now_ms=now)
        for member in fc_redis.client().zrange(active_key, 0, -1):
            run.admitted_at.setdefault(int(member), second)
        polled = now + POLL_OFFSET_MS
        for user_id in [u for u, at in next_poll.items() if at <= second]:
            status = room_status(room=room, user_id=user_id, now_ms=polled)
            run.polls += 1
            if status.outcome == "admitted":
                run.claimed[user_id] = _use(campaign, user_id, status.access_pass, polled)
            elif status.outcome == "queued" and status.state not in ("sold_out", "closed"):
                if status.eta_seconds is None:
                    run.told_none += 1
                else:
                    run.told.append((user_id, second, status.eta_seconds))
                next_poll[user_id] = second + status.poll_after
                continue
            del next_poll[user_id]  # admitted (and claimed), sold out, or gone
    return run


def _use(campaign, user_id: int, access_pass: str, now_ms: int) -> str:
    """Claim with the pass; a room with no campaign protects a page: the page uses the pass."""
    from config.errors import ApplicationError
    from coupons.services.claims import claim_create
    from waitingroom.services.passes import pass_consume, pass_settle

    try:
        if campaign is None:
            pass_settle(consumed=pass_consume(token=access_pass, user_id=user_id, now_ms=now_ms))
        else:
            claim_create(campaign_id=campaign.pk, user_id=user_id, access_pass=access_pass, now_ms=now_ms)
    except ApplicationError as error:
        return error.code
    return "granted"


@dataclass(frozen=True)
class EtaErrors:
    estimates: int  # numbers told after the warm-up to users who were then admitted
    median_error: float | None  # median of |told - actual| / actual
    p90_error: float | None
    worst_ratio: float | None  # the largest of told/actual and actual/told
    never_admitted: int  # numbers told (after the warm-up) to users never admitted

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def errors(run: EtaRun, *, warmup_seconds: int = 10, told_from: int = 0) -> EtaErrors:
    """Each number told at least `warmup_seconds` after the first admission (and not before second
    `told_from`: a pause nobody could foresee delays what was told before it), against the admitting tick."""
    start = run.first_admission
    if start is not None:
        start = max(start, told_from - warmup_seconds)
    relative, ratios, never = [], [], 0
    for user_id, second, told in run.told:
        if start is None or second < start + warmup_seconds:
            continue
        if user_id not in run.admitted_at:
            never += 1
            continue
        actual = (run.admitted_at[user_id] - second) - POLL_OFFSET_MS / 1000
        relative.append(abs(told - actual) / actual)
        ratios.append(max(told / actual, actual / told) if told > 0 else float("inf"))
    if not relative:
        return EtaErrors(0, None, None, None, never)
    deciles = statistics.quantiles(relative, n=10) if len(relative) > 1 else relative * 9
    return EtaErrors(
        estimates=len(relative),
        median_error=round(statistics.median(relative), 3),
        p90_error=round(deciles[-1], 3),
        worst_ratio=round(max(ratios), 2),
        never_admitted=never,
    )
