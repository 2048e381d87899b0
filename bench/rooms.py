"""Sections of the waiting room: B3 (a million queued users) and the ETA against admission (W7)."""

from __future__ import annotations

import time

from bench import stack
from bench.common import (
    CONNECTIONS,
    PRODUCTION_SERVER,
    USERS,
    Stack,
    ensure_setup,
    log,
    results_save,
    script_json,
)

# --- B3: the waiting room has its own script (bench/room_scale.py) ---------------


def section_b3(queued: int = 1_000_000, chunk: int = 100_000) -> None:
    """bench/room_scale.py measures the Redis side (memory, tick, status) on its own room;
    then a room open in real time gets `queued` users through the join script and
    join and status are driven over HTTP at that size."""
    from config import redis as fc_redis
    from waitingroom import redis as room_redis

    ensure_setup()
    data = script_json("room_scale", "--users", str(queued))
    room = stack.room_create(
        slug=f"bench-room-http-{int(time.time())}", title="bench: join and status over HTTP", max_active=1, admit_rate=1
    )
    keys = room_redis.RoomKeys.of(room.pk)
    try:
        started = time.monotonic()
        fake_ids = range(100_000_000, 100_000_000 + queued)  # users the HTTP tokens never name
        for first in range(0, queued, chunk):
            batch = fc_redis.ScriptBatch()
            for user_id in fake_ids[first : first + chunk]:
                room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0, batch=batch)
            stack.batch_send(batch, "queued")
        log(f"b3: {queued:,} queued in {time.monotonic() - started:.0f} s (pipelined join script)")
        with Stack(workers=0) as s:
            # new arrivals (and their retries) join at the back of the queue
            data["http_join"] = s.fire(f"/api/v1/rooms/{room.slug}/join/", seconds=8)
            # every token's user is queued now, so each status call finds its user
            from accounts.models import User

            batch = fc_redis.ScriptBatch()
            for user_id in User.objects.filter(username__startswith="bench-").values_list("pk", flat=True):
                room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0, batch=batch)
            stack.batch_send(batch, "queued")
            data["http_status"] = s.fire(f"/api/v1/rooms/{room.slug}/status/", seconds=8, method="GET")
        data["http_queue_size"] = room_redis.counts(room_id=room.pk)[0]
    finally:
        fc_redis.client().unlink(*keys.all())
        room.delete()
    log(
        f"b3: join {data['http_join']['rps']:.0f}/s {data['http_join']['codes']}, "
        f"status {data['http_status']['rps']:.0f}/s {data['http_status']['codes']}"
    )
    data["http_conditions"] = (
        f"{stack.SERVERS[PRODUCTION_SERVER][1]}; a room open now holding {queued:,} queued users; 8 s each, "
        f"{CONNECTIONS} connections, tokens of {USERS:,} users at random (join: first joins and re-joins; "
        "status: every user queued)"
    )
    results_save("b3", data)


# --- ETA (W7) -------------------------------------------------------------------------

# Lines the ETA is measured on (bench/room_eta.py): each runs on the injected clock, so a
# minute of admission takes seconds; `silent_every` N: one user in N joins and never polls.
ETA_SCENARIOS = {
    "plain": {"people": 1_500, "rate": 15, "quantity": None, "silent_every": 0, "pause": None},
    "silent": {"people": 1_500, "rate": 15, "quantity": None, "silent_every": 5, "pause": None},
    "silent_stock": {"people": 1_500, "rate": 15, "quantity": 1_000, "silent_every": 8, "pause": None},
    "pause": {"people": 1_500, "rate": 15, "quantity": None, "silent_every": 0, "pause": (30, 45)},
    # max_active too small for the passes the silent users hold unused (20% of 15 a second for
    # 60 s is 180 places of 150): admission stalls until they expire, which the pace does not foresee
    "max_active_bound": {
        "people": 1_500,
        "rate": 15,
        "quantity": None,
        "silent_every": 5,
        "pause": None,
        "max_active": 150,
    },
}


def section_eta() -> None:
    """The ETA each polling user was told against the tick that admitted them, per line shape
    (in process, on the benchmark's stores; no web server: the estimator is the subject)."""
    from bench import room_eta
    from config import redis as fc_redis
    from waitingroom import redis as room_redis

    stack.database_ensure()
    rows = {}
    for name, shape in ETA_SCENARIOS.items():
        user_ids = stack.users_create(shape["people"], prefix="eta-")
        every = shape["silent_every"]
        silent = {u for i, u in enumerate(user_ids) if every and i % every == every - 1}
        stamp = f"{name}-{int(time.time())}"
        campaign = stack.campaign_create(slug=f"eta-{stamp}", quantity=shape["quantity"]) if shape["quantity"] else None
        room = stack.room_create(
            slug=f"eta-{stamp}",
            title=f"bench: ETA, {name}",
            campaign=campaign,
            max_active=shape.get("max_active", shape["rate"] * 60),
            admit_rate=shape["rate"],
            silence_timeout_seconds=30,
            pass_ttl_seconds=60,
            rate_user_burst=0,
        )
        started = time.monotonic()
        try:
            run = room_eta.simulate(
                room=room,
                campaign=campaign,
                user_ids=user_ids,
                silent=silent,
                t0_ms=(int(time.time()) + 1) * 1000,
                pause=shape["pause"],
            )
        finally:
            fc_redis.client().unlink(*room_redis.RoomKeys.of(room.pk).all())
        measured = room_eta.errors(run, warmup_seconds=10, told_from=shape["pause"][1] if shape["pause"] else 0)
        rows[name] = {
            **shape,
            **measured.as_dict(),
            "admitted": len(run.admitted_at),
            "polls": run.polls,
            "told_none": run.told_none,
            "seconds_simulated": run.seconds,
            "seconds_taken": round(time.monotonic() - started, 1),
        }
        log(f"eta {name}: {measured}")
    results_save(
        "eta",
        {
            "rows": rows,
            "conditions": "one room per line shape, admission ticks and status polls through the services on "
            "the injected clock (a tick a second, polls 1 ms after it, each user on their poll_after), admitted "
            "users claim at their next poll; silence timeout 30 s, pass 60 s, max_active 60 × the rate unless "
            "said; errors over every number told from 10 s after the first admission on (after the resume for "
            "the paused line)",
        },
    )
