"""The authorization matrix: every URL pattern × anonymous, owner, another user, staff, viewer, superuser.

Every pattern the resolver knows needs an entry here (a new endpoint without
one fails `test_every_url_pattern_is_in_the_matrix`). For each actor the test
asserts the status of a read (GET) and a write (POST), that a refused or
foreign request changed no row of any table and no Redis key of a campaign,
room or board, and that nobody but the owner ever sees the owner's grant,
coupon, access pass or seat hold. The owner's objects are invisible to others:
404, not 403, so their existence does not leak.

Actors: `staff` has is_staff and no permission, `viewer` is staff with every
view permission only, `superuser` has them all. API endpoints are called with
each actor's bearer token, pages with a session.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.models import F
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from accounts.models import User
from coupons.models import Campaign, Wallet
from tests.config.world import World, build_world
from waitingroom.models import WaitingRoom

pytestmark = pytest.mark.django_db

ANONYMOUS, OTHER, STAFF, VIEWER, SUPERUSER, OWNER = "anonymous", "other", "staff", "viewer", "superuser", "owner"
# Refusals first and the owner last: a write that may change something runs after the ones that must not.
ACTORS = (ANONYMOUS, OTHER, STAFF, VIEWER, SUPERUSER, OWNER)
SIGNED_IN = frozenset(ACTORS) - {ANONYMOUS}
NON_STAFF = frozenset({ANONYMOUS, OTHER, OWNER})


def each(default: int, **per_actor: int) -> dict[str, int]:
    """Expected status per actor: `default`, except where named."""
    return {actor: per_actor.get(actor, default) for actor in ACTORS}


def authenticated(status: int, **per_actor: int) -> dict[str, int]:
    """An API endpoint for signed-in users: anonymous gets 401."""
    return each(status, anonymous=401, **per_actor)


def login_required(status: int, **per_actor: int) -> dict[str, int]:
    """A page for signed-in users: anonymous is sent to the login page."""
    return each(status, anonymous=302, **per_actor)


@dataclass(frozen=True)
class Endpoint:
    path: Callable[[World], str]
    get: dict[str, int]
    post: dict[str, int]
    api: bool = True  # bearer token; False: a session, as a browser
    body: Callable[[World], dict] = lambda world: {}
    may_change: dict[str, frozenset] = field(default_factory=dict)  # method -> actors whose request may change state


def writes(*actors: str) -> dict[str, frozenset]:
    return {"POST": frozenset(actors)}


def dashboard_action(path: Callable[[World], str]) -> Endpoint:
    """A dashboard action: POST only, staff with the change permission (the superuser here)."""
    return Endpoint(
        path,
        each(405, **dict.fromkeys(NON_STAFF, 302)),
        each(403, superuser=302, **dict.fromkeys(NON_STAFF, 302)),
        api=False,
        may_change=writes(SUPERUSER),
    )


ENDPOINTS: dict[str, Endpoint] = {
    # --- API: public reads ---------------------------------------------------
    "api-campaign-list": Endpoint(lambda w: "/api/v1/campaigns/", each(200), each(405)),
    "api-campaign-detail": Endpoint(lambda w: f"/api/v1/campaigns/{w.campaign.slug}/", each(200), each(405)),
    "api-seat-map": Endpoint(lambda w: f"/api/v1/campaigns/{w.seat_campaign.slug}/seats/", each(200), each(405)),
    "api-board-list": Endpoint(lambda w: "/api/v1/rankings/", each(200), each(405)),
    "api-board-top": Endpoint(lambda w: f"/api/v1/rankings/{w.board.slug}/", each(200), each(405)),
    "api-board-member": Endpoint(
        lambda w: f"/api/v1/rankings/{w.board.slug}/members/{w.board_member}/", each(200), each(405)
    ),
    # the drop page's view beacon: public, reads no session or token (docs/ranking.md, "Most viewed")
    "api-view-beacon": Endpoint(
        lambda w: "/api/v1/views/",
        each(405),
        each(202),
        body=lambda w: {"campaign": w.campaign.slug, "visitor": "visitor-0001"},
        may_change={"POST": frozenset(ACTORS)},
    ),
    "schema": Endpoint(lambda w: "/api/v1/schema/", each(200), each(405)),
    "api-docs": Endpoint(lambda w: "/api/v1/docs/", each(200), each(405)),
    "api-redoc": Endpoint(lambda w: "/api/v1/redoc/", each(200), each(405)),
    # --- API: a user's own things ------------------------------------------------
    "api-campaign-claim": Endpoint(
        lambda w: f"/api/v1/campaigns/{w.campaign.slug}/claims/",
        authenticated(405),
        authenticated(202, owner=200),  # the owner already holds a grant: the same one again
        may_change=writes(OTHER, STAFF, VIEWER, SUPERUSER),
    ),
    "api-seat-hold": Endpoint(
        lambda w: f"/api/v1/campaigns/{w.seat_campaign.slug}/seats/{w.seat.label}/hold/",
        authenticated(405),
        authenticated(409, owner=200),  # the others cannot pay (insufficient_funds); seat_taken: the owner holds it
        may_change=writes(OWNER),
    ),
    "api-seat-confirm": Endpoint(
        lambda w: f"/api/v1/campaigns/{w.seat_campaign.slug}/seats/{w.seat.label}/confirm/",
        authenticated(405),
        authenticated(409, owner=201),  # hold_expired for anyone but the holder; the owner buys the seat
        body=lambda w: {"token": w.hold.token},
        may_change=writes(OWNER),
    ),
    "api-seat-release": Endpoint(
        lambda w: f"/api/v1/campaigns/{w.seat_campaign.slug}/seats/{w.seat.label}/release/",
        authenticated(405),
        authenticated(204),  # idempotent for everyone; only the holder's token releases anything
        body=lambda w: {"token": w.hold.token},
        may_change=writes(OWNER),
    ),
    "api-grant-list": Endpoint(lambda w: "/api/v1/grants/", authenticated(200), authenticated(405)),
    "api-grant-detail": Endpoint(
        lambda w: f"/api/v1/grants/{w.grant.pk}/", authenticated(404, owner=200), authenticated(405)
    ),
    "api-wallet": Endpoint(lambda w: "/api/v1/wallet/", authenticated(200), authenticated(405)),
    "api-coupon-list": Endpoint(lambda w: "/api/v1/coupons/", authenticated(200), authenticated(405)),
    "api-coupon-redeem": Endpoint(
        lambda w: f"/api/v1/coupons/{w.coupon.code}/redeem/",
        authenticated(405),
        authenticated(404, owner=200),
        may_change=writes(OWNER),
    ),
    "api-token-create": Endpoint(lambda w: "/api/v1/auth/token/", each(405), each(400)),  # credentials, not a token
    "api-token-revoke": Endpoint(
        lambda w: "/api/v1/auth/token/revoke/", authenticated(405), authenticated(204), may_change=writes(*SIGNED_IN)
    ),
    "api-me": Endpoint(lambda w: "/api/v1/me/", authenticated(200), authenticated(405)),
    "api-room-join": Endpoint(
        lambda w: f"/api/v1/rooms/{w.room.slug}/join/",
        authenticated(405),
        authenticated(200),
        may_change=writes(*SIGNED_IN),
    ),
    "api-room-status": Endpoint(
        lambda w: f"/api/v1/rooms/{w.room.slug}/status/",
        authenticated(200),
        authenticated(405),
        may_change={"GET": frozenset({OWNER})},  # the owner's poll is their heartbeat
    ),
    "api-room-line": Endpoint(lambda w: f"/api/v1/rooms/{w.room.slug}/line/", each(200), each(405)),  # public
    "api-room-leave": Endpoint(
        lambda w: f"/api/v1/rooms/{w.room.slug}/leave/",
        authenticated(405),
        authenticated(204),
        may_change=writes(OWNER),
    ),
    # Staff only, and only with a session: bearer tokens carry no staff flag, so a
    # demoted staff member's outstanding tokens never held the privilege.
    "api-room-stats": Endpoint(
        lambda w: f"/api/v1/rooms/{w.room.slug}/stats/",
        authenticated(403, staff=200, viewer=200, superuser=200),
        authenticated(403, staff=405, viewer=405, superuser=405),
        api=False,
    ),
    # --- partner API: an API key only; every user's token or session is 401 (tests/partners: the keys) ---
    **{
        name: Endpoint(path, each(401), each(401))
        for name, path in {
            "api-partner-campaign-list": lambda w: "/api/v1/partner/campaigns/",
            "api-partner-campaign-detail": lambda w: f"/api/v1/partner/campaigns/{w.campaign.slug}/",
            "api-partner-campaign-publish": lambda w: f"/api/v1/partner/campaigns/{w.draft.slug}/publish/",
            "api-partner-campaign-close": lambda w: f"/api/v1/partner/campaigns/{w.campaign.slug}/close/",
            "api-partner-campaign-cancel": lambda w: f"/api/v1/partner/campaigns/{w.campaign.slug}/cancel/",
            "api-partner-claim": lambda w: f"/api/v1/partner/campaigns/{w.campaign.slug}/claims/",
            "api-partner-grant-detail": lambda w: f"/api/v1/partner/grants/{w.grant.pk}/",
            "api-partner-room": lambda w: f"/api/v1/partner/campaigns/{w.campaign.slug}/room/",
        }.items()
    },
    # A partner's visitors enter with the partner's signed token, not an account: no session reaches a
    # room that is not the partner's (tests/partners/test_visitors.py: the tokens and the cookie).
    "partner-visitor-room": Endpoint(
        lambda w: f"/partners/{w.partner.namespace}/rooms/{w.room.slug}/", each(404), each(405), api=False
    ),
    # --- pages -------------------------------------------------------------------
    "home": Endpoint(lambda w: "/", each(200), each(200), api=False),
    "campaign-detail": Endpoint(lambda w: f"/campaigns/{w.campaign.slug}/", each(200), each(200), api=False),
    "campaign-claim": Endpoint(
        lambda w: f"/campaigns/{w.campaign.slug}/claim/",
        login_required(405),
        login_required(302),
        api=False,
        may_change=writes(OTHER, STAFF, VIEWER, SUPERUSER),
    ),
    "my-grants": Endpoint(lambda w: "/me/", login_required(200), login_required(200), api=False),
    # the shared pages' script asks for the fc_me cookie here when it is missing (docs/pages.md)
    "me-state": Endpoint(lambda w: "/me/state/", each(200), each(405), api=False),
    "room-detail": Endpoint(  # anonymous: the page explains the line and asks to log in
        lambda w: f"/rooms/{w.room.slug}/",
        each(200),
        each(200),
        api=False,
        may_change={"GET": frozenset({OWNER}), "POST": frozenset({OWNER})},  # the owner's heartbeat
    ),
    "room-join": Endpoint(
        lambda w: f"/rooms/{w.room.slug}/join/",
        login_required(405),
        login_required(302),
        api=False,
        may_change=writes(*SIGNED_IN),
    ),
    "room-leave": Endpoint(
        lambda w: f"/rooms/{w.room.slug}/leave/",
        login_required(405),
        login_required(302),
        api=False,
        may_change=writes(OWNER),
    ),
    "rankings": Endpoint(lambda w: "/rankings/", each(200), each(200), api=False),
    # the language switcher only sets a cookie on the browser (no state of ours changes)
    "set_language": Endpoint(lambda w: "/i18n/setlang/", each(302), each(302), api=False),
    "javascript-catalog": Endpoint(lambda w: "/jsi18n/", each(200), each(405), api=False),
    # operators: Prometheus with its token (tests/operations/test_dashboard.py), or staff who may view campaigns
    "metrics": Endpoint(
        lambda w: "/metrics", each(200, anonymous=401, other=403, owner=403, staff=403), each(405), api=False
    ),
    # the live dashboard: staff who may view campaigns; its actions need the change permission
    "dashboard": Endpoint(
        lambda w: "/admin/dashboard/",
        each(200, staff=403, **dict.fromkeys(NON_STAFF, 302)),
        each(405, **dict.fromkeys(NON_STAFF, 302)),
        api=False,
    ),
    "dashboard-live": Endpoint(
        lambda w: f"/admin/dashboard/campaigns/{w.campaign.pk}/live/",
        each(200, staff=403, **dict.fromkeys(NON_STAFF, 302)),
        each(405, **dict.fromkeys(NON_STAFF, 302)),
        api=False,
    ),
    "dashboard-campaign-action": dashboard_action(lambda w: f"/admin/dashboard/campaigns/{w.campaign.pk}/reconcile/"),
    "dashboard-room-action": dashboard_action(lambda w: f"/admin/dashboard/rooms/{w.room.pk}/pause/"),
    "healthz": Endpoint(lambda w: "/healthz", each(200), each(405), api=False),
    "readyz": Endpoint(lambda w: "/readyz", each(200), each(405), api=False),
    "login": Endpoint(lambda w: "/accounts/login/", each(302, anonymous=200), each(302, anonymous=200), api=False),
    "logout": Endpoint(lambda w: "/accounts/logout/", each(405), each(302), api=False),
    "signup": Endpoint(lambda w: "/accounts/signup/", each(302, anonymous=200), each(302, anonymous=200), api=False),
    "api-token": Endpoint(
        lambda w: "/accounts/token/", login_required(200), login_required(200), api=False, may_change=writes(*SIGNED_IN)
    ),
}


@dataclass(frozen=True)
class AdminCaps:
    """What the superuser may do with a model in the admin (every staff member may at most view)."""

    add: bool
    change: bool
    delete: bool
    change_saves: bool = False  # a POST of no fields is valid (every field is read-only)


EDITABLE = AdminCaps(add=True, change=True, delete=True)
READ_ONLY = AdminCaps(add=False, change=False, delete=False)
ADMIN_MODELS: dict[str, tuple[AdminCaps, Callable[[World], object]]] = {
    "auth.group": (EDITABLE, lambda w: w.viewer.groups.first()),
    "accounts.user": (EDITABLE, lambda w: w.owner),
    "coupons.campaign": (EDITABLE, lambda w: w.draft),  # a draft: only drafts may be deleted
    "coupons.grant": (READ_ONLY, lambda w: w.grant),
    "coupons.wallet": (READ_ONLY, lambda w: w.wallet),
    "coupons.ledgerentry": (READ_ONLY, lambda w: w.ledger_entry),
    "coupons.coupon": (READ_ONLY, lambda w: w.coupon),
    "coupons.seat": (AdminCaps(add=False, change=True, delete=False, change_saves=True), lambda w: w.seat),
    "coupons.externalclient": (READ_ONLY, lambda w: w.external_client),
    "partners.partner": (EDITABLE, lambda w: w.partner),
    "partners.partnerapikey": (AdminCaps(add=True, change=True, delete=False), lambda w: w.partner_key),
    "partners.webhookdelivery": (READ_ONLY, lambda w: w.webhook_delivery),
    "waitingroom.waitingroom": (EDITABLE, lambda w: w.room),
    "ranking.board": (EDITABLE, lambda w: w.board),
    "ranking.boardsnapshot": (AdminCaps(add=False, change=False, delete=True), lambda w: w.snapshot),
}


def admin_site_endpoint(name: str, route: str) -> Endpoint | None:
    """The admin's own pages (not a model's)."""
    staff_only = {"GET": each(200, **dict.fromkeys(NON_STAFF, 302)), "POST": each(200, **dict.fromkeys(NON_STAFF, 302))}
    site = {
        "admin:index": Endpoint(lambda w: "/admin/", staff_only["GET"], staff_only["POST"], api=False),
        "admin:login": Endpoint(
            lambda w: "/admin/login/", each(200, staff=302, viewer=302, superuser=302), each(200), api=False
        ),
        "admin:logout": Endpoint(
            lambda w: "/admin/logout/", each(405, **dict.fromkeys(NON_STAFF, 302)), each(302), api=False
        ),
        "admin:password_change": Endpoint(
            lambda w: "/admin/password_change/", staff_only["GET"], staff_only["POST"], api=False
        ),
        "admin:password_change_done": Endpoint(
            lambda w: "/admin/password_change/done/",
            staff_only["GET"],
            each(405, **dict.fromkeys(NON_STAFF, 302)),
            api=False,
        ),
        "admin:autocomplete": Endpoint(
            lambda w: "/admin/autocomplete/",
            each(403, **dict.fromkeys(NON_STAFF, 302)),  # no model named: refused even for staff
            each(405, **dict.fromkeys(NON_STAFF, 302)),
            api=False,
        ),
        "admin:jsi18n": Endpoint(
            lambda w: "/admin/jsi18n/", staff_only["GET"], each(405, **dict.fromkeys(NON_STAFF, 302)), api=False
        ),
        "admin:view_on_site": Endpoint(
            lambda w: f"/admin/r/{ContentType.objects.get_for_model(Campaign).pk}/{w.campaign.pk}/",
            each(404, **dict.fromkeys(NON_STAFF, 302)),  # no model has a public page to send staff to
            each(404, **dict.fromkeys(NON_STAFF, 302)),
            api=False,
        ),
        "admin:app_list": Endpoint(
            lambda w: "/admin/coupons/",
            each(200, staff=404, **dict.fromkeys(NON_STAFF, 302)),
            each(200, staff=404, **dict.fromkeys(NON_STAFF, 302)),
            api=False,
        ),
    }
    if name in site:
        return site[name]
    if route == "admin/(?P<url>.*)$":
        return Endpoint(
            lambda w: "/admin/no/such/page/",
            each(404, **dict.fromkeys(NON_STAFF, 302)),
            each(404, **dict.fromkeys(NON_STAFF, 302)),
            api=False,
        )
    return None


def admin_model_endpoint(name: str, route: str) -> Endpoint | None:
    """A model's changelist, add, change, history, delete and password pages, for the caps in ADMIN_MODELS."""
    match = re.match(r"^admin/(\w+)/(\w+)/", route)
    if match is None:
        return None
    label = apps.get_model(match[1], match[2])._meta.label_lower
    assert label in ADMIN_MODELS, f"{label} is in the admin but not in ADMIN_MODELS"
    caps, target = ADMIN_MODELS[label]
    view = name.rsplit("_", 1)[-1] if name != "admin:-" else "redirect"

    def path(world: World) -> str:
        return "/" + re.sub(r"<(?:\w+:)?(object_)?id>", str(target(world).pk), route)

    def statuses(superuser: int, viewer: int) -> dict[str, int]:
        return each(403, superuser=superuser, viewer=viewer, **dict.fromkeys(NON_STAFF, 302))

    def allowed(flag: bool, status: int = 200) -> int:
        return status if flag else 403

    read = {"changelist": 200, "change": 200, "history": 200, "redirect": 302}
    if name == "admin:auth_user_password_change":
        get, post = statuses(200, 403), statuses(200, 403)
    elif view in read:
        get = statuses(read[view], read[view])
        post_as_superuser = {"change": allowed(caps.change, 302 if caps.change_saves else 200)}.get(view, read[view])
        post = statuses(post_as_superuser, 403 if view == "change" else read[view])
        if view == "redirect":
            get, post = each(302), each(302)  # a redirect to the change page (staff) or to the login (others)
    elif view == "add":
        get = post = statuses(allowed(caps.add), 403)
    elif view == "delete":
        get = post = statuses(allowed(caps.delete), 403)  # a POST without "post=yes" only asks to confirm
    else:
        raise AssertionError(f"unknown admin view {name} {route}")
    return Endpoint(path, get, post, api=False, may_change=writes(SUPERUSER))


