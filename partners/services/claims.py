"""A partner's claim for one of its own clients: the same gate and guarantees as a user's claim."""

from django.urls import reverse

from coupons import selectors
from coupons.services.claims import ClaimOutcome, claim_create
from coupons.services.external_clients import external_client_user_id
from partners.services.campaigns import campaign_slug_stored
from partners.services.visitors import partner_pass_check
from waitingroom.errors import AdmissionRequired


def partner_claim_create(
    *, namespace: str, slug: str, client_id: str, access_pass: str | None = None, now_ms: int | None = None
) -> ClaimOutcome:
    """Claim a slot of the partner's campaign for `client_id` (the partner's own id of its user).

    The client is a shadow user of coupons (coupons.ExternalClient), so the one-live-grant
    constraint, the gate's answers and I1-I9 are the user claim's own. No per-IP bucket: every
    client of a partner comes from the partner's servers; the key's bucket and the client's
    (the per-user one) apply. A known client's repeat or refusal touches no database.
    `access_pass` is the pass of the partner's room (partners/client/firstcome_partner.py).
    """
    campaign_id = selectors.campaign_id_in_namespace(
        namespace=namespace, slug=campaign_slug_stored(namespace=namespace, slug=slug)
    )
    checked = None
    if access_pass is not None:
        # The pass the visitor brought back from the partner's room: refused here (nothing spent, no
        # client made) unless it is this partner's, for this campaign's room and this client, unexpired.
        checked = partner_pass_check(namespace=namespace, slug=slug, client_id=client_id, token=access_pass)
    user_id = external_client_user_id(namespace=namespace, client_id=client_id)
    if checked is not None:
        access_pass = checked.internal(user_id=user_id)
    try:
        return claim_create(campaign_id=campaign_id, user_id=user_id, access_pass=access_pass, now_ms=now_ms)
    except AdmissionRequired as error:
        # Point at the partner's room (where its visitors enter with a room token), not a user's page.
        if "room_url" in error.extra:
            error.extra["room_url"] = reverse("partner-visitor-room", kwargs={"namespace": namespace, "slug": slug})
        raise
