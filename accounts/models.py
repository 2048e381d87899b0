"""The user model."""

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.usernames import username_skeletons


class User(AbstractUser):
    # Every bearer token carries the generation it was issued under; bumping it
    # revokes all of the user's tokens at once (see accounts.services).
    api_token_generation = models.PositiveIntegerField(default=0, verbose_name=_("api token generation"))
    # The UTS #39 skeletons of the username (accounts/usernames.py), kept in step by save():
    # a new username sharing one with an existing user looks like theirs and is refused.
    username_skeletons = ArrayField(
        models.CharField(max_length=600), default=list, blank=True, editable=False, verbose_name=_("username skeletons")
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        indexes = [GinIndex(fields=["username_skeletons"], name="user_username_skeletons")]

    def clean(self) -> None:
        super().clean()  # the username in NFKC form
        if self.username and self._username_is_new() and self._username_confusable():
            message = _("This username looks too much like an existing one; please choose another.")
            raise ValidationError({"username": ValidationError(message, code="confusable")})

    def _username_is_new(self) -> bool:
        """A new user, or a new name: users who already have theirs keep it, look-alike or not."""
        if self._state.adding:
            return True
        return not User.objects.filter(pk=self.pk, username=self.username).exists()

    def _username_confusable(self) -> bool:
        # The same name exactly is the unique constraint's error, not this one.
        others = User.objects.exclude(pk=self.pk).exclude(username=self.username)
        return others.filter(username_skeletons__overlap=username_skeletons(self.username)).exists()

    def save(self, *args, **kwargs) -> None:
        self.username_skeletons = username_skeletons(self.username or "")
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_skeletons"}
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
