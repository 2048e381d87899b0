"""A partner's claim for one of its own clients: the same gate and guarantees as a user's claim."""

from coupons import selectors
from coupons.services.claims import ClaimOutcome, claim_create
from coupons.services.external_clients import external_client_user_id
from partners.services.campaigns import campaign_slug_stored


def partner_claim_create(
    *, namespace: str, slug: str, client_id: str, access_pass: str | None = None, now_ms: int | None = None
) -> ClaimOutcome:
    """Claim a slot of the partner's campaign for `client_id` (the partner's own id of its user).

    The client is a shadow user of coupons (coupons.ExternalClient), so the one-live-grant
    constraint, the gate's answers and I1-I9 are the user claim's own. No per-IP bucket: every
    client of a partner comes from the partner's servers; the key's bucket and the client's
    (the per-user one) apply. A known client's repeat or refusal touches no database.
    """
    campaign_id = selectors.campaign_id_in_namespace(
        namespace=namespace, slug=campaign_slug_stored(namespace=namespace, slug=slug)
    )
    user_id = external_client_user_id(namespace=namespace, client_id=client_id)
    return claim_create(campaign_id=campaign_id, user_id=user_id, access_pass=access_pass, now_ms=now_ms)
