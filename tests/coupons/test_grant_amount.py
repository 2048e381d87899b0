"""A grant reports what its user paid or received (issue 18, item 8): a seat's own price, not the
campaign's lowest, in the grant API, the grants page and the admin."""

import re

import pytest

from coupons import selectors
from coupons.models import Campaign, Grant
from coupons.seats.services import seat_confirm, seat_hold, seat_map_generate
from coupons.services.campaigns import campaign_publish
from coupons.services.claims import claim_create
from coupons.services.grants import grant_transfer
from tests.accounts.test_tokens import client_with
from tests.coupons.factories import CampaignFactory, funded_user, published_campaign

pytestmark = pytest.mark.django_db(transaction=True)

DEAR, CHEAP = 50_000, 30_000


def token_of(user) -> str:
    from accounts import services as account_services

    return account_services.api_token_issue(user=user)[0]


@pytest.fixture
def concert() -> Campaign:
    campaign = CampaignFactory(quantity=1, amount=0)
    seat_map_generate(campaign=campaign, rows=f"A:{DEAR}, B:{CHEAP}", seats_per_row=4)
    campaign_publish(campaign=Campaign.objects.get(pk=campaign.pk))
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.amount == CHEAP  # the campaign's amount is its lowest price
    return campaign


def buy(campaign: Campaign, user, slot: int) -> Grant:
    hold = seat_hold(campaign_id=campaign.pk, user_id=user.pk, slot=slot)
    return seat_confirm(campaign_id=campaign.pk, user_id=user.pk, slot=slot, token=hold.token).grant


def test_a_50000_seats_grant_reports_50000_in_the_api(concert):
    buyer, thrifty = funded_user(), funded_user()
    dear = buy(concert, buyer, 1)
    cheap = buy(concert, thrifty, 5)  # B-1
    client = client_with(token_of(buyer))

    assert client.get(f"/api/v1/grants/{dear.pk}/").json()["amount"] == DEAR
    assert [g["amount"] for g in client.get("/api/v1/grants/").json()["results"]] == [DEAR]
    assert client_with(token_of(thrifty)).get(f"/api/v1/grants/{cheap.pk}/").json()["amount"] == CHEAP
    # the confirm's own answer too
    other = funded_user()
    held = client_with(token_of(other)).post(f"/api/v1/campaigns/{concert.slug}/seats/A-2/hold/").json()
    bought = client_with(token_of(other)).post(
        f"/api/v1/campaigns/{concert.slug}/seats/A-2/confirm/", {"token": held["token"]}, format="json"
    )
    assert (bought.status_code, bought.json()["amount"]) == (201, DEAR)


def test_credit_and_coupon_grants_report_the_campaigns_amount():
    user = funded_user()
    credit = published_campaign(amount=10)
    coupon = published_campaign(kind=Campaign.Kind.COUPON, amount=1_000)
    for campaign in (credit, coupon):
        grant_transfer(grant_id=claim_create(campaign_id=campaign.pk, user_id=user.pk).grant_id, final_attempt=False)
    amounts = {g["campaign"]: g["amount"] for g in client_with(token_of(user)).get("/api/v1/grants/").json()["results"]}
    assert amounts == {credit.slug: 10, coupon.slug: 1_000}


def test_the_grants_page_shows_what_was_paid(client, concert):
    buyer = funded_user()
    buy(concert, buyer, 1)
    client.force_login(buyer)
    page = client.get("/me/").content.decode()
    row = re.search(r'<td data-field="got"><a href="[^"]+">([^<]*)</a></td>', page)
    assert row is not None, page
    assert row.group(1) == "Seat A-1, 50,000 KRW paid"


def test_the_admin_shows_what_was_paid(client, concert):
    from accounts.models import User

    grant = buy(concert, funded_user(), 1)
    client.force_login(User.objects.create_superuser("boss", "b@example.com", "pw-for-boss-123"))
    changelist = client.get("/admin/coupons/grant/").content.decode()
    assert re.search(r'<td class="field-amount">50,?000</td>', changelist), changelist
    change = client.get(f"/admin/coupons/grant/{grant.pk}/change/").content.decode()
    assert re.search(r'<div class="readonly">50,?000</div>', change)


def test_a_page_of_grants_costs_one_query_whatever_they_bought(concert, django_assert_num_queries):
    buyer = funded_user()
    buy(concert, buyer, 1)
    for amount in (10, 20):
        campaign = published_campaign(amount=amount)
        claim_create(campaign_id=campaign.pk, user_id=buyer.pk)
    with django_assert_num_queries(1):
        amounts = [grant.amount for grant in selectors.grant_list_for_user(user_id=buyer.pk)]
    assert sorted(amounts) == [10, 20, DEAR]
