"""Bearer tokens decoded once per process, for the lean API path (config/api/lean.py).

PyJWT's signature check and simplejwt's claim checks cost about 130 µs a
request; a drop's clients send the same token hundreds of times. A token that
passed them once is kept here, keyed by its raw text, until its own expiry.
Only the decoding is kept: whether the token is revoked is asked on every
request, exactly as BearerTokenAuthentication asks (selectors.api_token_generation),
so a revoke refuses a cached token from its commit on, like any other.

A token that fails any check is never kept: the lean path then hands the
request to the DRF view, whose authentication gives the exact error.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts import redis as accounts_redis
from accounts import selectors
from accounts.authentication import ApiTokenUser, BearerTokenAuthentication
from config.api.lean import error_response, json_response
from config.errors import TokenUnverified

# The cache is bounded: past this many tokens it starts again empty (a token is ~1 KB here).
MAX_TOKENS = 50_000

_PREFIX = "Bearer "


@dataclass(frozen=True, slots=True)
class BearerIdentity:
    """Who a cached token names. `auth` and `_authenticator` are what the API's error handler reads
    of a request to ask whether the token was revoked while it ran (config/api/exceptions.py)."""

    user: ApiTokenUser
    auth: object  # the validated token
    generation: int
    expires_at: float  # the token's exp, epoch seconds
    _authenticator: BearerTokenAuthentication

    @property
    def generation_check(self) -> tuple[str, int]:
        """(key, value) for a script to compare: the token is current iff the key holds exactly this generation
        (a missing key, REVOKING or NO_USER never matches: the caller then asks the usual way)."""
        return accounts_redis.generation_key(self.user.id), self.generation


_authentication = BearerTokenAuthentication()
_tokens: dict[str, BearerIdentity] = {}
_lock = threading.Lock()


def _decode(raw: str) -> BearerIdentity | None:
    try:
        encoded = raw.encode("latin-1")  # how simplejwt reads the header (HTTP_HEADER_ENCODING)
    except UnicodeEncodeError:
        return None
    if encoded.split() != [encoded]:
        return None  # simplejwt splits the header on whitespace: not one token, its own words
    try:
        token = _authentication.get_validated_token(encoded)
        user = _authentication.token_user(token)
        generation = token.get("gen")
        expires_at = token["exp"]
    except Exception:  # noqa: BLE001 - any failure: the DRF view authenticates and says what is wrong
        return None
    if not isinstance(generation, int) or isinstance(generation, bool) or not isinstance(expires_at, int | float):
        return None
    return BearerIdentity(
        user=user, auth=token, generation=generation, expires_at=float(expires_at), _authenticator=_authentication
    )


def generation_in_script() -> bool:
    """Whether a lean view may leave the revocation check to its Lua script (`BearerIdentity.generation_check`):
    on a standalone Redis; on a cluster the generation key lives in another slot than the script's keys."""
    return not settings.REDIS_CLUSTER


def bearer_identity(authorization: str | None, *, check_generation: bool = True) -> BearerIdentity | None:
    """The identity of an `Authorization: Bearer <token>` header whose token is valid and not revoked now;
    None for anything else (no header, another scheme, a bad, expired or revoked token). With
    `check_generation=False` the revocation is not asked here: the caller's script asks it."""
    if not authorization or not authorization.startswith(_PREFIX):
        return None
    raw = authorization[len(_PREFIX) :]
    identity = _tokens.get(raw)
    if identity is None:
        identity = _decode(raw)
        if identity is None:
            return None
        with _lock:
            if len(_tokens) >= MAX_TOKENS:
                _tokens.clear()
            _tokens[raw] = identity
    if identity.expires_at <= time.time():  # simplejwt: expired once exp <= now (LEEWAY 0)
        _tokens.pop(raw, None)
        return None
    if check_generation and not identity_current(identity):
        return None
    return identity


def identity_current(identity: BearerIdentity) -> bool:
    """Whether the identity's token is not revoked now (asked as BearerTokenAuthentication asks)."""
    return identity.generation == selectors.api_token_generation(user_id=identity.user.id)


def request_identity(request, *, check_generation: bool = True) -> BearerIdentity | None:
    """`bearer_identity` of a Django request's Authorization header; once found, it is `request.user`
    (as after DRF's authentication: the request log and the views read it)."""
    identity = bearer_identity(request.META.get("HTTP_AUTHORIZATION"), check_generation=check_generation)
    if identity is not None:
        request.user = identity.user
    return identity


def lean_answer(
    request: HttpRequest,
    *,
    allow: str,
    before: Callable[[], Any],
    run: Callable[[Any, int, tuple[str, int] | None], tuple[dict, int]],
) -> HttpResponse | None:
    """A lean view's answer for a bearer token's request, or None for the DRF view to give.

    `before()` reads what the request names (the campaign, the room and ticket); `run(read,
    user_id, token_generation)` calls the service and returns (body, status). On a standalone
    Redis the service's script checks the token's generation (`token_generation`, no round
    trip of its own); on a cluster it is read here first, as DRF's authentication reads it.
    An answer decided before the script (an unknown slug) first asks whether the token is
    still current, since DRF authenticates before anything."""
    identity = None
    in_script = generation_in_script()
    try:
        if (identity := request_identity(request, check_generation=not in_script)) is None:
            return None
        try:
            read = before()
        except Exception:
            if in_script and not identity_current(identity):
                return None
            raise
        body, status = run(read, identity.user.id, identity.generation_check if in_script else None)
    except TokenUnverified:
        return None  # revoked, or its generation not in Redis: the DRF view asks the usual way
    except Exception as error:  # noqa: BLE001 - answered as the API's error handler answers it
        return error_response(error, allow=allow, authenticated=identity)
    return json_response(body, status=status, allow=allow)


def bearer_identities_forget() -> None:
    """Drop every decoded token this process keeps (tests; a signing key rotated under a running process)."""
    with _lock:
        _tokens.clear()
