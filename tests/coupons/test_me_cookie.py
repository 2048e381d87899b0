"""The fc_me cookie (coupons/me.py) is set when what it holds changes, and only then: a request of the
visitor's session that created their grant, a login, a logout; never for a refused claim, a write that
created nothing, or a bearer token (no session, no cookie)."""

import base64
import json

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from coupons.me import COOKIE
from coupons.models import Grant
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def cookie_state(response) -> dict:
    value = response.cookies[COOKIE].value
    return json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))


def test_a_session_claim_that_takes_a_slot_sets_the_cookie_with_it(client, redis_clean):
    campaign = published_campaign(quantity=1)
    user = UserFactory()
    client.force_login(user)
    response = client.post(f"/campaigns/{campaign.slug}/claim/")
    assert Grant.objects.filter(user=user, campaign=campaign).exists()
    grant_id, slot, status = cookie_state(response)["claims"][campaign.slug]
    assert slot == 1 and status == "pending" and grant_id == str(Grant.objects.get(user=user).pk)


def test_a_refused_or_repeated_claim_sets_no_cookie(client, redis_clean):
    campaign = published_campaign(quantity=1)
    holder, late = UserFactory(), UserFactory()
    client.force_login(holder)
    assert COOKIE in client.post(f"/campaigns/{campaign.slug}/claim/").cookies  # the claim that took the slot
    again = client.post(f"/campaigns/{campaign.slug}/claim/")  # a duplicate: nothing new
    assert again.status_code == 302 and COOKIE not in again.cookies
    client.force_login(late)
    refused = client.post(f"/campaigns/{campaign.slug}/claim/")  # sold out
    assert refused.status_code == 302 and COOKIE not in refused.cookies
    assert not Grant.objects.filter(user=late).exists()


def test_a_session_write_that_creates_no_grant_sets_no_cookie(client):
    client.force_login(UserFactory())
    answer = client.post("/i18n/setlang/", {"language": "ko"})
    assert answer.status_code == 302 and COOKIE not in answer.cookies


def test_a_bearer_token_claim_sets_no_cookie(redis_clean):
    campaign = published_campaign(quantity=1)
    token, _ = account_services.api_token_issue(user=UserFactory())
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    answer = api.post(f"/api/v1/campaigns/{campaign.slug}/claims/", format="json")
    assert answer.status_code == 202 and COOKIE not in answer.cookies
