"""Lua scripts are called with EVALSHA straight (config.redis.LuaScript); a script the server lost
(a restart, SCRIPT FLUSH) is loaded again and the call asked again, alone or in a batch."""

import uuid

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from config import redis as fc_redis
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_script_the_server_lost_is_loaded_and_asked_again():
    key = fc_redis.key("test-lua", uuid.uuid4().hex)
    assert fc_redis.token_take(key=key, burst=2, per_second=0.001) == 0
    fc_redis.client().script_flush()
    assert fc_redis.token_take(key=key, burst=2, per_second=0.001) == 0  # NOSCRIPT, loaded, run once
    assert fc_redis.token_take(key=key, burst=2, per_second=0.001) > 0  # two spent: the lost call did not run


def test_a_batch_after_the_server_lost_its_scripts():
    keys = [fc_redis.key("test-lua", uuid.uuid4().hex) for _ in range(3)]
    fc_redis.client().script_flush()
    batch = fc_redis.ScriptBatch()
    for key in keys:
        batch.add(fc_redis._script("token_bucket"), [key], [1, 0.001, ""])
    assert batch.execute() == [0, 0, 0]
    assert all(fc_redis.token_take(key=key, burst=1, per_second=0.001) > 0 for key in keys)


def test_the_lean_claim_after_the_server_lost_its_scripts():
    campaign = published_campaign(quantity=2)
    token, _ = account_services.api_token_issue(user=UserFactory())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    fc_redis.client().script_flush()
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/claims/")
    assert response.status_code == 202, response.content
    assert response.json()["slot"] == 1
