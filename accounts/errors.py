"""Domain errors of the accounts app."""

from config.errors import ApplicationError


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"
    status_code = 401
    default_detail = "Username or password is wrong."
