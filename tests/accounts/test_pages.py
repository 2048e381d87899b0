"""Account pages: sign-up, login, logout, the token page, CSRF, error pages."""

import pytest
from django.test import Client

from accounts.models import User
from tests.accounts.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_creates_the_user_and_logs_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newbie",
            "email": "newbie@example.com",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert user.check_password("a-long-pass-phrase")
    assert "Log out" in client.get("/").content.decode()


SIGNUP = {"username": "comer", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"}


def test_signup_from_a_page_that_asked_to_log_in_goes_back_to_it(client):
    """Log in → "Create an account" → sign up lands on the page that asked, not home."""
    login_page = client.get("/accounts/login/?next=/rooms/launch/").content.decode()
    assert 'href="/accounts/signup/?next=%2Frooms%2Flaunch%2F"' in login_page
    signup_page = client.get("/accounts/signup/?next=/rooms/launch/").content.decode()
    assert 'name="next" value="/rooms/launch/"' in signup_page
    assert 'href="/accounts/login/?next=%2Frooms%2Flaunch%2F"' in signup_page
    response = client.post("/accounts/signup/", {**SIGNUP, "next": "/rooms/launch/"})
    assert response.status_code == 302
    assert response["Location"] == "/rooms/launch/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_signup_never_sends_anyone_off_site(client, target):
    response = client.post("/accounts/signup/", {**SIGNUP, "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert 'name="next" value=""' in Client().get("/accounts/signup/", {"next": target}).content.decode()


def test_signup_with_bad_input_shows_errors_and_creates_nothing(client):
    response = client.post("/accounts/signup/", {"username": "x", "password1": "short", "password2": "other"})
    assert response.status_code == 200
    assert "field--error" in response.content.decode()
    assert not User.objects.filter(username="x").exists()


def test_signup_requires_csrf(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/accounts/signup/",
        {"username": "nocsrf", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert response.status_code == 403
    assert not User.objects.filter(username="nocsrf").exists()


def test_login_and_logout(client, user):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": user.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.get("/accounts/token/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/accounts/token/").status_code == 302  # back to login


def test_token_page_gives_a_working_token(client, user):
    client.force_login(user)
    html = client.post("/accounts/token/").content.decode()
    token = html.split("readonly>")[1].split("</textarea>")[0].strip()
    response = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["username"] == user.username


def test_custom_404_page(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_pages_use_only_local_assets(client):
    for url in ("/", "/accounts/login/", "/api/v1/docs/"):
        html = client.get(url).content.decode()
        assert "https://" not in html.replace("https://github", ""), url
    assert client.get("/static/css/app.css").status_code == 200
    docs = client.get("/api/v1/docs/").content.decode()
    asset = docs.split('src="')[1].split('"')[0]
    assert asset.startswith("/static/"), asset
    assert client.get(asset).status_code == 200
