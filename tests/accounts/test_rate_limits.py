"""Token buckets on sign-up (per IP) and login (per IP and per username, on every door: the login page,
the admin's login page and the token API)."""

import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

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


# --- every door to log in spends the same buckets -----------------------------------

ADMIN_LOGIN = "/admin/login/"
LOGIN = "/accounts/login/"


def try_door(door: str, username: str, password: str, ip: str = "192.0.2.10") -> tuple[int, bool]:
    """(status, logged in) of one attempt through `door`: "page", "admin" or "token"."""
    if door == "token":
        response = APIClient().post(TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=ip)
        return response.status_code, response.status_code == 201
    client = Client()
    url = ADMIN_LOGIN if door == "admin" else LOGIN
    response = client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)
    return response.status_code, "_auth_user_id" in client.session


DOORS = ("page", "admin", "token")


def test_every_door_spends_the_same_ip_bucket(settings):
    # given 3 login attempts per IP, shared by every door
    settings.LOGIN_RATE_IP_BURST, settings.LOGIN_RATE_IP_PER_SECOND = 3, 0.001
    staff = UserFactory(is_staff=True)
    for door in DOORS:  # one wrong password through each door (a different username each: only the IP is shared)
        assert try_door(door, f"nobody-{door}", "wrong")[0] in (200, 401)
    # then the IP is out of attempts on every door, for the right password too
    for door in DOORS:
        status, logged_in = try_door(door, staff.username, DEFAULT_PASSWORD)
        assert (status, logged_in) == (429, False), door
    # another address is not
    assert try_door("admin", staff.username, DEFAULT_PASSWORD, ip="198.51.100.20") == (302, True)


@pytest.mark.parametrize("locked_on", DOORS)
def test_a_locked_out_username_is_locked_on_every_door_the_right_password_included(settings, locked_on):
    # given 3 attempts per username (whatever the IP), and plenty per IP
    settings.LOGIN_RATE_USER_BURST, settings.LOGIN_RATE_USER_PER_SECOND = 3, 0.001
    staff = UserFactory(is_staff=True, username="Admiral")
    bystander = UserFactory(is_staff=True)
    for attempt in range(3):  # wrong passwords through one door, each from another address
        try_door(locked_on, staff.username, "wrong", ip=f"203.0.113.{attempt + 1}")
    for door in DOORS:
        status, logged_in = try_door(door, staff.username, DEFAULT_PASSWORD, ip="198.51.100.30")
        assert (status, logged_in) == (429, False), door
        # the same name typed differently (case, full-width letters) is the same bucket
        assert try_door(door, "ＡＤＭＩＲＡＬ", DEFAULT_PASSWORD, ip="198.51.100.31")[0] == 429, door
    # other users log in as usual from the same addresses
    for door in DOORS:
        assert try_door(door, bystander.username, DEFAULT_PASSWORD, ip="198.51.100.30")[1], door


def test_a_refused_admin_login_is_429_with_retry_after_and_says_why(settings):
    settings.LOGIN_RATE_IP_BURST, settings.LOGIN_RATE_IP_PER_SECOND = 1, 0.001
    staff = UserFactory(is_staff=True)
    Client().post(ADMIN_LOGIN, {"username": staff.username, "password": "wrong"})
    client = Client()
    response = client.post(ADMIN_LOGIN, {"username": staff.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 900
    assert "Too many requests" in response.content.decode()
    assert "_auth_user_id" not in client.session
