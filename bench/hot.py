"""The hot section: the two requests a drop sends most, the sold-out claim and the status poll, against
a bare Django view and the DRF no-op, in one run on the production server (issue 21)."""

from __future__ import annotations

import statistics
import time

from bench import stack, wrk
from bench.common import (
    CONNECTIONS,
    PRODUCTION_SERVER,
    TOKENS,
    Stack,
    claim_path,
    ensure_setup,
    log,
    results_save,
)

# Users whose tokens the hot section sends: many, and each one back several times over the
# run, as a drop's users click and poll (each web process decodes a token once, then keeps it).
HOT_USERS = 10_000
HOT_TOKENS = stack.WORK / "tokens-hot.txt"
# Short rounds, many of them: on a shared host the load drifts within seconds, and a ratio is
# only as good as how close in time its two figures were measured.
ROUNDS = 10
SECONDS = 3
# Long enough for each web process to have met (and decoded once) nearly every hot user's token:
# tokens are drawn at random, and ~3 draws per token per process leave ~5% unmet; a drop's clients
# send theirs hundreds of times, so the steady state is the one to measure.
WARM_SECONDS = 15

PATHS = {
    "noop_django": ("/bench/noop/django/", "POST"),
    "noop_api": ("/bench/noop/api/", "POST"),
    "claim_sold_out": (None, "POST"),
    "status_queued": (None, "GET"),
    # the same two through their DRF views (?format=json: the lean path leaves that to DRF), side by side
    "claim_sold_out_drf": (None, "POST"),
    "status_queued_drf": (None, "GET"),
}


def _room_with_everyone_queued(user_ids: list[int]):
    """A room open now with every hot user in its queue; no ticker runs here, so they stay queued."""
    from config import redis as fc_redis
    from waitingroom import redis as room_redis

    room = stack.room_create(
        slug=f"hot-room-{int(time.time())}", title="bench: the status poll", max_active=1, admit_rate=1
    )
    batch = fc_redis.ScriptBatch()
    for user_id in user_ids:
        room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0, batch=batch)
    stack.batch_send(batch, "queued")
    return room


def section_hot() -> None:
    """Interleaved rounds (bare Django, DRF no-op, sold-out claim, status poll, and those two through their
    DRF views; ROUNDS times), so the host's drift weighs on all alike; a ratio is the median of its rounds'."""
    from accounts.models import User
    from config import redis as fc_redis
    from waitingroom import redis as room_redis

    ensure_setup()
    tokens = TOKENS.read_text().splitlines()[:HOT_USERS]
    HOT_TOKENS.write_text("\n".join(tokens) + "\n")
    user_ids = list(User.objects.filter(username__startswith="bench-").order_by("pk").values_list("pk", flat=True))
    campaign = stack.campaign_create(slug=f"hot-{int(time.time())}", quantity=1)
    room = _room_with_everyone_queued(user_ids)
    paths = dict(PATHS)
    paths["claim_sold_out"] = (claim_path(campaign.slug), "POST")
    paths["status_queued"] = (f"/api/v1/rooms/{room.slug}/status/", "GET")
    paths["claim_sold_out_drf"] = (paths["claim_sold_out"][0] + "?format=json", "POST")
    paths["status_queued_drf"] = (paths["status_queued"][0] + "?format=json", "GET")
    rounds: dict[str, list[dict]] = {name: [] for name in paths}
    try:
        with Stack(workers=0) as s:

            def fire(name: str, seconds: float) -> dict:
                path, method = paths[name]
                return wrk.fire(s.url + path, HOT_TOKENS, seconds=seconds, method=method, connections=CONNECTIONS)

            # warm up: the first claim sells the one slot out; each process meets the tokens
            for name in paths:
                fire(name, WARM_SECONDS if name in ("claim_sold_out", "status_queued") else 3)
            for round_number in range(ROUNDS):
                for name in paths:
                    figures = fire(name, SECONDS)
                    rounds[name].append(figures)
                    log(f"hot: round {round_number + 1} {name} {figures['rps']:.0f}/s {figures['codes']}")
    finally:
        fc_redis.client().unlink(*room_redis.RoomKeys.of(room.pk).all())
        room.delete()
    out: dict = {"rounds": rounds}
    for name, samples in rounds.items():
        out[name] = {
            "rps": statistics.median(r["rps"] for r in samples),
            "p50_ms": statistics.median(r["p50_ms"] for r in samples),
            "p99_ms": statistics.median(r["p99_ms"] for r in samples),
            "codes": samples[-1]["codes"],
        }
    bare = rounds["noop_django"]
    out["ratios"] = {
        name: round(statistics.median(r["rps"] / b["rps"] for r, b in zip(rounds[name], bare, strict=True)), 3)
        for name in paths
        if name != "noop_django"
    }
    out["conditions"] = (
        f"{stack.SERVERS[PRODUCTION_SERVER][1]}; {ROUNDS} interleaved rounds of {SECONDS} s per request "
        f"after a warm-up; {CONNECTIONS} connections from wrk (2 threads); tokens of {len(tokens):,} users "
        f"at random; claim = a sold-out campaign; status = a room with those {len(user_ids):,} users queued "
        "(no admission ticks); a ratio is the median of the rounds' ratios to the bare Django view"
    )
    log(f"hot: ratios to bare Django {out['ratios']}")
    results_save("hot", out)
