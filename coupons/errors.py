"""Domain errors of the coupons app, each with a stable code and status."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


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


class CampaignTermsFrozen(ApplicationError):
    code = "terms_frozen"
    status_code = 409
    default_detail = _("The campaign is published: its terms are read-only.")


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


class TransferError(Exception):
    """Raised by a transfer backend."""


class TransientTransferError(TransferError):
    """Worth retrying: a timeout, a 5xx, a lock that did not come."""


class PermanentTransferError(TransferError):
    """Never worth retrying: the grant fails and its slot goes back."""
