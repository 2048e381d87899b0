"""DRF authentication by bearer token, with no database query on the way."""

from django.utils.functional import cached_property
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

from accounts import selectors


class ApiTokenUser(TokenUser):
    """The user a bearer token names, without a database row; ids are ints like User.pk."""

    @cached_property
    def id(self) -> int:
        return int(super().id)

    @cached_property
    def pk(self) -> int:
        return self.id


class BearerTokenAuthentication(JWTStatelessUserAuthentication):
    """Signature and expiry are checked by simplejwt; the generation against Redis.

    `request.user` is a `TokenUser` (id and username from the token), so views
    use `request.user.id`, never a User row.
    """

    def get_user(self, validated_token: Token) -> ApiTokenUser:
        user = ApiTokenUser(super().get_user(validated_token).token)
        generation = validated_token.get("gen")
        if not isinstance(generation, int) or generation != selectors.api_token_generation(user_id=user.id):
            raise exceptions.AuthenticationFailed("This token has been revoked.", code="token_revoked")
        return user
