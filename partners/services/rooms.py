"""A waiting room a partner puts in front of its campaign through the API, for the visitors it sends."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from coupons.errors import InvalidTransition
from coupons.locks import campaign_lock
from coupons.models import Campaign
from partners.errors import ReturnUrlRequired, SlugTaken
from partners.models import Partner, PartnerRoom
from partners.services.campaigns import partner_campaign_get
from waitingroom.errors import RoomNotFound
from waitingroom.models import WaitingRoom
from waitingroom.services.rooms import room_create, room_update

# What a partner may set on its room; the rest (back-pressure, limits) are staff's, in the admin.
ROOM_SETTINGS = ("admit_rate", "max_active", "pass_ttl_seconds", "prequeue")
_ENDED = (Campaign.Status.CLOSED, Campaign.Status.CANCELLED)


def partner_room_get(*, namespace: str, slug: str) -> PartnerRoom:
    """The room in front of the partner's campaign `slug` (404 not_found for none, or anyone else's)."""
    campaign = partner_campaign_get(namespace=namespace, slug=slug)
    room = PartnerRoom.objects.select_related("room", "partner").filter(room__campaign_id=campaign.pk).first()
    if room is None or room.partner.namespace != namespace:
        raise RoomNotFound(_("This campaign has no waiting room."))
    return room


def partner_room_put(*, partner_id: int, namespace: str, slug: str, data: dict) -> tuple[PartnerRoom, bool]:
    """Put a waiting room in front of the partner's campaign, or change its settings; (room, created).

    From then on the campaign's claims need a pass of this room (W4, W6). The room opens with the
    campaign; a campaign that ended takes no room (409 invalid_transition)."""
    with transaction.atomic():
        campaign = campaign_lock(campaign_id=partner_campaign_get(namespace=namespace, slug=slug).pk)
        if campaign.status in _ENDED:
            raise InvalidTransition(_("This campaign has ended: it takes no waiting room."))
        partner = Partner.objects.get(pk=partner_id)
        existing = PartnerRoom.objects.select_related("room").filter(room__campaign_id=campaign.pk).first()
        return_url = data.get("return_url", existing.return_url if existing else "")
        if not (return_url or partner.return_url):
            raise ReturnUrlRequired()
        settings = {name: data[name] for name in ROOM_SETTINGS if name in data}
        try:
            if existing is not None:
                existing.room = room_update(existing.room, **settings)
                existing.return_url = return_url
                existing.save(update_fields=["return_url"])
                return existing, False
            if WaitingRoom.objects.filter(slug=campaign.slug).exists():
                raise SlugTaken(_("A waiting room with this campaign's name exists already."))
            room = room_create(
                slug=campaign.slug,
                title=campaign.title,
                opens_at=campaign.opens_at,
                campaign_id=campaign.pk,
                namespace=namespace,
                **settings,
            )
        except DjangoValidationError as error:
            raise ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages) from None
        return PartnerRoom.objects.create(room=room, partner=partner, return_url=return_url), True
