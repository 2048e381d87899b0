"""docs/partners.md's walk-through, step by step, by a client generated from docs/openapi.yaml against the
real web server and a real Celery worker, with the partner's webhook endpoint on loopback; a visitor goes
through the waiting room as a browser would, and the pass is verified offline with the shipped file."""

import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coupons.models import Grant
from partners.client import firstcome_partner
from partners.models import WebhookDelivery
from tests.partners.factories import make_key, make_partner, terms
from tests.partners.test_webhooks import Receiver
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = schemathesis.openapi.from_path(Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml")
RETURN_URL = "https://shop.example/firstcome/back"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class SchemaClient:
    """Calls operations of the schema by their operationId; every answer is checked against the schema."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Api-Key {key}"}

    def __call__(self, operation_id: str, *, path: dict | None = None, body=None, headers: dict | None = None):
        operation = SCHEMA.find_operation_by_id(operation_id)
        extra = {} if body is None else {"body": body, "media_type": "application/json"}
        case = operation.Case(path_parameters=path or {}, headers={**self.headers, **(headers or {})}, **extra)
        response = case.call(base_url=self.base_url)
        case.validate_response(response, checks=CHECKS)
        return response


def test_the_walk_through_of_docs_partners_md(web_server, worker_factory):
    # given: staff made the partner, its key and its webhook endpoint (the admin's part)
    partner = make_partner("acme")
    _, key = make_key(partner, rate_burst=0)
    with Receiver(partner.signing_secret, fail_first=1) as receiver:
        partner.webhook_url = receiver.url
        partner.save(update_fields=["webhook_url"])
        worker_factory(PARTNER_WEBHOOK_BACKOFF_BASE_SECONDS="0.2", PARTNER_WEBHOOK_DUE_EVERY_SECONDS="0.3")
        base = web_server.extra["url"]
        api = SchemaClient(base, key)

        # 1. register a drop (a draft), safely retried with the same Idempotency-Key
        body = terms("spring-sale", quantity=10, amount=1000)
        created = api("partner_campaigns_create", body=body, headers={"Idempotency-Key": "spring-sale-1"})
        retried = api("partner_campaigns_create", body=body, headers={"Idempotency-Key": "spring-sale-1"})
        assert (created.status_code, retried.status_code) == (201, 200)
        assert created.json()["status"] == retried.json()["status"] == "draft"

        # 2. publish it: its terms freeze
        published = api("partner_campaigns_publish_create", path={"slug": "spring-sale"}, body={"open_now": True})
        assert published.json()["status"] == "open"
        frozen = api("partner_campaigns_partial_update", path={"slug": "spring-sale"}, body={"quantity": 11})
        assert (frozen.status_code, frozen.json()["code"]) == (409, "terms_frozen")

        # 3. claim for 20 of your users, each twice: the same call again names the same grant
        first = {f"user-{i}": api("partner_campaigns_claims_create", path={"slug": "spring-sale"},
                                  body={"client_id": f"user-{i}"}) for i in range(20)}  # fmt: skip
        again = {client: api("partner_campaigns_claims_create", path={"slug": "spring-sale"},
                             body={"client_id": client}) for client in first}  # fmt: skip
        assert Counter(r.status_code for r in first.values()) == {202: 10, 409: 10}
        winners = {client: r.json()["grant_id"] for client, r in first.items() if r.status_code == 202}
        assert {client: again[client].json()["grant_id"] for client in winners} == winners
        assert all(again[client].json()["code"] == "sold_out" for client in first if client not in winners)

        # 4. follow the grants until delivered, and hear each outcome once by webhook
        wait_until(
            lambda: Grant.objects.filter(status=Grant.Status.SUCCEEDED).count() == 10, timeout=60, message="drain"
        )
        for grant_id in winners.values():
            grant = api("partner_grants_retrieve", path={"grant_id": grant_id}).json()
            assert grant["status"] == "succeeded" and grant["campaign"] == "spring-sale"
        wait_until(
            lambda: WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DELIVERED).count() == 11,
            timeout=60,
            message="the webhooks",
        )
        read = api("partner_campaigns_retrieve", path={"slug": "spring-sale"}).json()

        # 5. a drop behind a waiting room: your visitor goes through it and comes back with a pass
        room_drop = terms("summer-sale", quantity=1, amount=1000)
        api("partner_campaigns_create", body=room_drop, headers={"Idempotency-Key": "summer-sale-1"})
        room = api("partner_campaigns_room_update", path={"slug": "summer-sale"},
                   body={"admit_rate": 10, "max_active": 10, "return_url": RETURN_URL})  # fmt: skip
        assert room.status_code == 201 and room.json()["enter_url"] == "/partners/acme/rooms/summer-sale/"
        api("partner_campaigns_publish_create", path={"slug": "summer-sale"}, body={"open_now": True})
        refused = api("partner_campaigns_claims_create", path={"slug": "summer-sale"}, body={"client_id": "user-8472"})
        assert (refused.status_code, refused.json()["code"]) == (403, "admission_required")
        token = firstcome_partner.room_token(partner.signing_secret, partner="acme", room="summer-sale",
                                             client_id="user-8472")  # fmt: skip
        browser = requests.Session()
        entered = browser.get(f"{base}{room.json()['enter_url']}", params={"token": token}, allow_redirects=False)
        assert entered.status_code == 302  # in line, with no firstcome account
        back = wait_for_admission(browser, f"{base}{room.json()['enter_url']}")
        access_pass = parse_qs(urlsplit(back).query)["firstcome_pass"][0]
        # 6. your backend verifies the pass offline, then claims with it (once)
        admitted = firstcome_partner.pass_verify(access_pass, partner.signing_secret, partner="acme",
                                                 room="summer-sale", client_id="user-8472")  # fmt: skip
        assert admitted.client_id == "user-8472"
        claimed = api("partner_campaigns_claims_create", path={"slug": "summer-sale"},
                      body={"client_id": "user-8472", "access_pass": access_pass})  # fmt: skip
        assert claimed.status_code == 202
        stolen = api("partner_campaigns_claims_create", path={"slug": "summer-sale"},
                     body={"client_id": "user-1", "access_pass": access_pass})  # fmt: skip
        assert (stolen.status_code, stolen.json()["code"]) == (403, "pass_wrong_client")
        wait_until(
            lambda: WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DELIVERED).count() == 13,
            timeout=60,
            message="the room drop's webhooks",
        )
        room_read = api("partner_campaigns_room_retrieve", path={"slug": "summer-sale"}).json()

    assert read["status"] == "sold_out"
    assert read["counts"] == {"remaining": 0, "pending": 0, "succeeded": 10, "failed": 0}
    assert (room_read["admitted"], room_read["active"]) == (1, 0)
    assert receiver.bad_signatures == 0
    settled = {p["data"]["grant_id"]: p["data"]["client_id"] for p in receiver.events.values()
               if p["type"] == "grant.succeeded"}  # fmt: skip
    winners["user-8472"] = claimed.json()["grant_id"]
    assert settled == {grant_id: client for client, grant_id in winners.items()}  # one event per grant
    assert Counter(p["type"] for p in receiver.events.values()) == {"grant.succeeded": 11, "campaign.sold_out": 2}


def wait_for_admission(browser, room_url: str) -> str:
    """Reload the waiting page as the visitor's browser does until it sends them back (the worker's beat
    runs the admission tick every second); the URL it sends them to."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = browser.get(room_url, allow_redirects=False)
        if page.status_code == 302:
            assert page.headers["Location"].startswith(RETURN_URL)
            return page.headers["Location"]
        assert page.status_code == 200 and 'data-outcome="queued"' in page.text
        time.sleep(0.5)
    raise AssertionError("never admitted")
