"""DRF authentication by bearer token, with no database query on the way."""

import re

from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from accounts import selectors

# What any unusable token hears (simplejwt's own words name token types and claims).
NOT_VALID = _(
    "This token is not valid (expired, or not one of ours): get a new one on the API token page, /accounts/token/."
)
REVOKED = _("This token has been revoked: get a new one on the API token page, /accounts/token/.")

# The largest primary key PostgreSQL's bigint holds: a larger "user id" names nobody.
MAX_USER_ID = 2**63 - 1
# simplejwt writes the user id as a decimal string; only its canonical form is ours.
_USER_ID_TEXT = re.compile(r"[1-9][0-9]{0,18}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # True is an int to Python, not to us


def _user_id_of(claim: object) -> int | None:
    """The user id a claim names, or None if it is not one we could have written."""
    if isinstance(claim, str) and _USER_ID_TEXT.fullmatch(claim):
        claim = int(claim)
    if _is_int(claim) and 0 < claim <= MAX_USER_ID:
        return claim
    return None


class ApiTokenUser(TokenUser):
    """The user a bearer token names, without a database row; ids are ints like User.pk.

    Staff privilege is never read from a token: whatever claims a token carries
    (a leaked signing key can write any), its bearer is not staff. Staff
    endpoints take a session, whose user comes from the database.
    """

    is_staff = False
    is_superuser = False

    @cached_property
    def id(self) -> int:
        return _user_id_of(self.token[api_settings.USER_ID_CLAIM])

    @cached_property
    def pk(self) -> int:
        return self.id


class BearerTokenAuthentication(JWTStatelessUserAuthentication):
    """Signature and expiry are checked by simplejwt; the claims' types here; the generation against Redis.

    `request.user` is an `ApiTokenUser` (id and username from the token), so
    views use `request.user.id`, never a User row.
    """

    def authenticate(self, request: Request):
        try:
            return super().authenticate(request)
        except InvalidToken as error:
            # Forged, garbled, expired or naming nobody: the bearer needs a new token, and where to get it.
            raise InvalidToken(NOT_VALID) from error
        except (TypeError, ValueError, OverflowError, KeyError) as error:
            # A claim of a type simplejwt or PyJWT did not expect (only a token signed with
            # our key gets this far): the token is malformed, not our server broken.
            raise InvalidToken(NOT_VALID) from error

    def get_user(self, validated_token: Token) -> ApiTokenUser:
        user = self.token_user(validated_token)
        generation = validated_token.get("gen")
        if not _is_int(generation) or generation != selectors.api_token_generation(user_id=user.id):
            raise exceptions.AuthenticationFailed(REVOKED, code="token_revoked")
        return user

    def token_user(self, validated_token: Token) -> ApiTokenUser:
        """The user a validated token names, its claims' types checked; whether it is revoked is not asked."""
        if _user_id_of(validated_token.get(api_settings.USER_ID_CLAIM)) is None:
            raise InvalidToken(_("Token contained no recognizable user identification"))
        if not isinstance(validated_token.get("username"), str):
            raise InvalidToken(_("Token contained a malformed claim."))
        return ApiTokenUser(validated_token)

    def revoked_since(self, request: Request) -> bool:
        """Whether the token that authenticated `request` has been revoked (or its user deleted) since,
        asking PostgreSQL; the API's error handler asks before answering a 5xx (config/api/exceptions.py)."""
        return request.auth.get("gen") != selectors.database_generation(user_id=request.user.id)
