"""The partner API: keys, campaigns by API with their lifecycle, claims for external client ids."""

import pytest

from coupons.models import Campaign, ExternalClient, Grant
from partners.services.keys import partner_key_revoke
from tests.partners.factories import claim_path, key_client, make_key, make_partner, open_campaign, terms

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def acme():
    partner = make_partner("acme")
    _, plain = make_key(partner)
    return key_client(plain)


def test_a_draft_is_created_read_published_and_read_with_live_counts(acme):
    # when
    created = acme.post("/api/v1/partner/campaigns/", terms("drop-1", quantity=3), format="json")
    # then
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["slug"], body["status"], body["quantity"]) == ("drop-1", "draft", 3)
    campaign = Campaign.objects.get()
    assert (campaign.namespace, campaign.slug) == ("acme", "acme-drop-1")
    published = acme.post("/api/v1/partner/campaigns/drop-1/publish/", {"open_now": True}, format="json")
    assert published.status_code == 200 and published.json()["status"] == "open"
    assert acme.post(claim_path("drop-1"), {"client_id": "u-1"}, format="json").status_code == 202
    read = acme.get("/api/v1/partner/campaigns/drop-1/").json()
    assert read["counts"] == {"remaining": 2, "pending": 1, "succeeded": 0, "failed": 0}
    assert [c["slug"] for c in acme.get("/api/v1/partner/campaigns/").json()] == ["drop-1"]