def url_patterns(resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""):
    """(name, route) of every URL pattern of the project, includes flattened."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from url_patterns(pattern, prefix + str(pattern.pattern), inner)
        else:
            assert isinstance(pattern, URLPattern)
            yield namespace + (pattern.name or "-"), prefix + str(pattern.pattern)


def endpoint_for(name: str, route: str) -> Endpoint | None:
    if name.startswith("admin:"):
        return admin_site_endpoint(name, route) or admin_model_endpoint(name, route)
    return ENDPOINTS.get(name)


PATTERNS = list(url_patterns())


def test_every_url_pattern_is_in_the_matrix():
    missing = [f"{name} {route}" for name, route in PATTERNS if endpoint_for(name, route) is None]
    assert not missing, f"URL patterns without an authorization matrix entry: {missing}"
    assert set(ENDPOINTS) <= {name for name, _ in PATTERNS}, "matrix entries for URLs that no longer exist"


# --- running one endpoint for every actor -------------------------------------


def client_for(world: World, actor: str, api: bool) -> Client:
    client = APIClient() if api else Client()
    if actor == ANONYMOUS:
        return client
    user = User.objects.get(pk=getattr(world, actor).pk)  # fresh: a revoke bumps the token generation
    if api:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.token(user)}")
    else:
        client.force_login(user)
    return client


def state() -> tuple[dict, dict]:
    """Every row of every table and every campaign, room and board key in Redis.

    Sessions aside (logging in is allowed to write one), the tables only
    migrations write (permissions, content types), a campaign's answer
    counters (`:stats`), the rate-limit buckets (`:rl:`, `:rl-view:`): a refusal is
    counted and spends a token, as it should; and a board's merge of the last 24
    hours (`:24h:`), which a read caches. Each table is read whole as one
    digest of its rows in primary-key order, all tables in one query, and the
    Redis keys dumped in one pipeline (the matrix takes this picture 24 times
    per URL pattern)."""
    with connection.cursor() as cursor:
        cursor.execute(_ROWS_SQL)
        rows = dict(cursor.fetchall())
    redis = get_redis_connection("default")
    names = [
        key
        for tag in ("{camp:", "{room:", "{rank}")
        for key in redis.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}:*{tag}*", count=1000)
        if not key.endswith(b":stats") and b":rl:" not in key and b":rl-" not in key and b":24h:" not in key
    ]
    pipe = redis.pipeline(transaction=False)
    for key in names:
        pipe.dump(key)
    return rows, dict(zip(names, pipe.execute(), strict=True))


def _rows_sql() -> str:
    quote = connection.ops.quote_name
    return " UNION ALL ".join(
        f"SELECT '{model._meta.label}', md5(coalesce(string_agg(t::text, '|' ORDER BY t.{quote(model._meta.pk.column)}"
        f"), '')) FROM {quote(model._meta.db_table)} t"
        for model in apps.get_models()
        if model not in (Session, Permission, ContentType) and not model._meta.proxy
    )


_ROWS_SQL = _rows_sql()


def private_markers(world: World) -> list[str]:
    """Strings only the owner may ever see: grant id (also in ledger references), coupon code, pass, hold."""
    return [str(world.grant.pk), world.coupon.code, world.access_pass, f'"token":{world.hold.token},']


def call(client: Client, method: str, path: str, body: dict, api: bool):
    if method == "GET":
        return client.get(path)
    if api:
        return client.post(path, body, format="json")
    return client.post(path, body)


def test_the_state_picture_sees_a_changed_row_and_a_changed_key():
    """The matrix's "changed state" check can fail: one column of one row, one Redis key."""
    world = build_world()
    before = state()
    assert state() == before
    Wallet.objects.filter(user=world.owner).update(balance=F("balance") + 1)
    after_row = state()
    assert after_row[0] != before[0] and after_row[1] == before[1]
    redis = get_redis_connection("default")
    key = next(k for k in after_row[1] if b"{camp:" in k)
    redis.rename(key, key + b"-moved")
    assert state()[1] != after_row[1]


