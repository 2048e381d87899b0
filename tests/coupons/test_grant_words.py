"""A grant says what it gave, in words and with where to see it: a credit, a coupon code, a seat and its price."""

import pytest
from django.utils import translation

from coupons import selectors
from coupons.grant_words import grant_summary
from coupons.models import Campaign, Coupon, Grant
from coupons.services.claims import claim_create
from coupons.services.grants import grant_fail, grant_transfer
from tests.accounts.factories import UserFactory
from tests.accounts.test_tokens import client_with
from tests.coupons.factories import funded_user, published_campaign
from tests.coupons.test_grant_amount import buy, concert, token_of  # noqa: F401 - concert is a fixture

pytestmark = pytest.mark.django_db(transaction=True)


def claimed(campaign: Campaign, user) -> Grant:
    grant_id = claim_create(campaign_id=campaign.pk, user_id=user.pk).grant_id
    return selectors.grant_get_for_user(grant_id=grant_id, user_id=user.pk)


def test_a_credit_says_it_is_on_its_way_then_that_it_is_in_the_wallet():
    user = UserFactory()
    grant = claimed(published_campaign(amount=10_000), user)
    with translation.override("en"):
        assert grant_summary(grant).text == "10,000 KRW is on its way to your wallet."
        assert grant_summary(grant).url is None
    grant_transfer(grant_id=str(grant.pk), final_attempt=False)
    done = selectors.grant_get_for_user(grant_id=grant.pk, user_id=user.pk)
    with translation.override("en"):
        assert (grant_summary(done).text, grant_summary(done).url) == ("10,000 KRW added to your wallet", "/me/#wallet")
    with translation.override("ko"):
        assert grant_summary(done).text == "지갑에 10,000원 적립 완료"


def test_a_coupon_says_its_code_and_a_failed_claim_says_nothing_was_given():
    user = UserFactory()
    grant = claimed(published_campaign(kind=Campaign.Kind.COUPON, amount=3_000), user)
    grant_transfer(grant_id=str(grant.pk), final_attempt=False)
    code = Coupon.objects.get(grant_id=grant.pk).code
    summary = grant_summary(selectors.grant_get_for_user(grant_id=grant.pk, user_id=user.pk))
    with translation.override("en"):
        text = grant_summary(selectors.grant_get_for_user(grant_id=grant.pk, user_id=user.pk)).text
    assert text == f"Your coupon code: {code} (3,000 KRW off)"
    assert (summary.coupon_code, summary.url) == (code, "/me/#coupons")

    other = claimed(published_campaign(amount=10), UserFactory())
    grant_fail(grant_id=str(other.pk), reason="test")
    failed = grant_summary(Grant.objects.select_related("campaign").get(pk=other.pk))
    assert failed.url is None and "failed" in failed.text


def test_a_seat_says_which_seat_and_what_was_paid_in_the_api_too(concert):  # noqa: F811
    user = funded_user()
    grant = buy(concert, user, slot=2)
    with translation.override("en"):
        summary = grant_summary(selectors.grant_get_for_user(grant_id=grant.pk, user_id=user.pk))
    assert (summary.text, summary.seat_label) == ("Seat A-2, 50,000 KRW paid", "A-2")
    body = client_with(token_of(user)).get(f"/api/v1/grants/{grant.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["seat_label"] == "A-2" and body["coupon_code"] is None
    assert body["summary"] == "Seat A-2, 50,000 KRW paid" and body["summary_url"] == f"/campaigns/{concert.slug}/"
