"""Rate limits in Redis (the `limits` library, moving window): 429 with Retry-After."""

import functools
import math
import time

from django.conf import settings
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

from config.errors import ApplicationError
from config.redis_cluster import limits_storage_uri


class RateLimited(ApplicationError):
    code = "rate_limited"
    status_code = 429
    default_detail = "Too many requests; slow down and try again shortly."


@functools.cache
def _limiter(storage_uri: str, prefix: str) -> MovingWindowRateLimiter:
    try:
        storage = storage_from_string(storage_uri, key_prefix=f"{prefix}:rl", socket_timeout=2)
    except RedisClusterException as exc:  # a cluster client connects at once: no node answers is "Redis down"
        raise RedisConnectionError(f"rate limit storage unavailable: {exc}") from exc
    return MovingWindowRateLimiter(storage)


def _storage_uri() -> str:
    """The limits storage on the same Redis as the gate (a cluster is spelled redis+cluster://)."""
    return limits_storage_uri(settings.REDIS_URL) if settings.REDIS_CLUSTER else settings.REDIS_URL


@functools.cache
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


def rate_limit_hit(*, scope: str, identity: str | int, rate: str) -> None:
    """Count one request of `identity` in `scope` against `rate` (e.g. "10/10 seconds")."""
    limiter = _limiter(_storage_uri(), settings.REDIS_KEY_PREFIX)
    item = _item(rate)
    if limiter.hit(item, scope, str(identity)):
        return
    reset_at = limiter.get_window_stats(item, scope, str(identity)).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise RateLimited(extra={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)})
