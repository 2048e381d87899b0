"""The claim on the lean path (config/api/lean.py): a bearer token's claim with no body, without DRF.

Everything else (a body to validate, a session, another Accept, a token it cannot
vouch for) goes to CampaignClaimApi, which stays the schema's source."""

from django.http import HttpRequest, HttpResponse

from accounts.token_cache import lean_answer
from config.api.lean import accepts_json, allowed_methods
from config.clientip import client_ip
from coupons import selectors
from coupons.api.views import CampaignClaimApi, claim_answer
from coupons.services.claims import claim_create

ALLOW = allowed_methods(CampaignClaimApi)
_EMPTY_BODIES = (b"", b"{}")


def _body_empty(request: HttpRequest) -> bool:
    try:
        return request.body.strip() in _EMPTY_BODIES
    except Exception:  # noqa: BLE001 - too large, unreadable: the DRF view says what is wrong
        return False


def campaign_claim(request: HttpRequest, slug: str) -> HttpResponse | None:
    if request.method != "POST" or not accepts_json(request) or not _body_empty(request):
        return None

    def run(campaign_id: int, user_id: int, token_generation: tuple[str, int] | None) -> tuple[dict, int]:
        outcome = claim_create(
            campaign_id=campaign_id,
            user_id=user_id,
            client_ip=client_ip(request),
            token_generation=token_generation,
        )
        return claim_answer(outcome)

    return lean_answer(request, allow=ALLOW, before=lambda: selectors.campaign_id_by_slug(slug=slug), run=run)
