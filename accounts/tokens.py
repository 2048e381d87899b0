"""Bearer tokens: signed, expiring JWTs (simplejwt) that name the user and a generation."""

from datetime import datetime, timedelta

from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User


def api_token_build(*, user: User, lifetime: timedelta | None = None) -> tuple[str, datetime]:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=lifetime or timedelta(hours=settings.API_TOKEN_LIFETIME_HOURS))
    token["username"] = user.username
    token["gen"] = user.api_token_generation
    expires_at = datetime.fromtimestamp(token["exp"]).astimezone()
    return str(token), expires_at
