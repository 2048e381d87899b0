"""Redis Cluster readiness: every script call keeps its keys in one hash slot; campaigns and rooms spread out.

The slot checks run on any Redis (they compute CRC16 slots like a cluster does);
the spread test needs the private cluster of tests/redis_cluster.py.
"""

import collections
import importlib.resources
import re
import time

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from redis.commands.core import Script
from redis.crc import key_slot

from config import ratelimit
from config import redis as fc_redis
from coupons import listing_redis
from coupons import redis as gate
from coupons import redis_retire as gate_retire
from coupons.seats import redis as seats_redis
from coupons.services.gate import gate_meta_build
from partners import redis as key_cache
from ranking import page_views
from ranking import redis as rank_redis
from ranking import services as ranking_services
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign
from tests.ranking.factories import views_board
from tests.ranking.test_ranking import make_board
from tests.waitingroom.factories import published_room
from waitingroom import redis as room_redis
from waitingroom.services.queue import room_join, room_leave

pytestmark = pytest.mark.django_db(transaction=True)

APPS = {
    "coupons": gate,
    "waitingroom": room_redis,
    "ranking": rank_redis,
    "config": fc_redis,
    "partners": key_cache,
}


def slot(key: str) -> int:
    return key_slot(key.encode())


# Scripts called on a standalone Redis only, whose keys span campaigns (their wrappers ask a cluster another way).
STANDALONE_ONLY = {"coupons/remaining_many.lua"}


def every_script() -> dict[str, str]:
    """sha -> "app/name" for every Lua script file of every app (not the shared lib/ parts)."""
    names = {}
    for app, module in APPS.items():
        for path in importlib.resources.files(app).joinpath("scripts").iterdir():
            if path.name.endswith(".lua"):
                names[module._script(path.name.removesuffix(".lua")).sha] = f"{app}/{path.name}"
    return names


@pytest.fixture
def script_calls(monkeypatch) -> list[tuple[str, list[str]]]:
    """Every script call made through redis-py or a ScriptBatch, as (sha, keys)."""
    calls: list[tuple[str, list[str]]] = []
    add = fc_redis.ScriptBatch.add

    def recording(call):
        def recording_call(self, keys=None, args=None, client=None):
            calls.append((self.sha, list(keys or [])))
            return call(self, keys=keys, args=args, client=client)

        return recording_call

    def recording_add(self, script, keys, args):
        calls.append((script.sha, list(keys)))
        return add(self, script, keys, args)

    # ours (config.redis.LuaScript) and redis-py's own (its lock scripts)
    monkeypatch.setattr(fc_redis.LuaScript, "__call__", recording(fc_redis.LuaScript.__call__))
    monkeypatch.setattr(Script, "__call__", recording(Script.__call__))
    monkeypatch.setattr(fc_redis.ScriptBatch, "add", recording_add)
    return calls


def test_every_key_of_a_campaign_or_a_room_shares_its_hash_slot():
    for entity_id in (1, 7, 12_345, 2**40):
        campaign_keys = gate.GateKeys.of(entity_id)
        campaign_names = [getattr(campaign_keys, field) for field in campaign_keys.__dataclass_fields__]
        assert {slot(key) for key in campaign_names} == {slot(f"{{camp:{entity_id}}}")}
        assert {slot(key) for key in room_redis.RoomKeys.of(entity_id).all()} == {slot(f"{{room:{entity_id}}}")}
        key_names = key_cache.KeyKeys.of(f"Ab{entity_id}")
        assert {slot(key) for key in (key_names.entry, key_names.used, key_names.rl)} == {
            slot(f"{{pkey:Ab{entity_id}}}")
        }
    boards = [rank_redis.board_key(board, period) for board in ("hot", "fast") for period in ("all", "d:20260101")]
    assert {slot(key) for key in boards} == {slot("{rank}")}


