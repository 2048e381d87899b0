"""External clients: another system's users, each backed by a shadow user so its grants are ordinary grants.

The mapping (namespace, client_id) -> user id never changes once made, so it is
kept in this process's memory and in Redis (one plain key each, no hash tag:
they spread over a Redis Cluster); PostgreSQL answers only the first claim of a
client, and makes the client then. Losing the Redis copies costs one indexed
read each, never a second shadow user (the unique constraint decides).
"""

import contextlib
import uuid

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from redis.exceptions import RedisError

from config import redis as fc_redis
from coupons.models import ExternalClient

# Kept for a day in Redis: a drop's clients come back within it; after that one read brings them back.
_REDIS_TTL_SECONDS = 86_400
# Bounded: a process that met more clients than this starts over (each costs one Redis GET again).
_MEMO_LIMIT = 200_000
_user_ids: dict[tuple[str, str], int] = {}


def _redis_key(namespace: str, client_id: str) -> str:
    return fc_redis.key("xclient", namespace, client_id)


def external_client_user_id(*, namespace: str, client_id: str) -> int:
    """The shadow user of `client_id` in `namespace`, made on first use (from memory or Redis once known)."""
    memo_key = (namespace, client_id)
    user_id = _user_ids.get(memo_key)
    if user_id is not None:
        return user_id
    try:
        cached = fc_redis.client().get(_redis_key(namespace, client_id))
    except RedisError:
        cached = None
    if cached is not None:
        user_id = int(cached)
    else:
        user_id = external_client_get_or_create(namespace=namespace, client_id=client_id).user_id
        with contextlib.suppress(RedisError):  # only a cache: the next claim reads PostgreSQL once more
            fc_redis.client().set(_redis_key(namespace, client_id), user_id, ex=_REDIS_TTL_SECONDS)
    if len(_user_ids) >= _MEMO_LIMIT:
        _user_ids.clear()
    _user_ids[memo_key] = user_id
    return user_id


def external_client_get_or_create(*, namespace: str, client_id: str) -> ExternalClient:
    existing = ExternalClient.objects.filter(namespace=namespace, client_id=client_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            user = get_user_model()(username=f"~{namespace}:{uuid.uuid4().hex[:16]}")
            user.set_unusable_password()
            user.save()
            return ExternalClient.objects.create(namespace=namespace, client_id=client_id, user=user)
    except IntegrityError:
        # A concurrent first claim of the same client made it (the unique constraint waited for its commit).
        return ExternalClient.objects.get(namespace=namespace, client_id=client_id)


def external_clients_forget() -> None:
    """Drop this process's memo (tests: rows it named were rolled back)."""
    _user_ids.clear()
