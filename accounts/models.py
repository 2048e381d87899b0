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

    def save(self, *args, **kwargs) -> None:
        # The generation moves only by an atomic increment (accounts.services.api_token_revoke):
        # saving a row loaded before a revoke must not write the old generation back (and
        # revive the tokens it revoked), so a full save of an existing row leaves it out.
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name != "api_token_generation"
            ]
        super().save(*args, **kwargs)
