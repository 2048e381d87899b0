"""LeanMiddleware (config/api/lean.py): a bearer token's claim or status poll runs in the shorter chain,
a session's request and a declined one go the whole way, and the lean function is asked once.

tests/config/test_lean.py compares every answer of the two ways, headers included; these say which
way each request went (the request the lean function saw: the skipped middleware leaves no trace on it).
"""

import pytest
from django.conf import settings
from django.urls import resolve
from rest_framework.test import APIClient

from accounts import services as account_services
from config.api.lean import LEAN_SKIPPED, LeanMiddleware
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_skipped_middleware_is_one_that_runs_after_it():
    after = settings.MIDDLEWARE[settings.MIDDLEWARE.index("config.api.lean.LeanMiddleware") + 1 :]
    assert set(LEAN_SKIPPED) <= set(after)
    assert settings.MIDDLEWARE[0] == "config.middleware.RequestLogMiddleware"  # the lean requests are logged too
    chain = [path for path in after if path not in LEAN_SKIPPED]
    # what still acts on a lean request: redirects and security headers, the language, the host check,
    # the clickjacking header, store outages as 503, the CSP
    assert chain == [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "config.middleware.StoreUnavailableMiddleware",
        "config.middleware.SecurityHeadersMiddleware",
    ]
    middleware = LeanMiddleware(lambda request: None)
    assert [hook.__self__.__class__.__name__ for hook in middleware.exception_hooks] == ["StoreUnavailableMiddleware"]


@pytest.fixture
def seen():
    """The requests the claim's lean function was asked with, and what it answered."""
    path = "/api/v1/campaigns/any/claims/"
    view = resolve(path).func
    lean = view.lean
    calls: list[tuple] = []

    def spy(request, *args, **kwargs):
        response = lean(request, *args, **kwargs)
        calls.append((request, response))
        return response

    view.lean = spy
    yield calls
    view.lean = lean


def bearer_client(user) -> APIClient:
    token, _ = account_services.api_token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_bearer_claim_runs_without_the_session_auth_and_messages_middleware(seen):
    campaign = published_campaign(quantity=2)
    response = bearer_client(UserFactory()).post(f"/api/v1/campaigns/{campaign.slug}/claims/")
    assert response.status_code == 202
    [(request, answer)] = seen
    assert answer is not None
    assert not hasattr(request, "session") and not hasattr(request, "_messages")
    assert request.LANGUAGE_CODE == "en"  # the language middleware did run: the details are translated
    assert response["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in response
    assert response["X-Request-ID"]


def test_a_declined_request_goes_the_whole_way_and_asks_the_lean_function_once(seen):
    campaign = published_campaign(quantity=2)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/claims/")
    assert response.status_code == 401
    assert response.json()["code"] in {"token_not_valid", "not_authenticated", "authentication_failed"}
    [(request, answer)] = seen  # declined in the short chain; the URL's view did not ask again
    assert answer is None
    assert hasattr(request, "session")  # the whole chain ran for the DRF view


def test_a_request_with_a_session_cookie_goes_the_whole_way(seen):
    campaign = published_campaign(quantity=2)
    user = UserFactory()
    client = bearer_client(user)
    client.cookies[settings.SESSION_COOKIE_NAME] = "not-a-session"
    response = client.post(f"/api/v1/campaigns/{campaign.slug}/claims/")
    assert response.status_code == 202
    [(request, answer)] = seen  # the lean function answered, asked from the URL's view in the whole chain
    assert answer is not None
    assert hasattr(request, "session")


def test_a_disallowed_host_is_refused_the_same_either_way(seen):
    campaign = published_campaign(quantity=2)
    path = f"/api/v1/campaigns/{campaign.slug}/claims/"
    answers = []
    for client in (bearer_client(UserFactory()), APIClient()):
        response = client.post(path, HTTP_HOST="evil.example")
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1] == (400, {"code": "bad_request", "detail": "Bad request."})
    assert seen == []  # refused by the host check before any view
