"""The lean path: the claim and the status poll answered by plain Django functions, DRF's answers byte for byte.

A drop's traffic is mostly two requests (the sold-out claim and the waiting
room's status poll); DRF's request wrapping, negotiation, authentication
classes and renderer cost them as much as their own work. `lean_dispatch`
puts a plain function before the DRF view of such a route: the function
answers the common case (a bearer token, JSON accepted, no body to validate)
by calling the same services, and returns None for anything else, which the
DRF view then answers. The DRF view stays the route's schema source (the
dispatcher carries its `cls`) and its reference: tests/config/test_lean.py
asks both for every case and compares status, body and headers.
"""

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer

from config.api.exceptions import api_exception_handler
from config.errors import ApplicationError

# What a DRF view answers with JSON for (its negotiation; "format" in the query chooses a renderer).
_JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})

_renderer = JSONRenderer()

LeanView = Callable[..., HttpResponse | None]


def accepts_json(request: HttpRequest) -> bool:
    """Whether DRF would answer this request with its JSON renderer, unindented."""
    return request.META.get("HTTP_ACCEPT", "") in _JSON_ACCEPTS and "format" not in request.GET


def json_response(data: Any, *, status: int, allow: str, headers: dict[str, str] | None = None) -> HttpResponse:
    """An answer as DRF's Response gives it: JSONRenderer's bytes, its content type, Allow and Vary."""
    response = HttpResponse(_renderer.render(data), status=status, content_type="application/json")
    response["Allow"] = allow
    response["Vary"] = "Accept"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(exc: Exception, *, allow: str, authenticated: object) -> HttpResponse:
    """What the API's error handler answers for `exc` (re-raised when it has no answer: Django's 500).

    `authenticated` stands for the request in the handler's eyes: its `user`, `auth` and
    `_authenticator`, so a 5xx for a token revoked meanwhile is a 401 here too."""
    if isinstance(exc, ApplicationError) and exc.status_code < 500:  # the common refusals, without the detour
        body = {"code": exc.code, "detail": exc.detail, **exc.extra}
        return json_response(body, status=exc.status_code, allow=allow, headers=exc.headers)
    answer = api_exception_handler(exc, {"request": authenticated, "view": None})
    if answer is None:
        raise exc
    headers = {name: value for name, value in answer.items() if name != "Content-Type"}  # DRF's is set on rendering
    return json_response(answer.data, status=answer.status_code, allow=allow, headers=headers)


def lean_dispatch(drf_view: Callable[..., HttpResponse], lean: LeanView) -> Callable[..., HttpResponse]:
    """A view that tries `lean` and falls back to `drf_view` when it returns None.

    It carries the DRF view's attributes (`cls`, `initkwargs`, `csrf_exempt`), so the
    schema generator and the CSRF middleware see the DRF view."""

    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view.lean(request, *args, **kwargs)
        return drf_view(request, *args, **kwargs) if response is None else response

    functools.update_wrapper(view, drf_view)
    view.lean = lean  # read at each call: the tests swap it to ask the DRF view (tests/config/test_lean.py)
    return view


def allowed_methods(view_class: type) -> str:
    """The Allow header DRF sends for an APIView class (HEAD included where GET is, as Django's setup adds it)."""
    view = view_class()
    view.setup(HttpRequest())
    return ", ".join(view.allowed_methods)