def test_published_terms_are_frozen_and_the_answer_says_to_register_a_new_campaign(acme):
    acme.post("/api/v1/partner/campaigns/", terms("drop-1", quantity=3), format="json")
    # a draft may change
    changed = acme.patch("/api/v1/partner/campaigns/drop-1/", {"quantity": 5}, format="json")
    assert changed.status_code == 200 and changed.json()["quantity"] == 5
    acme.post("/api/v1/partner/campaigns/drop-1/publish/", {}, format="json")
    # a published one never does
    refused = acme.patch("/api/v1/partner/campaigns/drop-1/", {"quantity": 6}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "terms_frozen" and "new campaign" in refused.json()["detail"]
    assert Campaign.objects.get().quantity == 5


def test_close_and_cancel_follow_the_lifecycle(acme):
    open_campaign(acme, "drop-1")
    closed = acme.post("/api/v1/partner/campaigns/drop-1/close/")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    refused = acme.post(claim_path("drop-1"), {"client_id": "u-1"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "closed")
    cancelled = acme.post("/api/v1/partner/campaigns/drop-1/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = acme.post("/api/v1/partner/campaigns/drop-1/cancel/")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_transition")
    acme.post("/api/v1/partner/campaigns/", terms("drop-2"), format="json")
    draft_close = acme.post("/api/v1/partner/campaigns/drop-2/close/")
    assert (draft_close.status_code, draft_close.json()["code"]) == (409, "invalid_transition")


def test_a_claim_for_a_client_answers_like_a_users_claim(acme):
    open_campaign(acme, "drop-1", quantity=1)
    first = acme.post(claim_path("drop-1"), {"client_id": "shop-user-42"}, format="json")
    assert first.status_code == 202, first.content
    again = acme.post(claim_path("drop-1"), {"client_id": "shop-user-42"}, format="json")
    assert again.status_code == 200
    assert again.json()["grant_id"] == first.json()["grant_id"] and again.json()["duplicate"] is True
    other = acme.post(claim_path("drop-1"), {"client_id": "shop-user-43"}, format="json")
    assert (other.status_code, other.json()["code"]) == (409, "sold_out")
    # the client is a shadow user of coupons, and its grant an ordinary grant
    client = ExternalClient.objects.get(client_id="shop-user-42")
    assert client.namespace == "acme" and not client.user.has_usable_password()
    grant = Grant.objects.get()
    assert str(grant.pk) == first.json()["grant_id"] and grant.user_id == client.user_id
    status = acme.get(first.json()["status_url"])
    assert status.status_code == 200
    assert (status.json()["client_id"], status.json()["campaign"]) == ("shop-user-42", "drop-1")


def test_client_ids_are_namespaced_by_partner():
    acme = key_client(make_key(make_partner("acme"))[1])
    globex = key_client(make_key(make_partner("globex"))[1])
    open_campaign(acme, "drop", quantity=5)
    open_campaign(globex, "drop", quantity=5)  # the same slug: each partner's own
    assert acme.post(claim_path("drop"), {"client_id": "42"}, format="json").status_code == 202
    assert globex.post(claim_path("drop"), {"client_id": "42"}, format="json").status_code == 202
    clients = ExternalClient.objects.order_by("namespace")
    assert [(c.namespace, c.client_id) for c in clients] == [("acme", "42"), ("globex", "42")]
    assert clients[0].user_id != clients[1].user_id


def test_a_key_reaches_only_its_own_partners_campaigns():
    acme = key_client(make_key(make_partner("acme"))[1])
    globex = key_client(make_key(make_partner("globex"))[1])
    body = open_campaign(acme, "acme-only", quantity=5)
    grant = acme.post(claim_path("acme-only"), {"client_id": "1"}, format="json").json()
    before = list(Campaign.objects.values()), list(Grant.objects.values())
    # when: the other partner tries everything on it
    answers = [
        globex.get("/api/v1/partner/campaigns/acme-only/"),
        globex.patch("/api/v1/partner/campaigns/acme-only/", {"title": "mine"}, format="json"),
        globex.post("/api/v1/partner/campaigns/acme-only/publish/", {}, format="json"),
        globex.post("/api/v1/partner/campaigns/acme-only/close/"),
        globex.post("/api/v1/partner/campaigns/acme-only/cancel/"),
        globex.post(claim_path("acme-only"), {"client_id": "1"}, format="json"),
        globex.get(grant["status_url"]),
    ]
    # then: 404 alike (its existence does not leak), nothing changed, and its list is empty
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(404, "not_found")] * len(answers)
    assert (list(Campaign.objects.values()), list(Grant.objects.values())) == before
    assert globex.get("/api/v1/partner/campaigns/").json() == []
    assert acme.get("/api/v1/partner/campaigns/acme-only/").json()["slug"] == body["slug"]


def test_partner_campaigns_stay_out_of_firstcomes_own_pages_and_user_api(acme, bearer):
    open_campaign(acme, "drop-1")
    assert bearer.get("/api/v1/campaigns/").json() == []
    assert bearer.get("/api/v1/campaigns/acme-drop-1/").status_code == 404
    assert bearer.post("/api/v1/campaigns/acme-drop-1/claims/").status_code == 404
    assert Grant.objects.count() == 0


def test_requests_without_a_valid_key_are_401_with_a_code(acme, bearer):
    partner = make_partner("globex")
    key, plain = make_key(partner)
    partner_key_revoke(key=key)
    _, live_plain = make_key(partner)
    cases = {
        "no credentials": (None, "not_authenticated"),
        "a user's bearer token": ("bearer", "not_authenticated"),
        "garbage": ("Api-Key garbage", "key_invalid"),
        "two words": ("Api-Key a b", "key_invalid"),
        "unknown prefix": ("Api-Key " + "Zz9Zz9Zz." + "x" * 32, "key_invalid"),
        "wrong secret": ("Api-Key " + live_plain.split(".")[0] + "." + "y" * 32, "key_invalid"),
        "a revoked key's prefix, any secret": ("Api-Key " + plain.split(".")[0] + "." + "y" * 32, "key_revoked"),
        "revoked": ("Api-Key " + plain, "key_revoked"),
    }
    for name, (header, code) in cases.items():
        client = bearer if header == "bearer" else key_client("")
        if header not in (None, "bearer"):
            client.credentials(HTTP_AUTHORIZATION=header)
        elif header is None:
            client.credentials()
        response = client.get("/api/v1/partner/campaigns/")
        assert response.status_code == 401, name
        assert response.json()["code"] == code, name
        assert response["WWW-Authenticate"] == "Api-Key", name


def test_an_expired_key_is_refused_and_a_rotated_key_overlaps_then_expires(acme):
    from datetime import timedelta

    from partners.models import PartnerAPIKey
    from partners.services.keys import partner_key_rotate

    partner = make_partner("globex")
    old, old_plain = make_key(partner)
    _new, new_plain = partner_key_rotate(key=old, overlap=timedelta(hours=1))
    assert key_client(old_plain).get("/api/v1/partner/campaigns/").status_code == 200  # the overlap
    assert key_client(new_plain).get("/api/v1/partner/campaigns/").status_code == 200
    PartnerAPIKey.objects.filter(pk=old.pk).update(expiry_date=old.created)  # the overlap is over
    old.refresh_from_db()
    old.save()  # a save republishes the entry
    expired = key_client(old_plain).get("/api/v1/partner/campaigns/")
    assert (expired.status_code, expired.json()["code"]) == (401, "key_expired")
    assert key_client(new_plain).get("/api/v1/partner/campaigns/").status_code == 200


def test_keys_survive_a_redis_flush_and_a_revoke_does_too(redis_clean):
    from tests.isolation import redis_flush

    partner = make_partner("globex")
    _live, live_plain = make_key(partner)
    gone, gone_plain = make_key(partner)
    partner_key_revoke(key=gone)
    # when: Redis loses every entry
    redis_flush()
    # then: PostgreSQL refills them, the revoke included
    assert key_client(live_plain).get("/api/v1/partner/campaigns/").status_code == 200
    refused = key_client(gone_plain).get("/api/v1/partner/campaigns/")
    assert (refused.status_code, refused.json()["code"]) == (401, "key_revoked")


def test_a_fill_that_read_the_key_before_its_revoke_cannot_bring_it_back():
    from partners import redis as key_cache
    from partners.services.keys import key_entry_fields

    partner = make_partner("globex")
    key, plain = make_key(partner)
    stale_fields = key_entry_fields(key=key)  # a miss read the row here, before the revoke committed
    partner_key_revoke(key=key)
    # when: the slow fill writes what it read
    written = key_cache.key_entry_write(prefix=key.prefix, fields=stale_fields, ttl_ms=60_000, replace=False)
    saved = key_cache.key_entry_write(prefix=key.prefix, fields=stale_fields, ttl_ms=60_000, replace=True)
    # then: the revoke stands
    assert (written, saved) == (False, False)
    assert key_client(plain).get("/api/v1/partner/campaigns/").status_code == 401


def test_the_admin_shows_a_new_key_once_and_stores_it_hashed():
    from django.test import Client

    from accounts.models import User
    from partners.models import PartnerAPIKey
    from partners.services.keys import partner_keys_last_used_flush

    partner = make_partner("globex")
    boss = User.objects.create_superuser("boss", "boss@example.com", "a-long-passphrase-4-drops")
    staff = Client()
    staff.force_login(boss)
    response = staff.post("/admin/partners/partnerapikey/add/", {"partner": partner.pk, "name": "backend"}, follow=True)
    assert response.status_code == 200
    key = PartnerAPIKey.objects.get()
    shown = [str(m) for m in response.context["messages"] if f"{key.prefix}." in str(m) and "/change/" not in str(m)]
    assert len(shown) == 1
    plain = next(word for word in shown[0].split() if word.startswith(key.prefix + ".")).rstrip(".")
    assert plain not in key.hashed_key and key.is_valid(plain)
    page = staff.get(f"/admin/partners/partnerapikey/{key.pk}/change/").content.decode()
    assert plain not in page  # never again
    # the key works, and its last use reaches the admin and PostgreSQL
    assert key_client(plain).get("/api/v1/partner/campaigns/").status_code == 200
    assert partner_keys_last_used_flush() == 1
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_the_campaign_list_reads_its_live_counts_in_two_queries(acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for index in range(3):
        open_campaign(acme, f"drop-{index}", quantity=4)
        acme.post(claim_path(f"drop-{index}"), {"client_id": "c-1"}, format="json")
    acme.get("/api/v1/partner/campaigns/")  # the key's entry is in Redis from here on
    with CaptureQueriesContext(connection) as queries:
        listed = acme.get("/api/v1/partner/campaigns/").json()
    assert len(queries) == 2, [q["sql"] for q in queries]  # the campaigns, their grants by status
    assert [c["counts"] for c in listed] == [{"remaining": 3, "pending": 1, "succeeded": 0, "failed": 0}] * 3


def test_only_staff_who_may_change_a_partner_see_its_signing_secret():
    from django.contrib.auth.models import Permission
    from django.test import Client

    from accounts.models import User

    partner = make_partner("globex")
    viewer = User.objects.create_user("viewer", password="a-long-passphrase-4-drops", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_partner"))
    boss = User.objects.create_superuser("boss", "boss@example.com", "a-long-passphrase-4-drops")
    pages = {}
    for user in (viewer, boss):
        client = Client()
        client.force_login(user)
        response = client.get(f"/admin/partners/partner/{partner.pk}/change/")
        assert response.status_code == 200
        pages[user.username] = response.content.decode()
    assert partner.signing_secret not in pages["viewer"]
    assert partner.signing_secret in pages["boss"]
