"""The fc_me cookie: what the shared pages show a visitor of their own (name, balance, claim per drop).

The shared pages (config/shared_pages.py) are one copy for everybody; their script
(static/js/me.js) fills the visitor's parts from this cookie. Django sets it whenever what it
holds changes through a request of the visitor: log in, log out, and a request of a logged-in
session that created one of their grants (a claim, a seat bought: Grant's post_save, heard
through a context variable for the request's duration); /me/state/ sets it when it is
missing (the script asks once) and while a claim is pending (its delivery changes the balance
in a worker, out of any request). Nothing in it is secret or trusted: the server never reads it.
"""

import base64
import json
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from config.shared_pages import is_shared
from coupons.models import Grant, Wallet

COOKIE = "fc_me"
# The campaigns whose claim state the cookie carries: the latest ones (a cookie stays under ~2 KB).
CLAIMS_KEPT = 20
ANONYMOUS = "0"


def me_state(*, user) -> dict:
    """What the cookie holds for `user`: {"name", "staff", "balance", "claims": {slug: [grant id, slot, status]}}."""
    balance = Wallet.objects.filter(user_id=user.pk).values_list("balance", flat=True).first()
    rows = (
        Grant.objects.filter(user_id=user.pk)
        .order_by("-created_at")
        .values_list("id", "campaign__slug", "slot", "status")[: CLAIMS_KEPT * 2]
    )
    claims: dict[str, list] = {}
    for grant_id, slug, slot, status in rows:
        if slug not in claims and len(claims) < CLAIMS_KEPT:
            claims[slug] = [str(grant_id), slot, status]
    return {"name": user.get_username(), "staff": user.is_staff, "balance": balance or 0, "claims": claims}


def cookie_value(state: dict) -> str:
    """URL-safe base64 of the JSON: no character a cookie must quote."""
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def cookie_set(response: HttpResponse, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=settings.SESSION_COOKIE_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=False,  # the page's script reads it
        samesite="Lax",
    )


def cookie_refresh(request: HttpRequest, response: HttpResponse) -> None:
    user = request.user
    cookie_set(response, cookie_value(me_state(user=user)) if user.is_authenticated else ANONYMOUS)


# The users whose grants this request created (None outside a request: workers, commands).
_grants_created: ContextVar[set[int] | None] = ContextVar("fc_me_grants_created", default=None)


def on_grant_saved(sender, instance: Grant, created: bool, **kwargs) -> None:
    users = _grants_created.get()
    if created and users is not None:
        users.add(instance.user_id)


def on_logged_in(sender, request, user, **kwargs) -> None:
    if request is not None:
        request._fc_me = "set"


def on_logged_out(sender, request, user, **kwargs) -> None:
    if request is not None:
        request._fc_me = "delete"


class MeCookieMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        users: set[int] = set()
        context = _grants_created.set(users)
        try:
            response = self.get_response(request)
        finally:
            _grants_created.reset(context)
        action = getattr(request, "_fc_me", None)
        # a session's request that created the visitor's grant (a bearer token has no session, no cookie)
        if action is None and users and settings.SESSION_COOKIE_NAME in request.COOKIES and not is_shared(request):
            action = "set" if request.user.is_authenticated and request.user.pk in users else None
        if action == "delete":
            response.delete_cookie(COOKIE, samesite="Lax")
        elif action == "set":
            cookie_refresh(request, response)
        return response
