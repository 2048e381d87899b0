"""A user's bearer tokens die with what made them theirs: deletion, deactivation, a new password.

Receivers of the User model's own signals, so every way of doing these (the
admin, a service, a shell, a form) revokes: each calls
services.api_token_revocation_announce inside the transaction that saves or
deletes, so old tokens are refused from its commit on (docs/security.md,
"Revocation"). A re-activation publishes the current generation: tokens made
before the deactivation stay dead (it bumped the generation), new ones work.
"""

from django.contrib.auth.hashers import is_password_usable
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts import services
from accounts.models import User

_WATCHED = {"password", "is_active"}


@receiver(pre_save, sender=User)
def _note_revoking_change(sender, instance: User, update_fields=None, **kwargs) -> None:
    instance._tokens_change = None
    if instance._state.adding or (update_fields is not None and not _WATCHED & set(update_fields)):
        return
    before = User.objects.filter(pk=instance.pk).values_list("password", "is_active").first()
    if before is None:
        return
    password, was_active = before
    # set_password() since the last save leaves the raw password in `_password`; the hasher
    # upgrade Django does on login re-encodes the same password and clears it first, so
    # that is no change. A password made unusable is one.
    new_password = instance.password != password and (
        instance._password is not None or not is_password_usable(instance.password)
    )
    if (was_active and not instance.is_active) or new_password:
        instance._tokens_change = "revoke"
    elif instance.is_active and not was_active:
        instance._tokens_change = "publish"


@receiver(post_save, sender=User)
def _revoke_on_change(sender, instance: User, created: bool, **kwargs) -> None:
    change = getattr(instance, "_tokens_change", None)
    instance._tokens_change = None
    if change == "revoke":
        services.api_token_revoke(user=instance)
    elif change == "publish":
        services.api_token_revocation_announce(user_id=instance.pk)


@receiver(post_delete, sender=User)
def _revoke_on_delete(sender, instance: User, **kwargs) -> None:
    services.api_token_revocation_announce(user_id=instance.pk)
