"""Anti-enumeration: logging in as an unknown user and with a wrong password look and cost the same.

Sign-up cannot hide a taken username (there is no email round trip to hide it
behind); it answers like any other validation error, and the per-IP rate limit
on sign-up is what keeps it from being a fast oracle (docs/security.md). The
email address is not an identifier: sign-up with a known one is not refused,
so it reveals nothing. There is no password reset to probe.
"""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.models import User
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """The test hasher, counting how often a password was hashed."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture
def hashings():
    with override_settings(PASSWORD_HASHERS=["tests.accounts.test_enumeration.CountingHasher"]):

        def count(action) -> int:
            CountingHasher.calls = 0
            action()
            return CountingHasher.calls

        yield count


def test_token_api_answers_an_unknown_user_and_a_wrong_password_alike(hashings):
    user = UserFactory()
    client = APIClient()
    answers = {}

    def attempt(username):
        answers[username] = client.post(
            "/api/v1/auth/token/", {"username": username, "password": "not-the-password"}, format="json"
        )

    assert hashings(lambda: attempt(user.username)) >= 1
    assert hashings(lambda: attempt("nobody-by-this-name")) >= 1  # the hasher runs for nobody too
    known, unknown = answers[user.username], answers["nobody-by-this-name"]
    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json() == {"code": "invalid_credentials", "detail": "Username or password is wrong."}


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_login_pages_answer_an_unknown_user_and_a_wrong_password_alike(hashings, login_url):
    user = UserFactory(is_staff=True)
    pages = {}

    def attempt(username):
        response = Client().post(login_url, {"username": username, "password": "not-the-password"})
        pages[username] = (response.status_code, response.context["form"].errors)

    assert hashings(lambda: attempt(user.username)) >= 1
    assert hashings(lambda: attempt("nobody-by-this-name")) >= 1
    assert pages[user.username] == pages["nobody-by-this-name"]
    assert pages[user.username][0] == 200


def test_an_inactive_user_is_refused_like_a_wrong_password():
    user = UserFactory(is_active=False)
    inactive = APIClient().post(
        "/api/v1/auth/token/", {"username": user.username, "password": DEFAULT_PASSWORD}, format="json"
    )
    wrong = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": "nope"}, format="json")
    assert (inactive.status_code, inactive.json()) == (wrong.status_code, wrong.json())


def signup(**fields):
    data = {"username": "newcomer", "email": "", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"}
    return Client().post("/accounts/signup/", {**data, **fields})


def test_a_taken_username_is_an_ordinary_validation_error():
    taken = UserFactory()
    users = User.objects.count()
    response = signup(username=taken.username)
    bad_password = signup(password2="something-else-entirely")
    # the same page, the same status, an error on a field like any other mistake; nothing created
    assert response.status_code == bad_password.status_code == 200
    assert response.templates[0].name == bad_password.templates[0].name == "registration/signup.html"
    assert list(response.context["form"].errors) == ["username"]
    assert User.objects.count() == users


def test_sign_up_with_a_known_email_reveals_nothing():
    UserFactory(email="known@example.com")
    response = signup(username="someone-new", email="known@example.com")
    assert response.status_code == 302
    assert User.objects.filter(email="known@example.com").count() == 2


def test_there_is_no_password_reset_to_probe(client):
    for path in ("/accounts/password_reset/", "/admin/password_reset/"):
        assert client.get(path).status_code in (302, 404)
