"""Domain errors of the partner API, each with a stable code and status."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


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
