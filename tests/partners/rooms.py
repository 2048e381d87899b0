"""Helpers for a partner's waiting room: a campaign with a room through the API, visitors with room tokens."""

from urllib.parse import parse_qs, urlsplit

from partners.client import firstcome_partner
from tests.partners.factories import open_campaign

RETURN_URL = "https://shop.example/back?from=firstcome"


def campaign_with_room(client, slug: str = "drop", *, quantity: int = 10, **room) -> dict:
    """A campaign opened through the API with a waiting room in front (its room body)."""
    open_campaign(client, slug, quantity=quantity)
    body = {"admit_rate": 50, "max_active": 100, "return_url": RETURN_URL, **room}
    made = client.put(f"/api/v1/partner/campaigns/{slug}/room/", body, format="json")
    assert made.status_code == 201, made.content
    return made.json()


def enter_path(namespace: str, slug: str) -> str:
    return f"/partners/{namespace}/rooms/{slug}/"


def room_token(secret: str, *, partner: str = "acme", room: str = "drop", client_id: str = "u-1", **kw) -> str:
    return firstcome_partner.room_token(secret, partner=partner, room=room, client_id=client_id, **kw)


def pass_of(location: str) -> str:
    """The pass in the return URL an admitted visitor is sent to."""
    return parse_qs(urlsplit(location).query)["firstcome_pass"][0]
