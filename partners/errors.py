"""Domain errors of the partner API, each with a stable code and status."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from waitingroom.errors import PassInvalid


class TermsFrozen(ApplicationError):
    code = "terms_frozen"
    status_code = 409
    default_detail = _("A published campaign's terms cannot change: register a new campaign instead.")


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency_key_reused"
    status_code = 422
    default_detail = _("This Idempotency-Key was already used with a different request body.")


class SlugTaken(ApplicationError):
    code = "slug_taken"
    status_code = 409
    default_detail = _("A campaign with this slug exists already; choose another slug.")


class CreateInProgress(ApplicationError):
    """The first request with this Idempotency-Key has not finished (a rolled-back one leaves nothing)."""

    code = "create_in_progress"
    status_code = 409
    default_detail = _("A request with this Idempotency-Key is still being processed; retry shortly.")


class ReturnUrlRequired(ApplicationError):
    code = "return_url_required"
    status_code = 400
    default_detail = _(
        "Give the room a return_url (or ask staff to register your return URL): admitted visitors go back there."
    )


class TokenRefused(ApplicationError):
    """A room token that cannot be trusted; the instance's code says why (token_invalid, token_expired,
    token_wrong_partner, token_wrong_room)."""

    code = "token_invalid"
    status_code = 403
    default_detail = _("This room token is not valid.")

    @classmethod
    def because(cls, code: str, detail: str) -> "TokenRefused":
        error = cls(detail)
        error.code = code
        return error


class VisitorUnknown(ApplicationError):
    code = "visitor_unknown"
    status_code = 403
    default_detail = _("This page does not know you: come back through the site that sent you here.")


class PassRefused(PassInvalid):
    """A partner's pass refused before it is used (nothing spent, nothing changed); the instance's code
    says why: pass_invalid, pass_expired, pass_wrong_partner, pass_wrong_room, pass_wrong_client."""

    @classmethod
    def because(cls, code: str, detail: str) -> "PassRefused":
        error = cls(detail)
        error.code = code
        return error