@pytest.mark.parametrize(("name", "route"), PATTERNS, ids=[f"{name} {route}" for name, route in PATTERNS])
def test_authorization_matrix(name, route):
    endpoint = endpoint_for(name, route)
    assert endpoint is not None, f"{name} {route} has no entry in the authorization matrix"
    world = build_world()
    path = endpoint.path(world)
    markers = private_markers(world)
    failures = []
    for method in ("GET", "POST"):
        for actor in ACTORS:
            client = client_for(world, actor, endpoint.api)
            before = state()
            response = call(client, method, path, endpoint.body(world), endpoint.api)
            after = state()
            expected = getattr(endpoint, method.lower())[actor]
            where = f"{method} {path} as {actor}"
            if response.status_code != expected:
                failures.append(f"{where}: {response.status_code}, expected {expected}")
            to_admin_login = response.get("Location", "").startswith("/admin/login/") or name == "admin:logout"
            if response.status_code == 302 and actor in NON_STAFF and path.startswith("/admin/") and not to_admin_login:
                failures.append(f"{where}: redirected to {response['Location']}, not to the admin login")
            if actor not in endpoint.may_change.get(method, ()) and before != after:
                failures.append(f"{where}: changed state")
            sees_everything = actor in (VIEWER, SUPERUSER) and path.startswith("/admin/")
            if actor != OWNER and not sees_everything:
                content = response.content.decode(errors="replace")
                failures.extend(f"{where}: shows the owner's {marker!r}" for marker in markers if marker in content)
    assert not failures, "\n".join(failures)


