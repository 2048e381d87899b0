"""DRF authentication by bearer token, with no database query on the way."""

from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

from accounts import selectors


class BearerTokenAuthentication(JWTStatelessUserAuthentication):
    """Signature and expiry are checked by simplejwt; the generation against Redis.

    `request.user` is a `TokenUser` (id and username from the token), so views
    use `request.user.id`, never a User row.
    """

    def get_user(self, validated_token: Token) -> TokenUser:
        user = super().get_user(validated_token)
        generation = validated_token.get("gen")
        if not isinstance(generation, int) or generation != selectors.api_token_generation(user_id=int(user.id)):
            raise exceptions.AuthenticationFailed("This token has been revoked.", code="token_revoked")
        return user
