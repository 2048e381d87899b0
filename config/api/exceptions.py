"""Every API error answers JSON {"code": ..., "detail": ...} with the right status."""

import logging

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, DataError, InterfaceError, InternalError, OperationalError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ApplicationError

logger = logging.getLogger(__name__)

# Store outages map to 503: the client did nothing wrong and may retry. Any
# Redis error counts (down, read-only replica after a failover, out of memory
# under noeviction); so do lost or read-only database connections.
STORE_ERRORS: dict[type[Exception], str] = {
    ConnectionInterrupted: "redis",  # django-redis wraps redis errors in this
    RedisError: "redis",
    OperationalError: "database",
    InterfaceError: "database",
    InternalError: "database",
}
UNAVAILABLE = {
    "redis": _("The gate (Redis) is unavailable; try again shortly."),
    "database": _("The database is unavailable; try again shortly."),
}


def store_of(exc: BaseException) -> str | None:
    """Which store an exception says is unavailable, if any."""
    for error_class, store in STORE_ERRORS.items():
        if isinstance(exc, error_class):
            return store
    return None


def store_unavailable_response(store: str) -> Response:
    return Response(
        {"code": "store_unavailable", "detail": UNAVAILABLE[store]},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


def _first_message(detail) -> str:
    """A readable one-line message out of DRF's nested error details."""
    if isinstance(detail, dict):
        if "detail" in detail:
            return _first_message(detail["detail"])
        field, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


def _code_of(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and isinstance(codes.get("code"), str):
        return codes["code"]  # simplejwt puts its own code beside the detail
    return exc.default_code


def _revoked_meanwhile(context: dict) -> bool:
    """Whether the request's credentials were revoked while it ran (e.g. its user deleted between
    authentication and the INSERT that then failed): its authenticator says, if it can tell."""
    request = context.get("request")
    authenticator = getattr(request, "_authenticator", None)  # the attribute: never authenticate again here
    revoked_since = getattr(authenticator, "revoked_since", None)
    if revoked_since is None:
        return False
    try:
        return revoked_since(request)
    except Exception:  # noqa: BLE001 - the store is down too: the original answer stands
        return False


def _revoked_response() -> Response:
    detail = exceptions.AuthenticationFailed(
        _("This token has been revoked: get a new one on the API token page, /accounts/token/."), code="token_revoked"
    ).detail
    return Response({"code": "token_revoked", "detail": str(detail)}, status=status.HTTP_401_UNAUTHORIZED)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    # A 5xx for a request whose token was revoked while it ran is the revocation's fault,
    # not the server's: a deleted user hears 401 token_revoked, never 500 or 503.
    response = _api_exception_response(exc, context)
    if (response is None or response.status_code >= 500) and _revoked_meanwhile(context):
        return _revoked_response()
    return response


def _api_exception_response(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(
            {"code": exc.code, "detail": exc.detail, **exc.extra}, status=exc.status_code, headers=exc.headers
        )
    store = store_of(exc)
    if store is not None:
        logger.warning("store unavailable: %s: %s", store, exc)
        return store_unavailable_response(store)
    if isinstance(exc, DataError):  # values PostgreSQL cannot store (NUL bytes, out of range): the client's input
        exc = exceptions.ValidationError("A value in the request cannot be stored or looked up.")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            logger.exception("database error in API view")
        return None  # a real bug: Django's 500 handler answers in JSON for /api/
    assert isinstance(exc, exceptions.APIException)
    body = {"code": _code_of(exc), "detail": _first_message(exc.detail)}
    if isinstance(exc, exceptions.ValidationError):
        body["errors"] = exc.detail
    response.data = body
    return response
