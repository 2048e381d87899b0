"""A partner's visitors in its waiting room (issue 22, item 4): a room by the partner's API, a visitor sent with
a room token, admitted by the tick, sent back with a pass the partner verifies offline, the pass used once by
the partner's claim; and every hostile token or pass refused with its code, changing nothing."""

import base64
import json
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient

from coupons.models import ExternalClient, Grant
from partners.client import firstcome_partner
from partners.models import PartnerRoom
from tests.accounts.factories import UserFactory
from tests.partners.factories import claim_path, key_client, make_key, make_partner, open_campaign
from tests.partners.rooms import RETURN_URL, campaign_with_room, enter_path, pass_of, room_token
from tests.partners.test_concurrency import in_threads, without_client_buckets
from waitingroom import redis as room_redis
from waitingroom.models import AccessPassUse, WaitingRoom
from waitingroom.services.admission import room_tick

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def acme():
    partner = make_partner("acme")
    return partner, key_client(make_key(partner, rate_burst=0)[1])


def enter(secret: str, client_id: str, *, slug: str = "drop", browser: Client | None = None):
    browser = browser or Client()
    entered = browser.get(enter_path("acme", slug), {"token": room_token(secret, room=slug, client_id=client_id)})
    return browser, entered


def admitted_pass(browser: Client, room: WaitingRoom, slug: str = "drop") -> str:
    room_tick(room=WaitingRoom.objects.get(pk=room.pk))
    back = browser.get(enter_path("acme", slug))
    assert back.status_code == 302, back.content
    assert back["Location"].startswith(RETURN_URL + "&firstcome_pass=")
    return pass_of(back["Location"])


def payload_of(token: str) -> dict:
    return firstcome_partner.peek(token)


def retagged(token: str, **changes) -> str:
    """The token with its payload changed and its signature kept (a tampering)."""
    head, _, mac = token.split(".")
    body = json.dumps({**payload_of(token), **changes}, separators=(",", ":")).encode()
    return f"{head}.{base64.urlsafe_b64encode(body).rstrip(b'=').decode()}.{mac}"


def queued_count(room) -> int:
    return room_redis.counts(room_id=room.pk)[0]


