"""Reads for accounts; the token generation is served from Redis (and briefly from memory), not the database.

How fast a revoke reaches every web process (docs/security.md, "Revocation"):
the revoking transaction marks the user's Redis key REVOKING before it
commits and publishes the new value after, so from the commit on every Redis
read refuses the old tokens. A process may also keep generations in memory
for API_TOKEN_GENERATION_CACHE_SECONDS (at most 0.5 s, off by default): an
entry is never used later than that after the Redis read that filled it began,
so the bound is that lifetime, and a second at most with a request in flight.
"""

import hashlib
import threading
import time
import unicodedata

from django.conf import settings

from accounts import redis as accounts_redis
from accounts.models import User
from accounts.redis import NO_USER, REVOKING

# Cached generations expire after a day: a publish that failed after a revoke
# leaves the REVOKING mark, which sends readers to PostgreSQL until it expires.
GENERATION_TTL_MS = 24 * 3600 * 1000
# The in-memory cache is bounded: past this many users it starts again empty.
LOCAL_CACHE_MAX_USERS = 100_000

_local: dict[int, tuple[int, float]] = {}  # user id -> (generation, usable until, monotonic seconds)
_local_lock = threading.Lock()


def _local_get(user_id: int, now: float) -> int | None:
    entry = _local.get(user_id)
    if entry is None or entry[1] <= now:
        return None
    return entry[0]


def _local_put(user_id: int, generation: int, until: float) -> None:
    with _local_lock:
        if len(_local) >= LOCAL_CACHE_MAX_USERS:
            _local.clear()
        _local[user_id] = (generation, until)


def api_token_generation_forget(*, user_id: int | None = None) -> None:
    """Drop this process's in-memory generation of a user (all of them with None)."""
    with _local_lock:
        if user_id is None:
            _local.clear()
        else:
            _local.pop(user_id, None)


def database_generation(*, user_id: int) -> int:
    """The generation PostgreSQL holds (NO_USER for a user gone or inactive)."""
    row = User.objects.filter(pk=user_id).values_list("api_token_generation", "is_active").first()
    return NO_USER if row is None or not row[1] else row[0]


def api_token_generation(*, user_id: int) -> int:
    """The user's current token generation (NO_USER when gone or inactive): from memory if the cache is on
    and fresh, else one Redis GET; the database only on a cold key or while a revoke is being committed."""
    lifetime = settings.API_TOKEN_GENERATION_CACHE_SECONDS
    started = time.monotonic()  # an entry's age counts from before the read that fills it
    if lifetime > 0 and (generation := _local_get(user_id, started)) is not None:
        return generation
    generation = accounts_redis.generation_get(user_id=user_id)
    if generation == REVOKING:
        return database_generation(user_id=user_id)  # not cached: the revoke publishes once committed
    if generation is None:
        generation = accounts_redis.generation_fill(
            user_id=user_id, generation=database_generation(user_id=user_id), ttl_ms=GENERATION_TTL_MS
        )
        if generation == REVOKING:
            return database_generation(user_id=user_id)
    if lifetime > 0:
        _local_put(user_id, generation, started + lifetime)
    return generation


def login_bucket_name(*, username: str) -> str:
    """The name of a username's login bucket: its NFKC, case-folded form (so "Alice" and "ａｌｉｃｅ" are
    one bucket), hashed to a short fixed length whatever was typed."""
    folded = unicodedata.normalize("NFKC", username).casefold()
    return hashlib.sha256(folded.encode("utf-8", "surrogatepass")).hexdigest()[:32]