# --- admin actions ---------------------------------------------------------------

# Every admin action, the objects to run it on, and the status the superuser gets.
ACTIONS: dict[tuple[str, str], tuple[Callable[[World], list], int]] = {
    ("coupons.campaign", "publish"): (lambda w: [w.draft], 302),
    ("coupons.campaign", "open_now"): (lambda w: [w.draft], 302),
    ("coupons.campaign", "close"): (lambda w: [w.campaign], 302),
    ("coupons.campaign", "cancel"): (lambda w: [w.campaign], 302),
    ("coupons.campaign", "reconcile"): (lambda w: [w.campaign], 302),
    ("coupons.campaign", "redrive_stuck"): (lambda w: [w.campaign], 302),
    ("coupons.campaign", "generate_seats"): (lambda w: [w.draft], 200),  # asks for the rows first
    ("coupons.grant", "redrive"): (lambda w: [w.grant], 302),
    ("accounts.user", "revoke_tokens"): (lambda w: [w.owner], 302),
    ("waitingroom.waitingroom", "pause"): (lambda w: [w.room], 302),
    ("waitingroom.waitingroom", "resume"): (lambda w: [w.room], 302),
    ("waitingroom.waitingroom", "close"): (lambda w: [w.room], 302),
    ("ranking.board", "rebuild"): (lambda w: [w.board], 302),
    ("partners.partnerapikey", "revoke"): (lambda w: [w.partner_key], 302),
    ("partners.partnerapikey", "rotate"): (lambda w: [w.partner_key], 302),
    ("partners.webhookdelivery", "replay"): (lambda w: [w.webhook_delivery], 302),
}