def test_every_script_call_keeps_its_keys_in_one_slot(script_calls):
    """Each wrapper in coupons/, waitingroom/, ranking/ and config/redis.py is the one call site of its script:
    calling them all covers every script file, and each call's KEYS hash to a single slot."""
    # given: a campaign, a room and a board with live state
    campaign, other = published_campaign(quantity=3), published_campaign(quantity=3)
    room = published_room()
    make_board(metric="claims")
    rolling = make_board(slug="rolling", metric="claims", rolling_24h=True)
    views_board()
    page_views.viewable_forget()
    user_id = UserFactory().pk
    now_ms = int(time.time() * 1000)
    limits = campaign.rate_limits_meta()

    # when: every script runs through its wrapper (outcomes do not matter here, keys do)
    gate.pass_token(campaign_id=campaign.pk, user_id=user_id, client_ip="192.0.2.7", now_ms=None, stats_prefix="claim")
    claimed = gate.claim(campaign_id=campaign.pk, user_id=user_id, grant_id="g-1", lease_ms=60_000)
    hold = gate.Hold(claimed.slot, user_id, "g-1")
    gate.confirm(campaign_id=campaign.pk, hold=hold, lease_deadline_ms=now_ms + 60_000, ring_seconds=5)
    gate.remaining(campaign_id=campaign.pk)
    listing_redis.remaining_many([campaign.pk, other.pk])  # a standalone Redis: remaining_many.lua (STANDALONE_ONLY)
    on_a_cluster = len(script_calls)
    with override_settings(REDIS_CLUSTER=True):  # a cluster's way: remaining.lua per campaign
        listing_redis.remaining_many([campaign.pk, other.pk])
    cluster_calls = script_calls[on_a_cluster:]
    gate.meta_set(campaign_id=campaign.pk, meta=gate_meta_build(campaign=campaign))
    batch = fc_redis.ScriptBatch()
    gate.release(campaign_id=campaign.pk, hold=hold, batch=batch)
    batch.execute()
    gate.release(campaign_id=other.pk, hold=hold)
    seats_redis.seat_hold(campaign_id=campaign.pk, user_id=user_id, slot=1, hold_ms=1000, session_ms=1000)
    seats_redis.seat_check(campaign_id=campaign.pk, user_id=user_id, slot=1, token=1)
    seats_redis.seat_settle(campaign_id=campaign.pk, action="release", slot=1, user_id=user_id, token=1)
    seats_redis.seat_sweep(campaign_id=campaign.pk, batch=10)
    room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0)
    room_redis.status(room_id=room.pk, user_id=user_id)
    room_redis.tick(room_id=room.pk, admit=True)
    room_redis.consume(room_id=room.pk, user_id=user_id, expiry_ms=now_ms + 60_000)
    room_redis.settle(room_id=room.pk, user_id=user_id, expiry_ms=now_ms + 60_000)
    room_redis.restore(room_id=room.pk, user_id=user_id, expiry_ms=now_ms + 60_000)
    room_redis.line(room_id=room.pk, front_seconds=6, front_min=20, configured_rate=10, least_gap=200, gap_share=50)
    room_leave(room_id=room.pk, user_id=user_id)
    room_redis.retire(room_id=room.pk, state="closed", opens_at_ms=now_ms, silence_ms=60_000, rate_limits=limits)
    tombstone = gate_retire.Tombstone(ended="closed", remaining=2, closes_at_ms=now_ms, rate_limits=limits)
    gate_retire.retire(campaign_id=other.pk, tombstone=tombstone)
    ranking_services.event_record(metric="claims", member=campaign.pk, at=timezone.now())
    ranking_services.board_top(board=rolling, key="24h")  # merge.lua
    page_views.view_record(campaign=campaign.slug, visitor="visitor-0001", client_ip="192.0.2.7")  # view.lua
    ratelimit.ip_token_take(scope="signup", client_ip="192.0.2.7", bucket=ratelimit.Bucket(5, 1.0))
    key_cache.key_entry_write(prefix="AbCd1234", fields={"state": "unknown"}, ttl_ms=1000, replace=False)
    key_cache.key_check(prefix="AbCd1234", hashed="sha512$$x", used_ttl_seconds=60)

    # then
    names = every_script()
    expected = set(names.values()) - (STANDALONE_ONLY if settings.REDIS_CLUSTER else set())
    assert expected <= {names.get(sha, sha) for sha, _ in script_calls}  # also redis-py's lock scripts
    assert cluster_calls and not {names.get(sha) for sha, _ in cluster_calls} & STANDALONE_ONLY
    for sha, keys in script_calls:
        if names.get(sha) in STANDALONE_ONLY:
            continue
        assert keys and len({slot(key) for key in keys}) == 1, f"{names.get(sha, sha)} spans slots: {keys}"


def test_campaigns_and_rooms_spread_over_every_master(redis_clean):
    if not settings.TEST_REDIS_CLUSTER_URL:
        pytest.skip("needs the Redis Cluster of tests/redis_cluster.py")
    # given: many campaigns and rooms, each with a claim or a queued user
    user_id = UserFactory().pk
    for _ in range(48):
        campaign = published_campaign(quantity=5)
        assert gate.claim(campaign_id=campaign.pk, user_id=user_id, grant_id="g", lease_ms=60_000).outcome == "accepted"
        room = published_room()
        assert room_join(room_id=room.pk, user_id=user_id).outcome == "queued"

    # when: each master is asked which keys it holds
    primaries = redis_clean.get_primaries()
    assert len(primaries) == 3
    tag = re.compile(r"\{(camp|room):\d+\}")
    keys_of_tag: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)  # tag -> (node, key)
    for node in primaries:
        node_client = redis_clean.get_redis_connection(node)
        for key in node_client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:{{*", count=1000):
            if match := tag.search(key.decode()):
                keys_of_tag[match.group(0)].append((node.name, key.decode()))

    # then: every campaign and room lives whole on one node, in one slot (as the server
    # computes it), and every master holds some campaigns and some rooms
    assert len(keys_of_tag) == 2 * 48
    for found, keys in keys_of_tag.items():
        assert len(keys) > 1 and len({node for node, _ in keys}) == 1, found
        assert len({redis_clean.cluster_keyslot(key) for _, key in keys}) == 1, found
    for node in primaries:
        kinds = {found.split(":")[0] for found, keys in keys_of_tag.items() if keys[0][0] == node.name}
        assert kinds == {"{camp", "{room"}, f"{node.name} holds no campaign or no room"
