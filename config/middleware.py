"""Request id and the one log line per request; API bodies checked before any view; store outages as 503;
the security headers."""

import logging
import re
import time
import uuid
from collections.abc import Callable

from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import SimpleLazyObject, empty
from rest_framework.exceptions import ParseError

from config.api.parsers import request_json_check
from config.logging import request_id_var

logger = logging.getLogger("firstcome.request")

# A request id from a trusted proxy is kept if it looks like one; anything else
# is replaced so log lines cannot be forged through the header.
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _user_id(request: HttpRequest) -> str:
    """The user id if authentication already ran; never triggers a query itself."""
    user = request.__dict__.get("user")
    if user is None:
        return "-"
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return "-"
    return str(user.pk) if getattr(user, "is_authenticated", False) else "-"


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.info(
                "%s %s %s %.1fms user=%s",
                request.method,
                request.get_full_path(),
                response.status_code,
                (time.perf_counter() - started) * 1000,
                _user_id(request),
            )
            return response
        finally:
            request_id_var.reset(token)


class StoreUnavailableMiddleware:
    """Pages answer 503 with a friendly page (API views: JSON) when Redis or PostgreSQL is down."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.http import JsonResponse
        from django.template import loader

        from config.api.exceptions import store_of

        store = store_of(exception)
        if store is None:
            return None
        logger.warning("store unavailable on %s: %s: %s", request.path, store, exception)
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"code": "store_unavailable", "detail": f"The {store} is unavailable; try again shortly."}, status=503
            )
        else:
            response = HttpResponse(loader.get_template("503.html").render({"store": store}), status=503)
        response["Retry-After"] = "1"
        return response


class ApiBodyMiddleware:
    """Every API write's JSON body must parse (config/api/parsers.py), whether or not its view reads it.

    A body json.loads cannot handle is answered 400 `parse_error` here, before
    authentication and the view, so no endpoint ever sees it (an endpoint that
    ignores its body would otherwise accept anything, and one that reads it
    would meet RecursionError and the like). The parsed body is kept for the
    view's parser: it is parsed once.
    """

    WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in self.WRITES and request.path.startswith("/api/"):
            try:
                request_json_check(request)
            except ParseError as error:
                return JsonResponse({"code": "parse_error", "detail": str(error.detail)}, status=400)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy (settings.CONTENT_SECURITY_POLICY) and Permissions-Policy on every answer.

    The policy is django-csp's, built once: django-csp's own middleware builds it again
    for every answer (with its report-only twin and a lazy nonce), about 150 µs a
    request on the claim's path, for a policy that never changes (no nonces, no
    per-view overrides). A view that sets its own header keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.headers = {"Content-Security-Policy": build_policy(), "Permissions-Policy": settings.PERMISSIONS_POLICY}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for name, value in self.headers.items():
            response.setdefault(name, value)
        return response
