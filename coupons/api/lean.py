"""The claim on the lean path (config/api/lean.py): a bearer token's claim with no body, without DRF.

Everything else (a body to validate, a session, another Accept, a token it cannot
vouch for) goes to CampaignClaimApi, which stays the schema's source."""

from django.http import HttpRequest, HttpResponse

from accounts.token_cache import generation_in_script, identity_current, request_identity
from config.api.lean import accepts_json, allowed_methods, error_response, json_response
from config.clientip import client_ip
from config.errors import TokenUnverified
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
    identity = None
    # On a standalone Redis the claim script checks the token's generation first (no round trip of
    # its own); on a cluster it is read before, as DRF's authentication reads it.
    in_script = generation_in_script()
    try:
        if (identity := request_identity(request, check_generation=not in_script)) is None:
            return None
        try:
            campaign_id = selectors.campaign_id_by_slug(slug=slug)
        except Exception:
            # answered before the script: DRF authenticates before anything, so a revoked token hears that
            if in_script and not identity_current(identity):
                return None
            raise
        outcome = claim_create(
            campaign_id=campaign_id,
            user_id=identity.user.id,
            client_ip=client_ip(request),
            token_generation=identity.generation_check if in_script else None,
        )
    except TokenUnverified:
        return None  # revoked, or its generation not in Redis: the DRF view asks the usual way
    except Exception as error:  # noqa: BLE001 - answered as the API's error handler answers it
        return error_response(error, allow=ALLOW, authenticated=identity)
    body, status = claim_answer(outcome)
    return json_response(body, status=status, allow=ALLOW)
