import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from coupons.models import Campaign
from coupons.services.campaigns import campaign_publish
from coupons.services.wallets import wallet_adjust
from tests.accounts.factories import UserFactory


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


def funded_user(amount: int = 200_000, **fields):
    """A user whose wallet holds `amount` KRW (a ledger adjustment), so they may hold and buy seats."""
    user = UserFactory(**fields)
    wallet_adjust(user_id=user.pk, amount=amount, reference=f"test-fund:{uuid.uuid4()}")
    return user
