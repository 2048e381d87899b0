"""Domain errors of the coupons app, each with a stable code and status, and what the gate's
script outcomes mean as errors (raise_for_outcome)."""

from typing import NoReturn

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from config.ratelimit import RateLimited
from waitingroom.errors import AdmissionRequired
from waitingroom.selectors import room_for_campaign, room_url


class CampaignNotFound(ApplicationError):
    code = "not_found"
    status_code = 404
    default_detail = _("No such campaign.")


class ClaimRejected(ApplicationError):
    status_code = 409


class SoldOut(ClaimRejected):
    code = "sold_out"
    default_detail = _("Every slot has been taken.")


class NotOpen(ClaimRejected):
    code = "not_open"
    default_detail = _("This campaign has not opened yet.")


class Closed(ClaimRejected):
    code = "closed"
    default_detail = _("This campaign is closed.")


class Cancelled(ClaimRejected):
    code = "cancelled"
    default_detail = _("This campaign was cancelled.")


REJECTIONS: dict[str, type[ClaimRejected]] = {
    "sold_out": SoldOut,
    "not_open": NotOpen,
    "closed": Closed,
    "cancelled": Cancelled,
}


class ChooseSeat(ApplicationError):
    code = "choose_seat"
    status_code = 409
    default_detail = _("This campaign sells chosen seats: hold a seat, then confirm it.")


class GateUnavailable(ApplicationError):
    code = "store_unavailable"
    status_code = 503
    default_detail = _("The claim could not be recorded; nothing was taken. Try again shortly.")


class ClaimInProgress(ApplicationError):
    """A repeat click met the user's first click before its grant row was known to be committed (I8)."""

    code = "claim_in_progress"
    status_code = 409
    default_detail = _("Your first click is still being recorded; ask again in a moment.")

    @classmethod
    def after(cls, seconds: int) -> "ClaimInProgress":
        return cls(extra={"retry_after": seconds}, headers={"Retry-After": str(seconds)})


class InvalidTransition(ApplicationError):
    code = "invalid_transition"
    status_code = 409
    default_detail = _("The campaign cannot move to that status from its current one.")


class CouponAlreadyRedeemed(ApplicationError):
    code = "already_redeemed"
    status_code = 409
    default_detail = _("This coupon has already been redeemed.")


class CouponExpired(ApplicationError):
    code = "coupon_expired"
    status_code = 409
    default_detail = _("This coupon has expired.")


class CouponNotFound(ApplicationError):
    code = "not_found"
    status_code = 404
    default_detail = _("No such coupon.")


class GrantNotFound(ApplicationError):
    code = "not_found"
    status_code = 404
    default_detail = _("No such grant.")


class SeatTaken(ApplicationError):
    code = "seat_taken"
    status_code = 409
    default_detail = _("Someone else holds or bought this seat.")


class NoSuchSeat(ApplicationError):
    code = "not_found"
    status_code = 404
    default_detail = _("No such seat.")


class HoldInvalid(ApplicationError):
    code = "hold_expired"
    status_code = 409
    default_detail = _("Your hold has expired or was replaced; pick the seat again.")


class StaleToken(ApplicationError):
    code = "stale_token"
    status_code = 409
    default_detail = _("This hold is older than the seat's last sale; it cannot confirm.")


class InsufficientFunds(ApplicationError):
    """The wallet cannot pay; the body carries `balance` and `price` (KRW)."""

    code = "insufficient_funds"
    status_code = 409
    default_detail = _("Your wallet cannot pay for this seat; nothing was charged.")


class AccountInactive(ApplicationError):
    code = "account_inactive"
    status_code = 409
    default_detail = _("Your account is inactive; it cannot hold or buy seats.")


class AlreadyBooked(ApplicationError):
    code = "already_booked"
    status_code = 409
    default_detail = _("You already have a seat for this event.")


def raise_for_outcome(*, outcome: str, campaign_id: int, retry_after_ms: int = 0, room_slug: str = "") -> NoReturn:
    """The error a refusal of claim.lua or seat_hold.lua stands for.

    An outcome no branch knows (after a rebuild, "missing" still) is 404: the
    campaign has no gate because there is no such published campaign.
    """
    if outcome == "rate_limited":
        raise RateLimited.after(retry_after_ms)
    if outcome in REJECTIONS:
        raise REJECTIONS[outcome]()
    if outcome == "admission_required":
        if not room_slug:  # seat_hold.lua does not name the room: look it up (the rare answer)
            room = room_for_campaign(campaign_id=campaign_id)
            room_slug = room.slug if room else ""
        raise AdmissionRequired(extra={"room_url": room_url(slug=room_slug)} if room_slug else {})
    if outcome == "choose_seat":
        raise ChooseSeat()
    if outcome == "seat_taken":
        raise SeatTaken()
    if outcome == "already_booked":
        raise AlreadyBooked()
    if outcome == "no_seat":
        raise NoSuchSeat()
    raise CampaignNotFound()


class TransferError(Exception):
    """Raised by a transfer backend."""


class TransientTransferError(TransferError):
    """Worth retrying: a timeout, a 5xx, a lock that did not come."""


class PermanentTransferError(TransferError):
    """Never worth retrying: the grant fails and its slot goes back."""
