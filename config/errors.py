"""Base class of every domain error: a stable `code`, an HTTP status and a message."""

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    code = "error"
    status_code = 400
    default_detail = _("The request could not be completed.")

    def __init__(
        self, detail: str | None = None, *, extra: dict | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.detail = detail or self.default_detail
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.detail)


class TokenUnverified(Exception):
    """A script did not find the caller's token generation in Redis (revoked, or not cached there):
    it did nothing, and the caller checks the token the usual way (the lean path, config/api/lean.py).
    Never an answer of its own."""
