"""The pages everyone refreshes at an opening, rendered once for everybody so the proxy can keep them.

The home page, a drop's page and the campaign list (GET, no query string) are rendered as for an
anonymous visitor whatever the session, carry no cookie, no CSRF token and no flash message, and
tell nginx to keep them until the end of the second they were rendered in (X-Accel-Expires).
nginx keys them on the path and the resolved language only (deploy/nginx/shared-page.conf); the
visitor's own parts (name, balance, claim state, the CSRF token) come from cookies the page's
script reads (static/js/me.js, docs/pages.md).
Any query string (`?mine=1`, the link shown when scripts are off) asks for the personal page as before.
"""

import time
from collections.abc import Callable, Hashable
from functools import wraps

from django import template
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import dateformat, timezone
from django.utils.translation import get_language

from config.memo import Memo

# A shared page is kept by the proxy until the end of the second it was rendered in: at most
# this old when served (what the countdown and a claim state may lag by), one render a second.
# nginx counts cache lifetimes in whole seconds: "X-Accel-Expires: 1" would keep a copy up to 2 s
# (valid through the next whole second), "@<this second>" keeps it through this one only.
SHARED_SECONDS = 1
# The query parameter of the personal copy (any query string does; this one is what the pages link).
PERSONAL_PARAMETER = "mine"


class _NoMessages:
    """The flash messages of a shared page: none shown, none consumed (they wait for a personal page)."""

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0

    def update(self, response: HttpResponse) -> None:
        return None


def is_shared(request: HttpRequest) -> bool:
    return getattr(request, "shared_page", False)


def shared_page(view: Callable) -> Callable:
    """Render `view` as one page for everybody when the request can be answered so (GET or HEAD, no query)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD") or request.META.get("QUERY_STRING"):
            return view(request, *args, **kwargs)
        request._unshared = (request.user, getattr(request, "_messages", None))  # type: ignore[attr-defined]
        request.shared_page = True  # type: ignore[attr-defined]
        request.user = AnonymousUser()
        request._messages = _NoMessages()  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def unshare(request: HttpRequest) -> None:
    """The view found this answer personal after all (a drop's page that is a seat map): render it as before."""
    if is_shared(request):
        request.shared_page = False  # type: ignore[attr-defined]
        request.user, request._messages = request._unshared  # type: ignore[attr-defined]


def context(request: HttpRequest) -> dict:
    """Template context: `shared_page`, and no CSRF token on a shared page (an empty one renders nothing;
    the script puts the visitor's own token from the csrftoken cookie into the forms)."""
    if is_shared(request):
        return {"shared_page": True, "csrf_token": "", "personal_parameter": PERSONAL_PARAMETER}
    return {"shared_page": False}


class SharedPageMiddleware:
    """Last word on a shared page's headers (outside every middleware that may add a cookie or a Vary):
    no Set-Cookie ever, Vary on the language only, one second in the proxy, none in the browser."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_shared(request):
            return response
        response.cookies.clear()
        response.headers.pop("Set-Cookie", None)
        response["Vary"] = "Accept-Language"
        now_ms = int(time.time() * 1000)
        # The render's moment (a cached copy carries it; nginx adds the moment it serves the copy).
        response["X-Server-Time"] = str(now_ms)
        response["Server-Timing"] = f'clock;desc="{now_ms / 1000:.3f}"'
        if response.status_code == 200:
            # Browsers ask again each time (nginx answers from its copy); nginx keeps it through this second.
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Expires"] = f"@{now_ms // 1000 + SHARED_SECONDS - 1}"
        else:
            response["Cache-Control"] = "no-store"
            response["X-Accel-Expires"] = "0"
        return response


# --- one render per content -----------------------------------------------------------------

# The shared pages this process rendered (a page, language and content each, ~10 kB): the drops
# being refreshed, in both languages, with room to spare.
_renders = Memo(256)
# What the template shows as `rendered_at` while it renders; each answer puts its own moment there.
_MOMENT = "\x00rendered-at\x00"


def shared_render(request: HttpRequest, template_name: str, context: dict, *, content: Hashable) -> HttpResponse:
    """render() that, for a shared page, renders each content once per process and language.

    `content` is every datum of the view's that the page shows (the rows' fields, the stock): a shared
    page is otherwise a function of the template, the path, the language and the time zone only (an
    anonymous visitor, no flash message, no CSRF token), so a copy kept under that key is the page
    a render would give, and cannot go stale. `rendered_at` (the render's moment, "U.u") is each
    answer's own."""
    moment = dateformat.format(timezone.now(), "U.u")
    if not is_shared(request):
        return render(request, template_name, {**context, "rendered_at": moment})
    key = (template_name, request.path, get_language(), timezone.get_current_timezone_name(), content)
    parts = _renders.get(
        key, lambda: render_to_string(template_name, {**context, "rendered_at": _MOMENT}, request).split(_MOMENT)
    )
    return HttpResponse(moment.join(parts))


# --- the parts of a page that did not change ---------------------------------------------------

register = template.Library()
# The fragments of shared pages this process rendered (~1 kB each): a page's shell and each drop's
# card, by language; at an opening one drop's stock moves and only its part is rendered again.
_fragments = Memo(4096)


class SharedFragmentNode(template.Node):
    def __init__(self, nodelist: template.NodeList, vary: list[template.base.FilterExpression]) -> None:
        self.nodelist = nodelist
        self.vary = vary

    def render(self, context: template.Context) -> str:
        if not context.get("shared_page"):
            return self.nodelist.render(context)
        request = context.get("request")
        key = (
            self,  # this place in this template (kept alive by the key: never another's)
            get_language(),
            timezone.get_current_timezone_name(),
            request.path if request is not None else None,
            *(expression.resolve(context) for expression in self.vary),
        )
        return _fragments.get(key, lambda: self.nodelist.render(context))


@register.tag
def shared_fragment(parser: template.base.Parser, token: template.base.Token) -> SharedFragmentNode:
    """`{% shared_fragment value... %}...{% endshared_fragment %}`: on a shared page, the part is rendered
    once per process for its place, the language, the time zone, the path and the values given, which
    must be everything it shows besides those (the memo's key, config/memo.py); elsewhere it renders
    each time. A part that shows `rendered_at` gets the render's placeholder (shared_render)."""
    vary = [parser.compile_filter(bit) for bit in token.split_contents()[1:]]
    nodelist = parser.parse(("endshared_fragment",))
    parser.delete_first_token()
    return SharedFragmentNode(nodelist, vary)
