"""Campaigns made by a partner through its API: idempotent create, draft edits, and the lifecycle."""

import hashlib
import json
from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import exceptions

from coupons import selectors
from coupons.locks import campaign_lock
from coupons.models import Campaign
from coupons.services.campaigns import campaign_cancel, campaign_close, campaign_create, campaign_publish
from partners.errors import CreateInProgress, IdempotencyKeyReused, SlugTaken, TermsFrozen
from partners.models import CampaignCreateRecord, PartnerRoom
from waitingroom.services.rooms import room_update

# The terms a partner sets; once published none of them may change (DESIGN §3).
TERMS = ("title", "description", "kind", "quantity", "amount", "coupon_valid_days", "opens_at", "closes_at")


def campaign_slug_stored(*, namespace: str, slug: str) -> str:
    """The campaign's slug in firstcome: the partner's own, under its namespace (partners may reuse
    each other's slugs)."""
    return f"{namespace}-{slug}"


def campaign_slug_shown(*, campaign: Campaign) -> str:
    return campaign.slug.removeprefix(f"{campaign.namespace}-")


def _fingerprint(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=_json_default).encode()).hexdigest()


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _invalid(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        if any(item.code == "unique" for item in error.error_dict.get("slug", [])):
            raise SlugTaken()
        return exceptions.ValidationError(error.message_dict)
    return exceptions.ValidationError(error.messages)


def _constraint_of(error: IntegrityError) -> str:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", "") or ""


def _create(*, namespace: str, data: dict) -> Campaign:
    fields = dict(data)
    slug = campaign_slug_stored(namespace=namespace, slug=fields.pop("slug"))
    try:
        return campaign_create(slug=slug, namespace=namespace, **fields)
    except DjangoValidationError as error:
        raise _invalid(error) from None


def partner_campaign_create(
    *, partner_id: int, namespace: str, data: dict, idempotency_key: str | None
) -> tuple[Campaign, bool]:
    """A draft campaign of the partner; (campaign, created).

    With an Idempotency-Key the same request again (even at the same moment) answers
    the campaign the first one made, and a different body under the same key is
    refused: the key's record is inserted first, so a concurrent request with it waits
    on the unique index until the first commits, then reads what it made.
    """
    if idempotency_key is None:
        try:
            with transaction.atomic():
                return _create(namespace=namespace, data=data), True
        except IntegrityError as error:  # a concurrent create took the slug between the check and the insert
            raise SlugTaken() from error
    fingerprint = _fingerprint(data)
    record = CampaignCreateRecord.objects.filter(partner_id=partner_id, key=idempotency_key).first()
    if record is None:
        try:
            with transaction.atomic():
                record = CampaignCreateRecord.objects.create(
                    partner_id=partner_id, key=idempotency_key, fingerprint=fingerprint
                )
                record.campaign = _create(namespace=namespace, data=data)
                record.save(update_fields=["campaign"])
                return record.campaign, True
        except IntegrityError as error:
            if _constraint_of(error) != "campaign_create_record_unique_key":
                raise SlugTaken() from error
            record = CampaignCreateRecord.objects.filter(partner_id=partner_id, key=idempotency_key).first()
            if record is None:  # the first request rolled back after we met its row
                raise CreateInProgress() from error
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    return Campaign.objects.get(pk=record.campaign_id), False


@transaction.atomic
def partner_campaign_update(*, namespace: str, slug: str, data: dict) -> Campaign:
    """Change a draft's terms; a published campaign's terms are frozen (409 terms_frozen)."""
    campaign = selectors.campaign_get_in_namespace(
        namespace=namespace, slug=campaign_slug_stored(namespace=namespace, slug=slug)
    )
    campaign = campaign_lock(campaign_id=campaign.pk)
    if campaign.status != Campaign.Status.DRAFT:
        raise TermsFrozen()
    for name, value in data.items():
        setattr(campaign, name, value)
    try:
        campaign.full_clean()
    except DjangoValidationError as error:
        raise _invalid(error) from None
    campaign.save()
    return campaign


def partner_campaign_get(*, namespace: str, slug: str) -> Campaign:
    return selectors.campaign_get_in_namespace(
        namespace=namespace, slug=campaign_slug_stored(namespace=namespace, slug=slug)
    )


def partner_campaign_publish(*, namespace: str, slug: str, open_now: bool = False) -> Campaign:
    campaign = partner_campaign_get(namespace=namespace, slug=slug)
    try:
        campaign = campaign_publish(campaign=campaign, open_now=open_now)
    except DjangoValidationError as error:
        raise _invalid(error) from None
    room = PartnerRoom.objects.select_related("room").filter(room__campaign_id=campaign.pk).first()
    if room is not None and room.room.opens_at > campaign.opens_at:
        room_update(room.room, opens_at=campaign.opens_at)  # opened now: its waiting room opens with it
    return campaign


def partner_campaign_close(*, namespace: str, slug: str) -> Campaign:
    return campaign_close(campaign=partner_campaign_get(namespace=namespace, slug=slug))


def partner_campaign_cancel(*, namespace: str, slug: str) -> Campaign:
    return campaign_cancel(campaign=partner_campaign_get(namespace=namespace, slug=slug))
