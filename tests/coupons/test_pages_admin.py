"""Pages (plain-form claim with POST/redirect/GET, my grants) and the admin (live counts, actions)."""

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import User
from coupons import selectors
from coupons.models import Campaign, Grant
from coupons.services.campaigns import campaign_close, campaign_status_refresh
from coupons.services.claims import claim_create
from coupons.services.grants import grant_fail, grant_transfer
from tests.accounts.factories import UserFactory
from tests.coupons.factories import CampaignFactory, published_campaign
from tests.isolation import redis_flush

pytestmark = pytest.mark.django_db(transaction=True)


def test_campaign_list_shows_published_campaigns_with_remaining(client):
    live = published_campaign(title="Live drop", quantity=7)
    CampaignFactory(title="Secret draft")
    claim_create(campaign_id=live.pk, user_id=UserFactory().pk)
    html = client.get("/").content.decode()
    assert "Live drop" in html and "Secret draft" not in html
    assert "6 of 7 left" in html


def test_claim_as_a_plain_form(client, user):
    campaign = published_campaign(quantity=2)
    client.force_login(user)
    response = client.post(f"/campaigns/{campaign.slug}/claim/")
    # back to the personal copy of the page (the plain one is shared: it shows no flash message)
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.slug}/?mine=1"
    page = client.get(response["Location"]).content.decode()
    assert "You are in: slot #1" in page
    assert Grant.objects.filter(campaign=campaign, user=user).count() == 1
    # again: told they already hold it, nothing new
    client.post(f"/campaigns/{campaign.slug}/claim/")
    assert "already hold slot #1" in client.get(f"/campaigns/{campaign.slug}/?mine=1").content.decode()
    assert Grant.objects.filter(campaign=campaign).count() == 1


def test_claim_form_on_a_closed_campaign_explains_and_changes_nothing(client, user):
    campaign = published_campaign()
    campaign_close(campaign=campaign)
    client.force_login(user)
    client.post(f"/campaigns/{campaign.slug}/claim/")
    assert "This campaign is closed." in client.get(f"/campaigns/{campaign.slug}/?mine=1").content.decode()
    assert not Grant.objects.exists()


