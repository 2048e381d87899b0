"""Redis memory of a drop: bytes per claim, per queued user and per retired drop's tombstone.

Usage:
    DJANGO_SETTINGS_MODULE=config.settings.bench .venv/bin/python bench/redis_memory.py [--json out.json]

Runs the real scripts (claim.lua and confirm.lua for claims, join.lua and
status.lua for queued users, both retire.lua for the tombstones) on a campaign
and a room with ids far above any real one, under the settings' key prefix,
and measures with `MEMORY USAGE key SAMPLES 0` (exact, and blind to other
clients of a shared server, unlike `INFO memory`). No PostgreSQL row is
needed: the gate's meta is written as a rebuild writes it. Sizes are measured
at several counts because Redis changes a small hash or sorted set from a
packed listpack to a hash table or skiplist past 128 entries (the
`*-max-listpack-entries` settings): bytes per entry are lower while packed.
Every key it wrote is deleted at the end.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")

import django

django.setup()

from config import redis as fc_redis  # noqa: E402
from coupons import redis as gate  # noqa: E402
from coupons import redis_rebuild  # noqa: E402
from coupons import redis_retire as gate_retire  # noqa: E402
from waitingroom import redis as room_redis  # noqa: E402

CAMPAIGN_ID = 9_000_000_001
ROOM_ID = 9_000_000_001
LIMITS = {"rl_user_burst": 5, "rl_user_rate": 1.0, "rl_ip_burst": 1000, "rl_ip_rate": 100.0}


def usage(keys) -> int:
    client = fc_redis.client()
    return sum(client.memory_usage(key, samples=0) or 0 for key in keys)


def gate_keys() -> tuple[str, ...]:
    keys = gate.GateKeys.of(CAMPAIGN_ID)
    return (*keys.all(), keys.fence, keys.seat_session, keys.doorbell, keys.stats)


def clear() -> None:
    fc_redis.client().delete(*gate_keys(), *room_redis.RoomKeys.of(ROOM_ID).all())


def live_gate(quantity: int) -> None:
    now = int(time.time() * 1000)
    meta = gate.GateMeta(
        state="live",
        opens_at_ms=now - 60_000,
        closes_at_ms=now + 86_400_000,
        quantity=quantity,
        room="",
        room_slug="",
        allocation="first_free",
        rate_limits={name: 0 for name in LIMITS},  # no buckets: they expire on their own anyway
    )
    state = redis_rebuild.GateState(meta=meta, sold_seats=[], next=0, free=[], holds=[], lease_deadline_ms={})
    redis_rebuild.gate_write(campaign_id=CAMPAIGN_ID, gate=state)


def per_claim(claims: int) -> float:
    """A claim as it stands once its grant row committed (claim.lua, then confirm.lua)."""
    clear()
    live_gate(claims)
    empty = usage(gate_keys())
    for user in range(1, claims + 1):
        grant = f"{user:08x}-0000-4000-8000-000000000000"
        result = gate.claim(campaign_id=CAMPAIGN_ID, user_id=user, grant_id=grant, lease_ms=60_000)
        gate.confirm(
            campaign_id=CAMPAIGN_ID,
            hold=gate.Hold(result.slot, user, grant),
            lease_deadline_ms=int(time.time() * 1000) + 60_000,
            ring_seconds=None,
        )
    return (usage(gate_keys()) - empty) / claims


def per_queued_user(users: int) -> float:
    """A user in line who polled once (join.lua, then status.lua: the heartbeat)."""
    clear()
    now = int(time.time() * 1000)
    room_redis.meta_write(
        room_id=ROOM_ID,
        fields={
            "state": "queueing",
            "opens_at_ms": now - 1000,
            "max_active": 100,
            "rate": 10,
            "pass_ttl_ms": 60_000,
            "prequeue": "0",
            "silence_ms": 120_000,
            **{name: 0 for name in LIMITS},
        },
    )
    keys = room_redis.RoomKeys.of(ROOM_ID).all()
    empty = usage(keys)
    for start in range(1, users + 1, 1000):
        batch = fc_redis.ScriptBatch()
        for user in range(start, min(start + 1000, users + 1)):
            room_redis.join(room_id=ROOM_ID, user_id=user, prequeue_draw=0, batch=batch, now_ms=now)
        batch.execute()
        batch = fc_redis.ScriptBatch()
        for user in range(start, min(start + 1000, users + 1)):
            room_redis.status(room_id=ROOM_ID, user_id=user, batch=batch, now_ms=now)
        batch.execute()
    return (usage(keys) - empty) / users


def tombstones() -> dict[str, int]:
    """A retired drop's tombstones: the gate's meta and the room's (retire.lua, both)."""
    clear()
    live_gate(10)
    now = int(time.time() * 1000)
    tombstone = gate_retire.Tombstone(ended="sold_out", remaining=0, closes_at_ms=now, rate_limits=LIMITS)
    gate_retire.retire(campaign_id=CAMPAIGN_ID, tombstone=tombstone)
    room_redis.retire(room_id=ROOM_ID, state="sold_out", opens_at_ms=now, silence_ms=120_000, rate_limits=LIMITS)
    return {
        "campaign": usage(gate_keys()),
        "room": usage(room_redis.RoomKeys.of(ROOM_ID).all()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures here too")
    options = parser.parse_args()
    try:
        figures = {
            "bytes_per_claim": {str(n): round(per_claim(n)) for n in (100, 1_000, 10_000)},
            "bytes_per_queued_user": {str(n): round(per_queued_user(n)) for n in (100, 10_000, 100_000)},
            "tombstone_bytes": tombstones(),
        }
    finally:
        clear()
    for name, values in figures.items():
        print(f"{name}: " + ", ".join(f"{k}: {v} B" for k, v in values.items()))
    if options.json:
        Path(options.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
