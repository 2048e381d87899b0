"""CSRF: every page and form refuses a session POST without the token; bearer-token API calls need none.

The pages are enumerated from the URL resolver (every pattern outside /api/,
admin included) and the forms from the templates, so a new form is covered
without touching this file.
"""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import resolve
from rest_framework.test import APIClient

from tests.accounts.factories import UserFactory
from tests.config.test_authorization import ENDPOINTS, PATTERNS, state
from tests.config.world import build_world

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
PAGES = [(name, route) for name, route in PATTERNS if not route.startswith("api/")]
API_WRITES = sorted(name for name, endpoint in ENDPOINTS.items() if endpoint.api and endpoint.post["owner"] != 405)


def test_every_post_form_in_the_templates_carries_the_token():
    forms = []
    for template in TEMPLATES.rglob("*.html"):
        for form in re.findall(r"<form\b[^>]*>.*?</form>", template.read_text(), flags=re.S | re.I):
            if re.search(r'method="post"', form, flags=re.I):
                forms.append(template.relative_to(TEMPLATES))
                assert "{% csrf_token %}" in form, f"a POST form in {template} has no {{% csrf_token %}}"
    assert len(forms) >= 8  # sign-up, login, logout, claim (2), join, leave, token (2), seat map admin


SAMPLES = {"slug": "sample", "str": "sample", "path": "1", "int": "1", "uuid": "9f0c2a52-8d0e-4a55-9d7e-2f1c3b9a6e10"}


def sample_path(route: str) -> str:
    """A URL the pattern matches. The objects need not exist: the token is checked before any view runs,
    and a view that ran instead would answer something other than 403."""
    path = re.sub(r"\^\(\?P<\w+>(\w+)\|[^)]*\)/\$", r"\1/", route)  # the admin's app index
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda match: SAMPLES[match[1] or "str"], path)
    return "/" + path.replace("(?P<url>.*)$", "no/such/page/")


@pytest.mark.parametrize(("name", "route"), PAGES, ids=[f"{name} {route}" for name, route in PAGES])
def test_a_session_post_without_the_token_is_refused_and_changes_nothing(name, route):
    path = sample_path(route)
    assert resolve(path).url_name == (None if name.endswith(":-") else name.split(":")[-1]), path
    for user in (None, UserFactory(), UserFactory(is_staff=True, is_superuser=True)):
        client = Client(enforce_csrf_checks=True)
        if user is not None:
            client.force_login(user)
        before = state()
        response = client.post(path, {"username": "x", "password": "y", "action": "revoke"})
        assert response.status_code == 403, (path, user, response.status_code)
        assert b"CSRF" in response.content
        assert state() == before


def test_the_forms_work_with_the_token():
    world = build_world()
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/accounts/login/",
        {"username": world.other.username, "password": "correct horse battery staple", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    token = client.cookies["csrftoken"].value  # rotated at login
    response = client.post(f"/campaigns/{world.campaign.slug}/claim/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert world.other.grants.count() == 1


@pytest.mark.parametrize("name", API_WRITES)
def test_session_authenticated_api_writes_need_the_token_and_bearer_ones_do_not(name):
    world = build_world()
    endpoint = ENDPOINTS[name]
    path, body = endpoint.path(world), endpoint.body(world)

    session = APIClient(enforce_csrf_checks=True)
    session.force_login(world.owner)
    before = state()
    response = session.post(path, body, format="json")
    if name == "api-token-create":
        # credentials in, a token out: no session is read or written, so there is nothing to forge
        assert response.status_code == 400
    elif name == "api-view-beacon":
        # the view beacon reads no session or token: it acts for nobody, so there is nothing to forge
        assert response.status_code == 202
    elif name.startswith("api-partner-"):
        # an API key only: a session is never read there, so there is nothing to forge either
        assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
        assert state() == before
    else:
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"
        assert "CSRF" in response.json()["detail"]
        assert state() == before

    bearer = APIClient(enforce_csrf_checks=True)
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {world.token(world.owner)}")
    response = bearer.post(path, body, format="json")
    assert response.status_code == endpoint.post["owner"], response.content
