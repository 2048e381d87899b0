"""Partners, their keys and API clients for the partner API tests."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from partners.models import Partner, PartnerAPIKey
from partners.services.keys import partner_key_create


def make_partner(namespace: str = "acme", name: str = "") -> Partner:
    return Partner.objects.create(name=name or namespace.title(), namespace=namespace)


def make_key(partner: Partner, **fields) -> tuple[PartnerAPIKey, str]:
    return partner_key_create(partner=partner, name=fields.pop("name", "backend"), **fields)


def key_client(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    return client


def terms(slug: str = "summer-drop", **over) -> dict:
    opens_at = timezone.now() - timedelta(minutes=1)
    body = {
        "slug": slug,
        "title": "Summer drop",
        "quantity": 10,
        "amount": 1000,
        "opens_at": opens_at.isoformat(),
        "closes_at": (opens_at + timedelta(days=1)).isoformat(),
    }
    body.update(over)
    return body


def open_campaign(client: APIClient, slug: str = "summer-drop", **over) -> dict:
    """A campaign created and published (open now) through the API; its body."""
    created = client.post("/api/v1/partner/campaigns/", terms(slug, **over), format="json")
    assert created.status_code == 201, created.content
    published = client.post(f"/api/v1/partner/campaigns/{slug}/publish/", {"open_now": True}, format="json")
    assert published.status_code == 200, published.content
    return published.json()


def claim_path(slug: str) -> str:
    return f"/api/v1/partner/campaigns/{slug}/claims/"
