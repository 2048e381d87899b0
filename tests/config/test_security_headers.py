"""Security headers: a Content-Security-Policy without inline script on every page, Permissions-Policy,
and no cache for the page and the API answer that show a token.

Every page is the authorization matrix's (tests/config/test_authorization.py): each URL pattern, fetched
by an actor who may see it. The browser suite checks that nothing the pages do is refused by the policy
(tests/browser/test_csp.py, and every journey fails on a CSP violation in the console).
"""

import re

import pytest
from rest_framework.test import APIClient

from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.config.test_authorization import ACTORS, PATTERNS, client_for, endpoint_for
from tests.config.world import build_world

pytestmark = pytest.mark.django_db

# An inline script: a <script> element with content, or without a src; an event handler attribute.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(?!\s*</script>)", re.IGNORECASE)
JSON_SCRIPT = re.compile(r"<script\b[^>]*type=\"application/(?:ld\+)?json\"", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"(?:href|src|action)\s*=\s*[\"']\s*javascript:", re.IGNORECASE)


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        if part.strip():
            name, *values = part.split()
            parsed[name] = values
    return parsed


def pages(world):
    """(name, path, actor) of every URL pattern that answers a GET with 200 to someone."""
    for name, route in PATTERNS:
        endpoint = endpoint_for(name, route)
        actor = next((a for a in reversed(ACTORS) if endpoint.get[a] == 200), None)
        if actor is not None:
            yield name, endpoint.path(world), actor, endpoint.api


def test_every_page_has_a_csp_without_inline_script_and_a_permissions_policy():
    world = build_world()
    failures, seen = [], 0
    for name, path, actor, api in pages(world):
        response = client_for(world, actor, api).get(path)
        where = f"{name} {path} as {actor}"
        if response.status_code != 200:
            failures.append(f"{where}: {response.status_code}")
            continue
        seen += 1
        policy = directives(response.get("Content-Security-Policy", ""))
        if policy.get("script-src") != ["'self'"] or policy.get("object-src") != ["'none'"]:
            failures.append(f"{where}: Content-Security-Policy {response.get('Content-Security-Policy')!r}")
        if "camera=()" not in response.get("Permissions-Policy", ""):
            failures.append(f"{where}: Permissions-Policy {response.get('Permissions-Policy')!r}")
        if response["Content-Type"].startswith("text/html"):
            html = response.content.decode()
            inline = [m.group(0) for m in INLINE_SCRIPT.finditer(html) if not JSON_SCRIPT.match(m.group(0))]
            failures += [f"{where}: inline script {tag!r}" for tag in inline]
            failures += [f"{where}: event handler {m.group(0)[-60:]!r}" for m in HANDLER.finditer(html)]
            failures += [f"{where}: javascript: URL" for _ in JAVASCRIPT_URL.finditer(html)]
    assert not failures, "\n".join(failures)
    assert seen >= 40, seen  # the pages, the API's reads, the docs and the admin's


def test_the_token_page_and_the_token_api_are_never_cached(client):
    user = UserFactory()
    client.force_login(user)
    for response in (client.get("/accounts/token/"), client.post("/accounts/token/")):
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"], response["Cache-Control"]
    body = {"username": user.username, "password": DEFAULT_PASSWORD}
    api = APIClient().post("/api/v1/auth/token/", body, format="json")
    assert api.status_code == 201 and api.json()["token"]
    assert "no-store" in api["Cache-Control"]


def test_error_answers_carry_the_headers_too(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]
    assert "camera=()" in response["Permissions-Policy"]
