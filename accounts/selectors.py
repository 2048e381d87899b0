"""Reads for accounts; the token generation is served from Redis, not the database."""

import hashlib
import logging
import unicodedata

from django.core.cache import cache

from accounts.models import User

logger = logging.getLogger(__name__)

# A user that no longer exists has no valid generation.
NO_USER = -1
# Cached generations expire after a day: a publish that failed after a revoke
# can leave a stale value behind for at most that long.
GENERATION_TTL_SECONDS = 24 * 3600


def _generation_key(user_id: int) -> str:
    return f"accounts:tokgen:{user_id}"


def api_token_generation(*, user_id: int) -> int:
    """The user's current token generation: one Redis GET; the database only on a cold cache."""
    key = _generation_key(user_id)
    generation = cache.get(key)
    if generation is None:
        row = User.objects.filter(pk=user_id).values_list("api_token_generation", "is_active").first()
        generation = NO_USER if row is None or not row[1] else row[0]
        # add, not set: a revoke that lands meanwhile has already set the newer value.
        cache.add(key, generation, timeout=GENERATION_TTL_SECONDS)
        generation = cache.get(key, generation)
    return generation


def api_token_generation_publish(*, user_id: int, generation: int, only_if_missing: bool = False) -> None:
    """Write the user's generation to Redis (after the database commit that made it)."""
    if only_if_missing:
        cache.add(_generation_key(user_id), generation, timeout=GENERATION_TTL_SECONDS)
    else:
        cache.set(_generation_key(user_id), generation, timeout=GENERATION_TTL_SECONDS)


def api_token_generation_publish_many(*, generations: dict[int, int]) -> None:
    """api_token_generation_publish for many users in one round trip (bulk token issue)."""
    cache.set_many({_generation_key(user_id): g for user_id, g in generations.items()}, timeout=GENERATION_TTL_SECONDS)


def api_token_generation_reset(*, user_id: int) -> None:
    """Drop the cached generation so the next check re-reads the database."""
    cache.delete(_generation_key(user_id))


def login_bucket_name(*, username: str) -> str:
    """The name of a username's login bucket: its NFKC, case-folded form (so "Alice" and "ａｌｉｃｅ" are
    one bucket), hashed to a short fixed length whatever was typed."""
    folded = unicodedata.normalize("NFKC", username).casefold()
    return hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()[:32]
