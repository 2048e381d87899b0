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

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, get_urlconf, resolve
from django.utils.module_loading import import_string
from django.utils.translation import get_language
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


def _refusal(exc: ApplicationError) -> bytes:
    """The JSON renderer's bytes for a refusal's body (its code, detail and extras)."""
    kind = type(exc)
    if exc.detail is kind.default_detail and exc.code == kind.code and not exc.extra:  # sold_out, ...: by kind
        return _refusal_by_kind(kind, get_language())
    body = {"code": exc.code, "detail": str(exc.detail), **exc.extra}
    try:  # each value with its type: 1, 1.0 and True are equal keys but render apart
        return _refusal_rendered(tuple((name, type(value), value) for name, value in body.items()))
    except TypeError:  # an extra that is a list or a dict: rendered each time
        return _renderer.render(body)


# The refusals a drop answers most (sold_out, closed, ...) are the same few bodies in each language.
@functools.lru_cache(maxsize=1024)
def _refusal_rendered(items: tuple) -> bytes:
    return _renderer.render({name: value for name, _, value in items})


@functools.lru_cache(maxsize=1024)
def _refusal_by_kind(kind: type[ApplicationError], language: str | None) -> bytes:
    return _renderer.render({"code": kind.code, "detail": str(kind.default_detail)})


def error_response(exc: Exception, *, allow: str, authenticated: object) -> HttpResponse:
    """What the API's error handler answers for `exc` (re-raised when it has no answer: Django's 500).

    `authenticated` stands for the request in the handler's eyes: its `user`, `auth` and
    `_authenticator`, so a 5xx for a token revoked meanwhile is a 401 here too."""
    if isinstance(exc, ApplicationError) and exc.status_code < 500:  # the common refusals, without the detour
        response = HttpResponse(_refusal(exc), status=exc.status_code, content_type="application/json")
        response["Allow"] = allow
        response["Vary"] = "Accept"
        for name, value in exc.headers.items():
            response[name] = value
        return response
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
        # LeanMiddleware already asked the lean function and it declined: not twice
        response = None if getattr(request, "lean_declined", False) else view.lean(request, *args, **kwargs)
        return drf_view(request, *args, **kwargs) if response is None else response

    functools.update_wrapper(view, drf_view)
    view.lean = lean  # read at each call: the tests swap it to ask the DRF view (tests/config/test_lean.py)
    return view


def allowed_methods(view_class: type) -> str:
    """The Allow header DRF sends for an APIView class (HEAD included where GET is, as Django's setup adds it)."""
    view = view_class()
    view.setup(HttpRequest())
    return ", ".join(view.allowed_methods)


# The middleware after LeanMiddleware in settings.MIDDLEWARE that a lean request skips, and why each
# has nothing to do on it. Any other (one added later included) runs in the lean chain too.
LEAN_SKIPPED = {
    "config.shared_pages.SharedPageMiddleware": "acts on the shared pages only",
    "whitenoise.middleware.WhiteNoiseMiddleware": "serves /static/ only",
    "django.contrib.sessions.middleware.SessionMiddleware": "no session cookie is sent (checked) and none is made",
    "config.middleware.ApiBodyMiddleware": "a lean function takes no body ({} at most), which always parses",
    "django.middleware.csrf.CsrfViewMiddleware": "the API views are csrf_exempt and the request sends no cookie",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "the lean function sets request.user from the token",
    "django.contrib.messages.middleware.MessageMiddleware": "the API adds and shows no flash message",
    "coupons.me.MeCookieMiddleware": "refreshes the fc_me cookie of a session's request only",
}


class _Declined(HttpResponse):
    """What the lean chain's view returns when the lean function declined (the whole chain then answers)."""


class LeanMiddleware:
    """A bearer token's request to a lean route (`lean_dispatch`) without a session cookie: its lean
    function is run in a chain of only the middleware that acts on such a request (the same classes,
    in the same order, so the answer's headers are theirs); when the function declines, the request
    goes on through the whole chain to the DRF view. Placed right after RequestLogMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        after = settings.MIDDLEWARE[settings.MIDDLEWARE.index(f"{__name__}.{type(self).__name__}") + 1 :]
        self.view_hooks: list[Callable] = []
        self.exception_hooks: list[Callable] = []
        handler = convert_exception_to_response(self._view)
        for path in reversed([path for path in after if path not in LEAN_SKIPPED]):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_view"):
                self.view_hooks.insert(0, instance.process_view)
            if hasattr(instance, "process_exception"):
                self.exception_hooks.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self.lean_chain = handler

    @staticmethod
    def lean_match(request: HttpRequest) -> ResolverMatch | None:
        """The route's match when the request may go the lean way, else None."""
        if not request.META.get("HTTP_AUTHORIZATION", "").startswith("Bearer ") or not request.path.startswith("/api/"):
            return None
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            return None  # a session's request: its cookies, CSRF and fc_me are the whole chain's business
        return _lean_route(get_urlconf(), request.path_info)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = self.lean_match(request)
        if match is None:
            return self.get_response(request)
        request.resolver_match = match
        response = self.lean_chain(request)
        if isinstance(response, _Declined):
            request.lean_declined = True  # type: ignore[attr-defined]
            return self.get_response(request)
        return response

    def _view(self, request: HttpRequest) -> HttpResponse:
        """The lean chain's view: as Django's handler calls a view (view and exception hooks), the lean function."""
        match = request.resolver_match
        for hook in self.view_hooks:
            if (response := hook(request, match.func, match.args, match.kwargs)) is not None:
                return response
        try:
            response = match.func.lean(request, *match.args, **match.kwargs)
        except Exception as error:
            for hook in self.exception_hooks:
                if (answer := hook(request, error)) is not None:
                    return answer
            raise
        return _Declined() if response is None else response


@functools.lru_cache(maxsize=4096)
def _lean_route(urlconf: str | None, path_info: str) -> ResolverMatch | None:
    """A path's match if its view has a lean function, remembered: a drop's claims and polls name the same
    few paths, which sit deep in the API's includes (resolving the status poll's tries ~17 patterns)."""
    try:
        match = resolve(path_info, urlconf)
    except Resolver404:
        return None
    return match if hasattr(match.func, "lean") else None
