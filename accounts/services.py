"""Writes for accounts: sign-up, token issue and revocation, and their per-IP rate limits."""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F

from accounts import redis as accounts_redis
from accounts import selectors
from accounts.errors import InvalidCredentials, TokenRevoked
from accounts.models import User
from accounts.tokens import api_token_build
from accounts.usernames import username_skeletons
from config.ratelimit import Bucket, ip_token_take, token_take

logger = logging.getLogger(__name__)


def signup_attempt(*, client_ip: str, now_ms: int | None = None) -> None:
    """Spend one sign-up attempt of the client's IP, before the form is read; RateLimited when none is left."""
    bucket = Bucket(settings.SIGNUP_RATE_IP_BURST, settings.SIGNUP_RATE_IP_PER_SECOND)
    ip_token_take(scope="signup", client_ip=client_ip, bucket=bucket, now_ms=now_ms)


def login_attempt(*, client_ip: str | None, username: str, now_ms: int | None = None) -> None:
    """Spend one login attempt of the client's IP and one of the username, before the password is checked;
    RateLimited when either has none left (the password is then not even looked at).

    Every door that checks a password spends here, through the authentication
    backend (accounts/backends.py): the login page, the admin's and the token API
    share both buckets, so a username locked out on one door is locked on all.
    `client_ip` None (no request: a shell) spends only the username's.
    """
    if client_ip is not None:
        ip_bucket = Bucket(settings.LOGIN_RATE_IP_BURST, settings.LOGIN_RATE_IP_PER_SECOND)
        ip_token_take(scope="login", client_ip=client_ip, bucket=ip_bucket, now_ms=now_ms)
    user_bucket = Bucket(settings.LOGIN_RATE_USER_BURST, settings.LOGIN_RATE_USER_PER_SECOND)
    token_take(scope="login", name=selectors.login_bucket_name(username=username), bucket=user_bucket, now_ms=now_ms)


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_staff: bool = False) -> User:
    user = User(username=username, email=email, is_staff=is_staff, is_superuser=is_staff)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def user_create_many(*, usernames: list[str], password: str | None = None) -> int:
    """Create the users among `usernames` that do not exist yet, in one bulk insert; returns how many.

    For demo and load-test users: the password is hashed once and shared (same
    salt for all), or unusable when None; no validation, no signals.
    """
    existing = set(User.objects.filter(username__in=usernames).values_list("username", flat=True))
    encoded = make_password(password)  # None gives an unusable password
    users = [
        User(username=name, password=encoded, username_skeletons=username_skeletons(name))
        for name in usernames
        if name not in existing
    ]
    User.objects.bulk_create(users, batch_size=2000, ignore_conflicts=True)
    return len(users)


def api_token_issue(*, user: User, lifetime: timedelta | None = None) -> tuple[str, datetime]:
    """A new bearer token for the user; older tokens stay valid until revoked or expired."""
    # Warm the generation in Redis so even the token's first use needs no query.
    accounts_redis.generation_fill(
        user_id=user.pk, generation=user.api_token_generation, ttl_ms=selectors.GENERATION_TTL_MS
    )
    return api_token_build(user=user, lifetime=lifetime)


def api_token_generation_warm_many(*, generations: dict[int, int]) -> None:
    """What api_token_issue does to Redis, for many users in one round trip (bulk token issue)."""
    accounts_redis.generation_fill_many(generations=generations, ttl_ms=selectors.GENERATION_TTL_MS)


def api_token_issue_for_credentials(
    *, username: str, password: str, client_ip: str | None = None
) -> tuple[str, datetime]:
    """A token for a username and password; the attempt spends the login buckets of the username and of
    `client_ip` first (the authentication backend does)."""
    user = authenticate(username=username, password=password, client_ip=client_ip)
    if user is None:
        raise InvalidCredentials()
    return api_token_issue(user=user)


# How long the REVOKING mark outlives a revoke whose publish was lost: readers ask
# PostgreSQL for that user meanwhile, then refill from it.
REVOKING_MARK_MS = 10 * 60 * 1000


@transaction.atomic
def api_token_revoke(*, user: User) -> int:
    """Revoke every token the user holds by bumping their generation; returns the new one (also set on `user`).

    TokenRevoked (401 token_revoked) if the user is gone: their tokens are dead already.
    """
    if not User.objects.filter(pk=user.pk).update(api_token_generation=F("api_token_generation") + 1):
        raise TokenRevoked()
    user.api_token_generation = User.objects.filter(pk=user.pk).values_list("api_token_generation", flat=True).get()
    api_token_revocation_announce(user_id=user.pk)
    return user.api_token_generation


def api_token_revocation_announce(*, user_id: int) -> None:
    """Make every web process refuse the user's old tokens from the commit of the current transaction on.

    Called inside the transaction that revokes (a new generation, a deactivation,
    a password change, a deletion). Before the commit the user's Redis key is
    marked REVOKING, so readers ask PostgreSQL (which answers the old value until
    the commit and the new one from it); if Redis is down this raises and the
    transaction rolls back: a revoke never half happens. After the commit the
    value the database then holds is published. This process's own in-memory
    entry is dropped at once; other processes' expire within their lifetime
    (accounts/selectors.py).
    """
    accounts_redis.generation_mark_revoking(user_id=user_id, ttl_ms=REVOKING_MARK_MS)
    selectors.api_token_generation_forget(user_id=user_id)
    transaction.on_commit(partial(_publish_quietly, user_id=user_id))


def _publish_quietly(*, user_id: int) -> None:
    selectors.api_token_generation_forget(user_id=user_id)
    try:
        generation = selectors.database_generation(user_id=user_id)
        accounts_redis.generation_publish(user_id=user_id, generation=generation, ttl_ms=selectors.GENERATION_TTL_MS)
    except Exception:  # noqa: BLE001 - the REVOKING mark stays: readers ask PostgreSQL until it expires
        logger.warning("could not publish the token generation of user %s", user_id)


def user_deactivate(*, user: User) -> None:
    """Deactivate the user; the save revokes their tokens (accounts/signals.py), and re-activation does not
    revive them."""
    user.is_active = False
    user.save(update_fields=["is_active"])
