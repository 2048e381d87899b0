"""Revocation details: what revokes and what does not, and the in-memory cache's staleness bound.

Deleting, deactivating and a new password refuse a token everywhere
(tests/config/test_passes_and_tokens.py), across web processes within the
stated bound (`::test_revocation_reaches_every_web_process_within_a_second`).
"""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import override_settings
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from accounts import redis as accounts_redis
from accounts import selectors, services
from accounts.models import User
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.test_tokens import ME, assert_error, client_with

pytestmark = pytest.mark.django_db(transaction=True)


class OldHasher(PBKDF2PasswordHasher):
    iterations = 2


class NewHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256"
    iterations = 3


def test_a_login_that_upgrades_the_password_hash_revokes_nothing():
    with override_settings(PASSWORD_HASHERS=["tests.accounts.test_revocation.OldHasher"]):
        user = UserFactory()
    token, _ = services.api_token_issue(user=user)
    old_hash = User.objects.get(pk=user.pk).password
    with override_settings(PASSWORD_HASHERS=["tests.accounts.test_revocation.NewHasher"]):
        response = client_with("").post(
            "/api/v1/auth/token/", {"username": user.username, "password": DEFAULT_PASSWORD}, format="json"
        )
    assert response.status_code == 201
    assert User.objects.get(pk=user.pk).password != old_hash  # Django re-encoded the same password
    assert client_with(token).get(ME).status_code == 200
    assert client_with(response.json()["token"]).get(ME).status_code == 200


def test_saving_a_user_loaded_before_a_revoke_does_not_revive_its_tokens():
    user = UserFactory()
    old, _ = services.api_token_issue(user=user)
    stale = User.objects.get(pk=user.pk)  # e.g. an admin's change form, opened before the revoke
    services.api_token_revoke(user=user)
    stale.first_name = "Renamed"
    stale.save()
    assert User.objects.get(pk=user.pk).api_token_generation == 1
    assert_error(client_with(old).get(ME), 401, "token_revoked")


def test_reactivation_does_not_revive_old_tokens_and_new_ones_work():
    user = UserFactory()
    old, _ = services.api_token_issue(user=user)
    services.user_deactivate(user=user)
    assert_error(client_with(old).get(ME), 401, "token_revoked")
    user = User.objects.get(pk=user.pk)
    user.is_active = True
    user.save()
    assert_error(client_with(old).get(ME), 401, "token_revoked")
    fresh, _ = services.api_token_issue(user=User.objects.get(pk=user.pk))
    assert client_with(fresh).get(ME).status_code == 200


def test_a_revoke_fails_whole_when_redis_is_down(settings, closed_port):
    user = UserFactory()
    caches = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed_port}/0"}}
    with override_settings(CACHES=caches), pytest.raises((ConnectionInterrupted, RedisError)):
        user.delete()
    assert User.objects.filter(pk=user.pk).exists()  # rolled back: never deleted with its tokens still valid


def test_the_in_memory_cache_serves_a_generation_for_at_most_its_lifetime(settings, monkeypatch):
    # given a process that keeps generations in memory for 0.5 s, on a clock the test moves
    settings.API_TOKEN_GENERATION_CACHE_SECONDS = 0.5
    clock = [1000.0]
    monkeypatch.setattr(selectors.time, "monotonic", lambda: clock[0])
    user = UserFactory()
    token, _ = services.api_token_issue(user=user)
    assert client_with(token).get(ME).status_code == 200  # read from Redis, kept until 1000.5
    # when another process revokes (the database and Redis change; this process's memory is not told)
    User.objects.filter(pk=user.pk).update(api_token_generation=1)
    accounts_redis.generation_publish(user_id=user.pk, generation=1, ttl_ms=60_000)
    # then this process serves the old generation until the entry's lifetime is over, and not a moment more
    clock[0] = 1000.499
    assert client_with(token).get(ME).status_code == 200
    clock[0] = 1000.5
    assert_error(client_with(token).get(ME), 401, "token_revoked")


def test_the_cache_lifetime_may_not_stretch_the_bound(settings):
    from accounts.checks import generation_cache_within_the_revocation_bound

    settings.API_TOKEN_GENERATION_CACHE_SECONDS = 0.5
    assert generation_cache_within_the_revocation_bound(None) == []
    settings.API_TOKEN_GENERATION_CACHE_SECONDS = 2
    assert [error.id for error in generation_cache_within_the_revocation_bound(None)] == ["accounts.E001"]
