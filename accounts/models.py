"""The user model."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    # Every bearer token carries the generation it was issued under; bumping it
    # revokes all of the user's tokens at once (see accounts.services).
    api_token_generation = models.PositiveIntegerField(default=0, verbose_name=_("api token generation"))

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
