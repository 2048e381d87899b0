"""Domain errors of the accounts app."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"
    status_code = 401
    default_detail = _("Username or password is wrong.")


class TokenRevoked(ApplicationError):
    """The credentials' user is gone (deleted between authentication and the action)."""

    code = "token_revoked"
    status_code = 401
    default_detail = _("This token has been revoked.")
