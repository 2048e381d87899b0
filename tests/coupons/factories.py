from datetime import timedelta

import factory
from django.utils import timezone

from coupons.models import Campaign
from coupons.services.campaigns import campaign_publish


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    slug = factory.Sequence(lambda n: f"drop-{n}")
    title = factory.LazyAttribute(lambda c: f"Drop {c.slug}")
    kind = Campaign.Kind.CREDIT
    quantity = 10
    amount = 10
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1))
    closes_at = factory.LazyAttribute(lambda c: c.opens_at + timedelta(days=1))


def published_campaign(**fields) -> Campaign:
    """A campaign published through the service, so its Redis gate exists."""
    campaign = CampaignFactory(**fields)
    campaign_publish(campaign=campaign)
    campaign.refresh_from_db()
    return campaign
