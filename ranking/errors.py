"""Domain errors of the rankings."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


class BoardNotFound(ApplicationError):
    code = "not_found"
    status_code = 404
    default_detail = _("No such board.")


class BadPeriod(ApplicationError):
    code = "invalid"
    status_code = 400
    default_detail = _("period must be 24h, d, w or all, and date YYYY-MM-DD.")


class NotViewable(ApplicationError):
    code = "not_found"
    status_code = 404
    default_detail = _("No drop of that name counts views.")