def test_claim_form_needs_login(client):
    campaign = published_campaign()
    response = client.post(f"/campaigns/{campaign.slug}/claim/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_my_grants_page_and_api_show_only_mine(client):
    campaign = published_campaign(quantity=5, amount=10)
    me, other = UserFactory(), UserFactory()
    mine = claim_create(campaign_id=campaign.pk, user_id=me.pk)
    theirs = claim_create(campaign_id=campaign.pk, user_id=other.pk)
    grant_transfer(grant_id=mine.grant_id, final_attempt=False)
    client.force_login(me)
    html = client.get("/me/").content.decode()
    assert "10 KRW" in html and "Succeeded" in html
    assert client.get(f"/api/v1/grants/{mine.grant_id}/").json()["status"] == "succeeded"
    assert client.get(f"/api/v1/grants/{theirs.grant_id}/").status_code == 404
    assert [g["id"] for g in client.get("/api/v1/grants/").json()["results"]] == [mine.grant_id]
    wallet = client.get("/api/v1/wallet/").json()
    assert wallet["balance"] == 10 and wallet["entries"][0]["reference"] == f"grant:{mine.grant_id}"


def test_coupon_redeem_works_once_and_only_for_the_owner(client):
    campaign = published_campaign(quantity=2, amount=3000, kind=Campaign.Kind.COUPON)
    me, other = UserFactory(), UserFactory()
    outcome = claim_create(campaign_id=campaign.pk, user_id=me.pk)
    grant_transfer(grant_id=outcome.grant_id, final_attempt=False)
    code = campaign.coupons.get().code
    client.force_login(other)
    assert client.post(f"/api/v1/coupons/{code}/redeem/").json()["code"] == "not_found"
    client.force_login(me)
    assert [c["code"] for c in client.get("/api/v1/coupons/").json()["results"]] == [code]
    assert client.post(f"/api/v1/coupons/{code}/redeem/").status_code == 200
    second = client.post(f"/api/v1/coupons/{code}/redeem/")
    assert second.status_code == 409 and second.json()["code"] == "already_redeemed"


def test_campaign_api_shows_live_remaining(api_client):
    campaign = published_campaign(quantity=3)
    claim_create(campaign_id=campaign.pk, user_id=UserFactory().pk)
    assert api_client.get(f"/api/v1/campaigns/{campaign.slug}/").json()["remaining"] == 2
    listed = {c["slug"]: c["remaining"] for c in api_client.get("/api/v1/campaigns/").json()}
    assert listed == {campaign.slug: 2}


@pytest.fixture
def staff_client(client):
    staff = User.objects.create_superuser("boss", "boss@example.com", "pw-for-boss-123")
    client.force_login(staff)
    return client


def test_admin_changelist_shows_live_counts(staff_client):
    campaign = published_campaign(quantity=4)
    for user in UserFactory.create_batch(2):
        claim_create(campaign_id=campaign.pk, user_id=user.pk)
    response = staff_client.get(reverse("admin:coupons_campaign_changelist"))
    assert response.status_code == 200
    row = response.content.decode().split(f">{campaign.title}</a>")[1].split("</tr>")[0]
    assert ">2<" in row  # claimed and pending
    detail = staff_client.get(reverse("admin:coupons_campaign_change", args=[campaign.pk])).content.decode()
    assert "claimed 2 · pending 2 · succeeded 0 · failed 0 · remaining 2" in detail


def test_admin_actions_publish_close_reconcile(staff_client, redis_clean):
    draft = CampaignFactory(quantity=3)
    url = reverse("admin:coupons_campaign_changelist")
    staff_client.post(url, {"action": "publish", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.OPEN
    claim_create(campaign_id=draft.pk, user_id=UserFactory().pk)

    redis_flush()
    staff_client.post(url, {"action": "reconcile", "_selected_action": [draft.pk]})
    assert selectors.campaign_remaining(campaign=draft) == 2

    staff_client.post(url, {"action": "close", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.CLOSED
    with pytest.raises(Exception) as rejected:
        claim_create(campaign_id=draft.pk, user_id=UserFactory().pk)
    assert getattr(rejected.value, "code", None) == "closed"


def test_admin_makes_terms_read_only_once_published(staff_client):
    campaign = published_campaign(quantity=3)
    page = staff_client.get(reverse("admin:coupons_campaign_change", args=[campaign.pk])).content.decode()
    assert 'name="quantity"' not in page and 'name="title"' in page


def test_reconcile_command_reports_and_fixes_drift(redis_clean, capsys):
    from django.core.management import call_command

    campaign = published_campaign(quantity=3)
    claim_create(campaign_id=campaign.pk, user_id=UserFactory().pk)
    call_command("reconcile")
    assert "in sync" in capsys.readouterr().out
    redis_clean.delete(f"{settings.REDIS_KEY_PREFIX}:{{camp:{campaign.pk}}}:holders")
    call_command("reconcile", campaign.slug)
    out = capsys.readouterr().out
    assert "DRIFT" in out and "missing_in_redis=1" in out and "rebuilt" in out
    call_command("reconcile", campaign.slug)
    assert "in sync" in capsys.readouterr().out


def test_status_follows_the_window_and_the_stock():
    from datetime import timedelta

    from django.utils import timezone

    campaign = published_campaign(quantity=1, opens_at=timezone.now() + timedelta(hours=1))
    assert campaign.status == Campaign.Status.SCHEDULED
    campaign_status_refresh(now=campaign.opens_at)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN
    outcome = claim_create(
        campaign_id=campaign.pk, user_id=UserFactory().pk, now_ms=int(campaign.opens_at.timestamp() * 1000)
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SOLD_OUT and campaign.sold_out_at is not None
    grant_fail(grant_id=outcome.grant_id, reason="declined")
    campaign_status_refresh(now=campaign.opens_at)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN
    campaign_status_refresh(now=campaign.closes_at)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CLOSED
