"""Per-IP token buckets on sign-up (page) and login (page and token API)."""

import time

import pytest

from accounts import services
from accounts.models import User
from config.ratelimit import RateLimited
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.accounts.test_tokens import assert_error

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
TOKEN = "/api/v1/auth/token/"


def signup_form(username: str) -> dict:
    return {"username": username, "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"}


@pytest.fixture
def tight(settings):
    """Two attempts per IP, then one every 1,000 s (a refill no test waits for)."""
    settings.SIGNUP_RATE_IP_BURST, settings.SIGNUP_RATE_IP_PER_SECOND = 2, 0.001
    settings.LOGIN_RATE_IP_BURST, settings.LOGIN_RATE_IP_PER_SECOND = 2, 0.001
    return settings


def test_signup_is_limited_per_ip_with_429_and_retry_after_and_creates_no_user(client, django_user_model, tight):
    assert client.post(SIGNUP, signup_form("first")).status_code == 302
    client.logout()
    assert client.post(SIGNUP, {"username": "x", "password1": "short"}).status_code == 200  # bad input spends too
    response = client.post(SIGNUP, signup_form("third"))
    assert response.status_code == 429
    assert 990 <= int(response["Retry-After"]) <= 1000
    assert "Too many requests" in response.content.decode()
    assert not User.objects.filter(username="third").exists()
    # the limit is per IP: another address signs up
    assert client.post(SIGNUP, signup_form("fourth"), REMOTE_ADDR="198.51.100.4").status_code == 302


def test_signup_ignores_x_forwarded_for_unless_from_a_trusted_proxy(client, tight):
    for name in ("a1", "a2"):
        client.post(SIGNUP, signup_form(name), HTTP_X_FORWARDED_FOR=f"192.0.2.{len(name)}")
        client.logout()
    assert client.post(SIGNUP, signup_form("a3"), HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429
    tight.TRUSTED_PROXIES = ["127.0.0.1/32"]
    assert client.post(SIGNUP, signup_form("a4"), HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 302
    assert not User.objects.filter(username="a3").exists()


def test_signup_bucket_refills_as_time_moves(tight):
    t0 = int(time.time() * 1000)
    for _ in range(2):
        services.signup_attempt(client_ip="192.0.2.1", now_ms=t0)
    with pytest.raises(RateLimited) as refused:
        services.signup_attempt(client_ip="192.0.2.1", now_ms=t0 + 100_000)
    assert refused.value.extra == {"retry_after": 900}
    services.signup_attempt(client_ip="192.0.2.1", now_ms=t0 + 1_000_000)
    with pytest.raises(RateLimited):
        services.signup_attempt(client_ip="192.0.2.1", now_ms=t0 + 1_000_000)


def test_token_api_login_is_limited_per_ip(api_client, tight):
    user = UserFactory()
    bad = {"username": user.username, "password": "wrong"}
    assert api_client.post(TOKEN, bad, format="json").status_code == 401
    good = {"username": user.username, "password": DEFAULT_PASSWORD}
    assert api_client.post(TOKEN, good, format="json").status_code == 201
    response = api_client.post(TOKEN, good, format="json")
    assert_error(response, 429, "rate_limited")
    assert response["Retry-After"] == str(response.json()["retry_after"])
    assert api_client.post(TOKEN, good, format="json", REMOTE_ADDR="198.51.100.8").status_code == 201


def test_login_page_is_limited_per_ip(client, tight):
    user = UserFactory()
    for _ in range(2):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "_auth_user_id" not in client.session  # the right password did not log in once limited
