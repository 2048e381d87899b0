"""B3, the waiting room at scale: Redis memory per queued user and Redis time of the tick and of status.

Usage:
    DJANGO_SETTINGS_MODULE=config.settings.bench \\
        .venv/bin/python bench/room_scale.py --users 1000000 --json /tmp/room.json

It creates a room in the bench database (PostgreSQL `firstcome_bench`, Redis db
10, prefix fcbench), queues N users through the real join script (pipelined
EVALSHA, no user rows needed), heartbeats each of them as a status poll would,
then measures:

- memory: `INFO memory` used_memory before and after queuing, divided by N,
  and `MEMORY USAGE` of each room key (exact, SAMPLES 0). The Redis server is
  shared, so used_memory also moves with other clients' writes: the sum of the
  room's keys is printed beside it as a cross-check.
- the admission tick (admission.room_tick, the production path) admitting
  exactly 1,000 users (rate = max_active = 1,000; `active` is emptied between
  ticks, as consumed passes would): its Redis time as the script measures it
  with the server clock (TIME at its start and end, returned as redis_us), so
  other clients of the shared server cannot blur it; the `usec` delta of
  `cmdstat_evalsha` in `INFO commandstats` around the call is shown beside it
  for the ticks no other client's EVALSHA overlapped (calls delta == 1).
- the status script at that size, by the same `cmdstat_evalsha` delta (a
  sample another client's EVALSHA overlapped is taken again).

The room runs on a virtual clock a day ahead of real time (every script takes
now_ms), so a beat running on the bench database at the same time can neither
admit from it nor tick it in our place. The room's keys and rows are deleted at
the end.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")

import django

django.setup()

from django.utils import timezone  # noqa: E402
from redis.exceptions import OutOfMemoryError  # noqa: E402

from bench import stack  # noqa: E402
from config import redis as fc_redis  # noqa: E402
from waitingroom import redis as room_redis  # noqa: E402
from waitingroom import schedule  # noqa: E402
from waitingroom.models import WaitingRoom  # noqa: E402
from waitingroom.services import admission, rooms  # noqa: E402
from waitingroom.services import line as line_service  # noqa: E402

ADMIT = 1_000
SILENCE_SECONDS = 120
CHUNK = 100_000  # script calls per batch (stack.batch_send writes them 20,000 at a time)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=1_000_000, help="users to queue")
    parser.add_argument("--ticks", type=int, default=5, help="measured admission ticks of 1,000 users")
    parser.add_argument("--status-samples", type=int, default=101, help="measured status calls")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    if args.users < ADMIT * (args.ticks + 1):
        parser.error(f"--users must be at least {ADMIT * (args.ticks + 1)}")

    client = fc_redis.client()
    opens = timezone.now() + timedelta(days=1)
    room = rooms.room_create(
        slug=f"bench-room-scale-{int(time.time())}",
        title="bench: room at scale",
        max_active=ADMIT,
        admit_rate=ADMIT,
        pass_ttl_seconds=120,
        silence_timeout_seconds=SILENCE_SECONDS,
        opens_at=opens,
        prequeue=False,
        status=WaitingRoom.Status.SCHEDULED,
        max_pending_grants=0,
        max_store_latency_ms=0,
        # No token buckets: the figures are the queue's own memory and Redis time
        # (a join's bucket key lives about a second; docs/api.md, "Rate limits").
        rate_user_burst=0,
        rate_ip_burst=0,
    )
    keys = room_redis.RoomKeys.of(room.pk)
    try:
        client.delete(*keys.all())  # a queue left by an earlier run of a recreated database
        rooms.room_publish(room=room)
        results = run(room, keys, client, args, t0=int(opens.timestamp() * 1000))
    finally:
        client.unlink(*keys.all())
        room.delete()
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


def run(room: WaitingRoom, keys: room_redis.RoomKeys, client, args, *, t0: int) -> dict:
    users = args.users
    memory_before = used_memory(client)

    started = time.perf_counter()
    for first in range(1, users + 1, CHUNK):
        batch = fc_redis.ScriptBatch()
        for user_id in range(first, min(first + CHUNK, users + 1)):
            room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0, now_ms=t0, batch=batch)
        stack.batch_send(batch, "queued")
    join_seconds = time.perf_counter() - started

    # every user polls once more, a full silence window later: the heartbeat
    # state of a room where everyone keeps polling
    polled = t0 + SILENCE_SECONDS * 1000 + 1000
    started = time.perf_counter()
    for first in range(1, users + 1, CHUNK):
        batch = fc_redis.ScriptBatch()
        for user_id in range(first, min(first + CHUNK, users + 1)):
            room_redis.status(room_id=room.pk, user_id=user_id, now_ms=polled, batch=batch)
        stack.batch_send(batch, "queued")
    status_seconds = time.perf_counter() - started

    memory_after = used_memory(client)
    key_bytes = {}
    for field in fields(keys):
        usage = client.memory_usage(getattr(keys, field.name), samples=0)
        if usage is not None:
            key_bytes[field.name] = usage
    assert room_redis.counts(room_id=room.pk) == (users, 0)

    # status at this size, users spread along the whole queue
    step = max(1, users // args.status_samples)
    status_us = []
    for user_id in range(1, users + 1, step)[: args.status_samples]:
        for _ in range(5):  # a sample another client's EVALSHA overlapped is taken again
            usec, _ = redis_usec(client, lambda u=user_id: room_redis.status(room_id=room.pk, user_id=u, now_ms=polled))
            if usec is not None:
                status_us.append(usec)
                break

    # the admission tick, each admitting exactly ADMIT users; the script times
    # itself with the server clock (TIME at its start and end), and the
    # EVALSHA usec delta is kept where no other client's EVALSHA overlapped
    tick_us, evalsha_us = [], []
    for name in ("tick", "status", "join"):
        client.script_load(room_redis._script(name).script)
    second = polled + 1000
    pressure = admission.Pressure(pending_grants=0, latency_ms=0.0)  # measured elsewhere; not Redis time
    for _ in range(args.ticks):
        client.delete(keys.active)  # the admitted used their passes
        second += 1000
        usec, result = redis_usec(client, lambda s=second: admission.room_tick(room=room, now_ms=s, pressure=pressure))
        assert (result.admitted, result.dropped) == (ADMIT, 0), result
        tick_us.append(result.redis_us)
        if usec is not None:
            evalsha_us.append(usec)
    assert room_redis.counts(room_id=room.pk)[0] == users - ADMIT * args.ticks

    # the line document (line.lua) over the whole queue: what the proxy asks once a second
    line_us = []
    for _ in range(10):
        usec, line = redis_usec(
            client,
            lambda: room_redis.line(
                room_id=room.pk,
                front_seconds=schedule.FRONT_SECONDS,
                front_min=schedule.FRONT_MIN,
                configured_rate=ADMIT,
                least_gap=line_service.LEAST_GAP,
                gap_share=line_service.GAP_SHARE,
                now_ms=second,
            ),
        )
        if usec is not None:
            line_us.append(usec)
    line_marks = len(line.marks)

    load = os.getloadavg()
    server = client.info("server")
    return {
        "users": users,
        "bytes_per_user": round((memory_after - memory_before) / users, 1),
        "used_memory_delta": memory_after - memory_before,
        "keys": key_bytes,
        "keys_bytes_per_user": round(sum(key_bytes.values()) / users, 1),
        "tick_ms_median": round(statistics.median(tick_us) / 1000, 3),
        "tick_ms_max": round(max(tick_us) / 1000, 3),
        "tick_ms_samples": [round(us / 1000, 3) for us in tick_us],
        "tick_ms_evalsha": [round(us / 1000, 3) for us in evalsha_us],
        "admitted_per_tick": ADMIT,
        "status_us_median": round(statistics.median(status_us), 1) if status_us else None,
        "status_us_max": round(max(status_us), 1) if status_us else None,
        "status_samples": len(status_us),
        "line_ms_median": round(statistics.median(line_us) / 1000, 3) if line_us else None,
        "line_marks": line_marks,
        "fill_seconds": {"join": round(join_seconds, 1), "status": round(status_seconds, 1)},
        "conditions": (
            f"Redis {server['redis_version']} on {platform.node()} ({os.cpu_count()} cores, shared; "
            f"load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}); one room, user ids 1..{users}, all heartbeating; "
            f"silence {SILENCE_SECONDS}s; tick time by the script's own TIME calls, status time by "
            f"cmdstat_evalsha usec deltas (samples overlapped by other clients' EVALSHA dropped)"
        ),
    }


def used_memory(client) -> int:
    return int(client.info("memory")["used_memory"])


def redis_usec(client, call) -> tuple[float | None, object]:
    """Run `call` (one EVALSHA) and return the Redis-side time it took, or None if another client interfered."""
    for _ in range(20):
        before = client.info("commandstats").get("cmdstat_evalsha", {"calls": 0, "usec": 0})
        try:
            result = call()
            break
        except OutOfMemoryError:  # refused before it ran (see stack.batch_send)
            time.sleep(0.5)
    after = client.info("commandstats")["cmdstat_evalsha"]
    if after["calls"] - before["calls"] != 1:
        return None, result
    return float(after["usec"] - before["usec"]), result


def report(r: dict) -> None:
    print(f"waiting room at scale: {r['users']:,} queued users")
    print(f"  {'used_memory delta / user':32s} {r['bytes_per_user']:10.1f} B")
    print(f"  {'MEMORY USAGE of the keys / user':32s} {r['keys_bytes_per_user']:10.1f} B")
    for name, size in r["keys"].items():
        print(f"    {name:30s} {size:12,d} B")
    print(f"  {'tick admitting 1,000 (median)':32s} {r['tick_ms_median']:10.3f} ms   max {r['tick_ms_max']:.3f} ms")
    print(f"    {'as EVALSHA usec, clean samples':30s} {', '.join(map(str, r['tick_ms_evalsha'])) or 'none'} ms")
    if r["status_samples"]:
        print(
            f"  {'status (median)':32s} {r['status_us_median']:10.1f} us   max {r['status_us_max']:.1f} us"
            f"   ({r['status_samples']} samples)"
        )
    if r.get("line_ms_median") is not None:
        print(f"  {'line document (median)':32s} {r['line_ms_median']:10.3f} ms   ({r['line_marks']} marks)")
    print(f"  fill: join {r['fill_seconds']['join']} s, status {r['fill_seconds']['status']} s (Python wall time)")
    print(f"  {r['conditions']}")


if __name__ == "__main__":
    main()