def test_a_visitor_goes_through_the_room_and_the_partner_claims_with_the_verified_pass(acme):
    partner, api = acme
    body = campaign_with_room(api, quantity=3)
    assert body["enter_url"] == "/partners/acme/rooms/drop/" and body["return_url"] == RETURN_URL
    room = WaitingRoom.objects.get()
    assert room.namespace == "acme" and room.campaign.slug == "acme-drop"
    # a claim without a pass is refused now: the room stands in front
    refused = api.post(claim_path("drop"), {"client_id": "u-1"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "admission_required")

    # the visitor enters with the partner's token and waits, with no firstcome account
    browser, entered = enter(partner.signing_secret, "u-1")
    assert entered.status_code == 302 and urlsplit(entered["Location"]).path == "/partners/acme/rooms/drop/"
    waiting = browser.get(enter_path("acme", "drop"))
    assert waiting.status_code == 200 and b'data-outcome="queued"' in waiting.content
    assert api.get("/api/v1/partner/campaigns/drop/room/").json()["queued"] == 1

    # admitted: back to the partner's URL with a pass it verifies offline
    signed = admitted_pass(browser, room)
    admission = firstcome_partner.pass_verify(
        signed, partner.signing_secret, partner="acme", room="drop", client_id="u-1"
    )
    assert admission.client_id == "u-1" and admission.expires_ms > time.time() * 1000

    # the partner's claim uses it, once
    claimed = api.post(claim_path("drop"), {"client_id": "u-1", "access_pass": signed}, format="json")
    assert claimed.status_code == 202, claimed.content
    assert AccessPassUse.objects.count() == 1
    replay = api.post(claim_path("drop"), {"client_id": "u-1", "access_pass": signed}, format="json")
    assert replay.status_code == 200 and replay.json()["grant_id"] == claimed.json()["grant_id"]  # its grant
    assert Grant.objects.count() == 1 and AccessPassUse.objects.count() == 1
    # the place is free again: nobody admitted, nobody queued
    assert room_redis.counts(room_id=room.pk) == (0, 0)


def test_hostile_room_tokens_are_refused_with_their_code_and_change_nothing(acme):
    partner, api = acme
    campaign_with_room(api)
    other = make_partner("globex")
    campaign_with_room(key_client(make_key(other, rate_burst=0)[1]), "drop")
    now = int(time.time() * 1000)
    secret = partner.signing_secret
    genuine = room_token(secret, client_id="u-1")
    head, payload, mac = genuine.split(".")
    tampered = firstcome_partner.sign("whsec_" + "A" * 44, {"typ": "room", "p": "acme", "r": "drop", "c": "u-9",
                                                            "exp_ms": now + 60_000})  # fmt: skip
    cases = {
        "token_invalid": [
            "garbage",
            f"{head}.{payload}.{'A' * len(mac)}",  # a bad signature
            f"{tampered.split('.')[0]}.{tampered.split('.')[1]}.{mac}",  # another client id under acme's mac
            tampered,  # signed with a made-up secret
            room_token(secret, client_id="u-1", ttl_seconds=3600),  # too long-lived
            room_token(secret, client_id="u\x01"),  # a control character
            firstcome_partner.sign(secret, {**payload_of(genuine), "typ": "pass"}),  # a pass is no room token
        ],
        "token_expired": [room_token(secret, client_id="u-1", now_ms=now - 600_000)],
        "token_wrong_room": [room_token(secret, room="other", client_id="u-1")],
        "token_wrong_partner": [
            room_token(other.signing_secret, partner="globex", client_id="u-1"),
            room_token(secret, partner="globex", client_id="u-1"),
        ],
    }
    room = WaitingRoom.objects.get(namespace="acme")
    for code, bad_tokens in cases.items():
        for token in bad_tokens:
            answer = Client().get(enter_path("acme", "drop"), {"token": token})
            assert (answer.status_code, answer["X-Error-Code"]) == (403, code), token
            assert f'data-code="{code}"'.encode() in answer.content
    # a room that is not this partner's, and a visitor who never entered
    assert Client().get(enter_path("acme", "nope"), {"token": genuine}).status_code == 403  # token_wrong_room
    assert Client().get(enter_path("nobody", "drop"), {"token": genuine})["X-Error-Code"] == "token_wrong_partner"
    stranger = Client().get(enter_path("acme", "drop"))
    assert (stranger.status_code, stranger["X-Error-Code"]) == (403, "visitor_unknown")
    forged = Client()
    forged.cookies[f"fc_visitor_{room.pk}"] = "x"
    assert forged.get(enter_path("acme", "drop"))["X-Error-Code"] == "visitor_unknown"
    # nothing changed
    assert queued_count(room) == 0 and not ExternalClient.objects.exists()


def test_hostile_passes_are_refused_before_anything_is_spent(acme):
    partner, api = acme
    campaign_with_room(api, quantity=5)
    campaign_with_room(api, "drop-2", quantity=5)
    room, room_2 = WaitingRoom.objects.get(slug="acme-drop"), WaitingRoom.objects.get(slug="acme-drop-2")
    other = make_partner("globex")
    globex = key_client(make_key(other, rate_burst=0)[1])
    campaign_with_room(globex, "drop")
    browser, _ = enter(partner.signing_secret, "u-1")
    signed = admitted_pass(browser, room)
    browser_2, _ = enter(partner.signing_secret, "u-2", slug="drop-2")
    signed_2 = admitted_pass(browser_2, room_2, "drop-2")
    now = int(time.time() * 1000)
    expired = firstcome_partner.sign(partner.signing_secret, {"typ": "pass", "p": "acme", "r": "drop", "c": "u-1",
                                                               "exp_ms": now - 1, "k": room.pk})  # fmt: skip
    head, payload, mac = signed.split(".")
    cases = [
        (api, "drop", "u-1", "nonsense", "pass_invalid"),
        (api, "drop", "u-1", f"{head}.{payload}.{mac[::-1]}", "pass_invalid"),
        (api, "drop", "u-1", room_token(partner.signing_secret, client_id="u-1"), "pass_invalid"),  # a room token
        (api, "drop", "u-1", expired, "pass_expired"),
        (api, "drop", "u-2", signed, "pass_wrong_client"),  # another visitor's pass
        (api, "drop", "u-2", retagged(signed, c="u-2"), "pass_invalid"),  # its client id tampered with
        (api, "drop", "u-1", retagged(signed, exp_ms=now + 3_600_000), "pass_invalid"),  # its expiry moved
        (api, "drop", "u-2", signed_2, "pass_wrong_room"),
        (globex, "drop", "u-1", signed, "pass_wrong_partner"),  # the other partner presents acme's pass
    ]
    for client, slug, client_id, token, code in cases:
        answer = client.post(claim_path(slug), {"client_id": client_id, "access_pass": token}, format="json")
        assert (answer.status_code, answer.json()["code"]) == (403, code), (client_id, code)
    # nothing spent: no grant, no use, both still admitted, and their passes still work
    assert not Grant.objects.exists() and not AccessPassUse.objects.exists()
    assert room_redis.counts(room_id=room.pk) == (0, 1) and room_redis.counts(room_id=room_2.pk) == (0, 1)
    assert api.post(claim_path("drop"), {"client_id": "u-1", "access_pass": signed}, format="json").status_code == 202
    assert (
        api.post(claim_path("drop-2"), {"client_id": "u-2", "access_pass": signed_2}, format="json").status_code == 202
    )


def test_the_room_api_makes_changes_and_reads_a_room_and_keeps_partners_apart(acme):
    partner, api = acme
    # no return URL anywhere: refused
    open_campaign(api, "drop")
    missing = api.put("/api/v1/partner/campaigns/drop/room/", {"admit_rate": 5}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "return_url_required")
    assert api.get("/api/v1/partner/campaigns/drop/room/").status_code == 404
    partner.return_url = "https://acme.example/back"
    partner.save(update_fields=["return_url"])
    made = api.put("/api/v1/partner/campaigns/drop/room/", {"admit_rate": 5}, format="json")
    assert made.status_code == 201 and made.json()["return_url"] == "https://acme.example/back"
    changed = api.put("/api/v1/partner/campaigns/drop/room/", {"max_active": 7, "return_url": RETURN_URL},
                      format="json")  # fmt: skip
    assert changed.status_code == 200
    assert (changed.json()["max_active"], changed.json()["admit_rate"], changed.json()["return_url"]) == (
        7,
        5,
        RETURN_URL,
    )
    assert WaitingRoom.objects.count() == PartnerRoom.objects.count() == 1
    for elsewhere in ("ftp://acme.example/back", "javascript:alert(1)", "//evil.example/"):
        refused = api.put("/api/v1/partner/campaigns/drop/room/", {"return_url": elsewhere}, format="json")
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid"), elsewhere
    assert PartnerRoom.objects.get().return_url == RETURN_URL
    # another partner reaches none of it
    globex = key_client(make_key(make_partner("globex"))[1])
    assert globex.get("/api/v1/partner/campaigns/drop/room/").status_code == 404
    assert globex.put("/api/v1/partner/campaigns/drop/room/", {"max_active": 1}, format="json").status_code == 404
    assert WaitingRoom.objects.get().max_active == 7
    # a firstcome account cannot join a partner's room
    user = UserFactory()
    browser = Client()
    browser.force_login(user)
    assert browser.get("/rooms/acme-drop/").status_code == 404
    assert browser.post("/api/v1/rooms/acme-drop/join/").status_code == 404
    assert queued_count(WaitingRoom.objects.get()) == 0
    # an ended campaign takes no room
    api.post("/api/v1/partner/campaigns/drop/close/")
    ended = api.put("/api/v1/partner/campaigns/drop/room/", {"max_active": 1}, format="json")
    assert (ended.status_code, ended.json()["code"]) == (409, "invalid_transition")


def test_one_pass_sent_by_12_claims_at_once_is_used_once(acme):
    # given: an admitted visitor's pass, and claims for the campaign's per-client bucket turned off
    partner, api = acme
    campaign_with_room(api, quantity=5)
    room = WaitingRoom.objects.get()
    without_client_buckets("drop")
    browser, _ = enter(partner.signing_secret, "u-1")
    signed = admitted_pass(browser, room)
    key = api._credentials["HTTP_AUTHORIZATION"]

    # when: 12 threads released together by a barrier send it
    def claim(_):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=key)
        answer = client.post(claim_path("drop"), {"client_id": "u-1", "access_pass": signed}, format="json")
        return answer.status_code, answer.json().get("grant_id") or answer.json()["code"]

    answers = in_threads(12, claim)
    # then: one grant, one use; every other answer names it, says the first click is still going, or
    # (a click whose pass was used before the first click's slot was taken) that the pass is used
    grant = Grant.objects.get()
    assert AccessPassUse.objects.count() == 1
    assert Counter(status for status, _ in answers)[202] == 1
    assert {what for status, what in answers if status in (200, 202)} == {str(grant.pk)}
    assert {what for status, what in answers if status not in (200, 202)} <= {"claim_in_progress", "pass_invalid"}
    assert room_redis.counts(room_id=room.pk) == (0, 0)