def registered_actions() -> list[tuple[str, str]]:
    found = []
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or ():
            action_name = action if isinstance(action, str) else action.__name__
            found.append((model._meta.label_lower, action_name))
    return sorted(found)


def test_every_admin_action_is_in_the_matrix():
    assert set(registered_actions()) == set(ACTIONS)


def changelist(label: str) -> str:
    app_label, model_name = label.split(".")
    return f"/admin/{app_label}/{model_name}/"


@pytest.mark.parametrize(("label", "action"), list(ACTIONS), ids=[f"{label}.{action}" for label, action in ACTIONS])
def test_admin_actions_need_the_change_permission(label, action):
    world = build_world()
    objects, superuser_status = ACTIONS[(label, action)]
    data = {"action": action, "_selected_action": [str(obj.pk) for obj in objects(world)]}
    expected = each(403, viewer=200, superuser=superuser_status, **dict.fromkeys(NON_STAFF, 302))
    for actor in ACTORS:
        client = client_for(world, actor, api=False)
        before = state()
        response = client.post(changelist(label), data)
        after = state()
        assert response.status_code == expected[actor], (actor, response.status_code)
        if actor in NON_STAFF:
            assert response["Location"].startswith("/admin/login/"), actor
        if actor != SUPERUSER:
            assert before == after, f"{action} as {actor} changed state"


