"""Keep each partner API key's Redis entry in step with its row: a revoke reaches Redis before its commit."""

from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from partners.models import PartnerAPIKey
from partners.services.keys import key_entry_publish, key_entry_revoke


@receiver(post_save, sender=PartnerAPIKey)
def key_saved(sender, instance: PartnerAPIKey, **kwargs) -> None:
    if instance.revoked:
        # At once, not only on commit: a process that dies between the commit and its
        # on-commit hook must not leave the key working until its entry expires.
        key_entry_revoke(prefix=instance.prefix)
    transaction.on_commit(partial(key_entry_publish, prefix=instance.prefix))


@receiver(post_delete, sender=PartnerAPIKey)
def key_deleted(sender, instance: PartnerAPIKey, **kwargs) -> None:
    key_entry_revoke(prefix=instance.prefix)
    transaction.on_commit(partial(key_entry_publish, prefix=instance.prefix))
