"""Keep each partner API key's Redis entry in step with its row (a revoke reaches Redis before its
commit), and write outcome webhooks when coupons settles grants or ends a campaign."""

from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from coupons.signals import campaign_ended, grants_settled
from partners.models import PartnerAPIKey
from partners.services.keys import key_entry_publish, key_entry_revoke
from partners.services.webhooks import webhooks_campaign_ended, webhooks_grants_settled


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


@receiver(grants_settled)
def grants_settled_webhooks(sender, campaign, succeeded, failed, **kwargs) -> None:
    if campaign.namespace:  # firstcome's own campaigns have no partner to tell
        webhooks_grants_settled(campaign=campaign, succeeded=succeeded, failed=failed)


@receiver(campaign_ended)
def campaign_ended_webhooks(sender, campaign_id: int, status: str, **kwargs) -> None:
    webhooks_campaign_ended(campaign_id=campaign_id, status=status)
