"""Hostile partner requests are 4xx with a code and change nothing; a key's own rate limit; partner
clients' grants show in the admin, the dashboard and the rankings like anyone's."""

import pytest
from django.utils import timezone

from accounts.models import User
from coupons.models import Campaign, ExternalClient, Grant
from coupons.services.grants import grant_transfer
from ranking import periods
from ranking import services as ranking_services
from tests.partners.factories import claim_path, key_client, make_key, make_partner, open_campaign, terms
from tests.ranking.test_ranking import make_board

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def acme():
    return key_client(make_key(make_partner("acme"))[1])


def rows() -> tuple:
    return (
        list(Campaign.objects.order_by("pk").values()),
        list(Grant.objects.order_by("pk").values()),
        list(ExternalClient.objects.order_by("pk").values()),
    )


HOSTILE_CLAIMS = {
    "no body": (None, "invalid"),
    "an array": ([1, 2], "invalid"),
    "a number": (7, "invalid"),
    "no client_id": ({"access_pass": "x"}, "invalid"),
    "client_id null": ({"client_id": None}, "invalid"),
    "client_id a number": ({"client_id": 12}, "invalid"),
    "client_id an object": ({"client_id": {"id": 1}}, "invalid"),
    "client_id empty": ({"client_id": ""}, "invalid"),
    "client_id too long": ({"client_id": "x" * 129}, "invalid"),
    "client_id with a NUL": ({"client_id": "a\x00b"}, "invalid"),
    "client_id with a newline": ({"client_id": "a\nb"}, "invalid"),
    "access_pass too long": ({"client_id": "a", "access_pass": "p" * 1001}, "invalid"),
}


@pytest.mark.parametrize("name", list(HOSTILE_CLAIMS))
def test_hostile_claim_bodies_are_400_with_a_code_and_take_nothing(acme, name):
    open_campaign(acme, "drop")
    before = rows()
    body, code = HOSTILE_CLAIMS[name]
    response = acme.post(claim_path("drop"), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert rows() == before


HOSTILE_CREATES = {
    "a slug with spaces": (terms("a b"), "invalid"),
    "a slug too long": (terms("s" * 40), "invalid"),
    "no title": ({k: v for k, v in terms().items() if k != "title"}, "invalid"),
    "zero quantity": (terms(quantity=0), "invalid"),
    "negative amount": (terms(amount=-1), "invalid"),
    "a quantity beyond bigint": (terms(quantity=2**70), "parse_error"),  # refused by the JSON parser
    "a float quantity": (terms(quantity=1.5), "invalid"),
    "a string quantity": (terms(quantity="ten"), "invalid"),
    "closes before it opens": (terms(closes_at="2030-01-01T00:00:00Z", opens_at="2030-01-02T00:00:00Z"), "invalid"),
    "a date in year 1": (terms(opens_at="0001-01-01T00:00:00Z"), "invalid"),
    "not a date": (terms(opens_at="tomorrow"), "invalid"),
    "an unknown kind": (terms(kind="seats"), "invalid"),
    "a title with a NUL": (terms(title="a\x00b"), "invalid"),
}


@pytest.mark.parametrize("name", list(HOSTILE_CREATES))
def test_hostile_create_bodies_are_400_with_a_code_and_make_nothing(acme, name):
    body, code = HOSTILE_CREATES[name]
    response = acme.post("/api/v1/partner/campaigns/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert Campaign.objects.count() == 0


@pytest.mark.parametrize("key", ["", "k" * 101, "with space", "ключ"])
def test_a_malformed_idempotency_key_is_400(acme, key):
    response = acme.post("/api/v1/partner/campaigns/", terms(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert Campaign.objects.count() == 0


def test_a_non_json_body_is_400_parse_error(acme):
    response = acme.generic("POST", claim_path("drop"), b'{"client_id": "a"', content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


def test_a_key_has_its_own_rate_limit():
    partner = make_partner("acme")
    _, slow_plain = make_key(partner, name="slow", rate_burst=3, rate_per_second=0.01)
    _, other_plain = make_key(partner, name="other")
    slow = key_client(slow_plain)
    assert [slow.get("/api/v1/partner/campaigns/").status_code for _ in range(3)] == [200, 200, 200]
    refused = slow.get("/api/v1/partner/campaigns/")
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert int(refused["Retry-After"]) >= 1
    assert key_client(other_plain).get("/api/v1/partner/campaigns/").status_code == 200  # its own bucket


def test_a_partner_clients_grant_shows_in_the_admin_dashboard_and_rankings(acme):
    # given: a board of claims, and a client's grant delivered
    board = make_board(metric="claims")
    open_campaign(acme, "drop", quantity=5)
    grant_id = acme.post(claim_path("drop"), {"client_id": "shop-9"}, format="json").json()["grant_id"]
    grant_transfer(grant_id=grant_id, final_attempt=False)
    campaign = Campaign.objects.get(namespace="acme")
    assert Grant.objects.get(pk=grant_id).status == Grant.Status.SUCCEEDED

    # then: the rankings count it
    key = periods.period_key("all", timezone.now())
    entries = ranking_services.board_top(board=board, key=key, limit=10)
    assert [(entry.member, entry.value) for entry in entries] == [(str(campaign.pk), 1)]

    # and staff see it in the admin and on the dashboard
    boss = User.objects.create_superuser("boss", "boss@example.com", "a-long-passphrase-4-drops")
    from django.test import Client

    staff = Client()
    staff.force_login(boss)
    grants_page = staff.get("/admin/coupons/grant/")
    assert grants_page.status_code == 200 and grant_id in grants_page.content.decode()
    clients_page = staff.get("/admin/coupons/externalclient/")
    assert clients_page.status_code == 200 and "shop-9" in clients_page.content.decode()
    dashboard = staff.get(f"/admin/dashboard/campaigns/{campaign.pk}/live/")
    assert dashboard.status_code == 200
