"""Rate limits in Redis (the `limits` library, moving window): 429 with Retry-After."""

import functools
import math
import time

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from config.errors import ApplicationError


class RateLimited(ApplicationError):
    code = "rate_limited"
    status_code = 429
    default_detail = _("Too many requests; slow down and try again shortly.")


@functools.cache
def _limiter(redis_url: str, prefix: str) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(RedisStorage(redis_url, key_prefix=f"{prefix}:rl", socket_timeout=2))


@functools.cache
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


def rate_limit_hit(*, scope: str, identity: str | int, rate: str) -> None:
    """Count one request of `identity` in `scope` against `rate` (e.g. "10/10 seconds")."""
    limiter = _limiter(settings.REDIS_URL, settings.REDIS_KEY_PREFIX)
    item = _item(rate)
    if limiter.hit(item, scope, str(identity)):
        return
    reset_at = limiter.get_window_stats(item, scope, str(identity)).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise RateLimited(extra={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)})