def test_bearer_tokens_carry_no_staff_privilege():
    world = build_world()
    path = f"/api/v1/rooms/{world.room.slug}/stats/"
    for actor in (STAFF, SUPERUSER):
        response = client_for(world, actor, api=True).get(path)
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied"), actor
        assert client_for(world, actor, api=False).get(path).status_code == 200, actor


def test_a_published_campaign_cannot_be_deleted_even_by_the_superuser():
    world = build_world()
    client = client_for(world, SUPERUSER, api=False)
    before = state()
    path = f"/admin/coupons/campaign/{world.campaign.pk}/delete/"
    assert client.get(path).status_code == 403
    assert client.post(path, {"post": "yes"}).status_code == 403
    assert state() == before


@pytest.mark.parametrize(
    ("label", "field_name", "value"),
    [("waitingroom.waitingroom", "admit_rate", 7), ("ranking.board", "visible", "")],
    ids=["room rate", "board visibility"],
)
def test_list_editable_changes_need_the_change_permission(label, field_name, value):
    world = build_world()
    obj = world.room if label == "waitingroom.waitingroom" else world.board
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(obj.pk),
        "_save": "Save",
    }
    if label == "waitingroom.waitingroom":
        data.update({"form-0-admit_rate": str(value), "form-0-max_active": str(world.room.max_active)})
    else:
        data.update({"form-0-visible": value})
    for actor in (STAFF, VIEWER):
        client = client_for(world, actor, api=False)
        before = state()
        response = client.post(changelist(label), data)
        assert response.status_code == 403, actor
        assert state() == before, actor
    response = client_for(world, SUPERUSER, api=False).post(changelist(label), data)
    assert response.status_code == 302
    obj.refresh_from_db()
    assert getattr(obj, field_name) == (value or False)
    if isinstance(obj, WaitingRoom):
        assert obj.admit_rate == 7
