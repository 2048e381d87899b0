"""Bodies the JSON parser cannot handle are 400 `parse_error` on every write endpoint of the API.

The write endpoints are enumerated from the URL conf (every DRF view under
/api/v1/ with a POST, PUT, PATCH or DELETE handler), so a new one is covered
without touching this file. Each hostile body is sent with the owner's bearer
token and without credentials: the answer is 400 `parse_error` in the error
shape, nothing changes, and nothing is logged at ERROR (no traceback per
request).
"""

import logging
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.accounts.test_tokens import assert_error
from tests.config.test_authorization import state
from tests.config.world import World, build_world

pytestmark = pytest.mark.django_db

JSON = "application/json"
WRITE_METHODS = ("post", "put", "patch", "delete")

# name -> (body, content type): each is something json.loads cannot turn into plain, storable JSON.
HOSTILE_BODIES: dict[str, tuple[bytes, str]] = {
    "arrays nested 1,000 deep": (b"[" * 1000 + b"]" * 1000, JSON),
    "objects nested 1,000 deep": (b'{"a":' * 1000 + b"1" + b"}" * 1000, JSON),
    "arrays nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, JSON),
    "nested 100,000 deep, never closed": (b"[" * 100_000, JSON),
    "arrays nested 40 deep in a field": (b'{"token": ' + b"[" * 40 + b"]" * 40 + b"}", JSON),
    "truncated": (b'{"token": 1, "access_pass": "ab', JSON),
    "trailing garbage": (b'{"token": 1} and more', JSON),
    "not UTF-8": (b'{"access_pass": "\xff\xfe\xfa"}', JSON),
    "UTF-16 sent as UTF-8": ('{"token": 1}'.encode("utf-16"), JSON),
    "an unknown charset": (b'{"token": 1}', f"{JSON}; charset=no-such-codec"),
    "a byte order mark": ('\ufeff{"token": 1}'.encode(), JSON),
    "a lone surrogate": (b'{"access_pass": "\\ud800"}', JSON),
    "a lone surrogate as a key": (b'{"\\udfff": 1}', JSON),
    "an integer of 5,000 digits": (b'{"token": ' + b"9" * 5000 + b"}", JSON),
    "an integer beyond bigint": (b'{"token": 9223372036854775808}', JSON),
    "a negative integer beyond bigint": (b'{"token": -9223372036854775809}', JSON),
    "a float beyond double": (b'{"token": 1e400}', JSON),
    "a negative float beyond double": (b'{"token": -1e400}', JSON),
    "NaN": (b'{"token": NaN}', JSON),
    "Infinity": (b'{"token": Infinity}', JSON),
    "3 MB": (b'{"access_pass": "' + b"a" * 3_000_000 + b'"}', JSON),
}


def write_endpoints(resolver: URLResolver | None = None, prefix: str = ""):
    """(route, methods) of every DRF view under api/v1/ that writes."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from write_endpoints(pattern, route)
            continue
        assert isinstance(pattern, URLPattern)
        view_class = getattr(pattern.callback, "cls", None)
        methods = [m for m in WRITE_METHODS if view_class is not None and hasattr(view_class, m)]
        if route.startswith("api/v1/") and methods:
            yield route, methods


WRITE_ENDPOINTS = list(write_endpoints())


def path_of(route: str, world: World) -> str:
    """The route with its parameters naming objects that exist."""
    slug = (
        world.seat_campaign.slug
        if "/seats/" in route
        else world.room.slug
        if route.startswith("api/v1/rooms/")
        else world.campaign.slug
    )
    values = {"slug": slug, "label": world.seat.label, "grant_id": world.grant.pk, "code": world.coupon.code}

    def value(match: re.Match) -> str:
        assert match[1] in values, f"{route}: no value for <{match[1]}> (add one to path_of)"
        return str(values[match[1]])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


def test_the_write_endpoints_are_found():
    routes = {route for route, _ in WRITE_ENDPOINTS}
    assert "api/v1/auth/token/" in routes
    assert "api/v1/campaigns/<slug:slug>/claims/" in routes
    assert len(routes) >= 8, routes


@pytest.mark.parametrize("route,methods", WRITE_ENDPOINTS, ids=[route for route, _ in WRITE_ENDPOINTS])
def test_every_hostile_body_is_a_parse_error_on_every_write_endpoint(route, methods, caplog):
    world = build_world()
    path = path_of(route, world)
    owner = APIClient()
    owner.credentials(HTTP_AUTHORIZATION=f"Bearer {world.token(world.owner)}")
    before = state()
    failures = []
    with caplog.at_level(logging.WARNING):
        for name, (body, content_type) in HOSTILE_BODIES.items():
            for who, client in (("owner", owner), ("anonymous", APIClient())):
                for method in methods:
                    response = client.generic(method.upper(), path, data=body, content_type=content_type)
                    try:
                        assert_error(response, 400, "parse_error")
                    except AssertionError:
                        where = f"{method.upper()} {path} {name} as {who}"
                        failures.append(f"{where}: {response.status_code} {response.content[:200]!r}")
    assert not failures, "\n".join(failures)
    assert state() == before
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not logged, [r.getMessage() for r in logged]
