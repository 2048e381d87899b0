"""Bearer tokens: round trip without queries, tampering, expiry, revocation."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.backends import TokenBackend

from accounts import services
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.isolation import redis_flush

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"code", "detail"}
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]


def test_round_trip_runs_zero_queries(user, django_assert_num_queries):
    # given a freshly issued token
    token, _ = services.api_token_issue(user=user)
    client = client_with(token)
    # when it is used, then authentication runs no database query at all
    with django_assert_num_queries(0):
        response = client.get(ME)
    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "username": user.username}


def test_cold_generation_cache_reads_database_once_then_none(user, redis_clean, django_assert_num_queries):
    token, _ = services.api_token_issue(user=user)
    redis_flush()  # Redis lost everything
    client = client_with(token)
    with django_assert_num_queries(1):
        assert client.get(ME).status_code == 200
    with django_assert_num_queries(0):
        assert client.get(ME).status_code == 200


def test_token_from_credentials_api(user, api_client):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert client_with(body["token"]).get(ME).json()["id"] == user.pk


def test_wrong_password_gets_401_in_error_shape(user, api_client):
    response = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "nope"}, format="json")
    assert_error(response, 401, "invalid_credentials")


def test_tampered_token_is_refused(user):
    token, _ = services.api_token_issue(user=user)
    header, payload, signature = token.split(".")
    tampered_signature = f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    assert_error(client_with(tampered_signature).get(ME), 401, "token_not_valid")

    # a payload naming another user, with the original signature
    other = UserFactory()
    other_token, _ = services.api_token_issue(user=other)
    forged = f"{header}.{other_token.split('.')[1]}.{signature}"
    assert_error(client_with(forged).get(ME), 401, "token_not_valid")


def test_garbage_and_missing_tokens(api_client):
    assert_error(client_with("not-a-token").get(ME), 401, "token_not_valid")
    response = api_client.get(ME)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_refused(user):
    token, _ = services.api_token_issue(user=user, lifetime=timedelta(seconds=-1))
    assert_error(client_with(token).get(ME), 401, "token_not_valid")


@pytest.mark.django_db(transaction=True)
def test_revoking_kills_every_outstanding_token(user):
    first, _ = services.api_token_issue(user=user)
    second, _ = services.api_token_issue(user=user)
    assert client_with(second).post("/api/v1/auth/token/revoke/").status_code == 204
    assert_error(client_with(first).get(ME), 401, "token_revoked")
    assert_error(client_with(second).get(ME), 401, "token_revoked")
    user.refresh_from_db()
    fresh, _ = services.api_token_issue(user=user)
    assert client_with(fresh).get(ME).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_revocation_survives_a_redis_flush(user, redis_clean):
    old, _ = services.api_token_issue(user=user)
    services.api_token_revoke(user=user)
    redis_flush()
    assert_error(client_with(old).get(ME), 401, "token_revoked")


@pytest.mark.django_db(transaction=True)
def test_deactivated_user_tokens_stop_working(user):
    token, _ = services.api_token_issue(user=user)
    services.user_deactivate(user=user)
    assert_error(client_with(token).get(ME), 401, "token_revoked")


def test_token_signed_with_another_key_is_refused(user):
    # what every outstanding token looks like after API_TOKEN_SIGNING_KEY is rotated
    token, _ = services.api_token_issue(user=user)
    payload = TokenBackend("HS256").decode(token, verify=False)
    resigned = TokenBackend("HS256", signing_key="the-rotated-signing-key-0123456789abcdef").encode(payload)
    assert_error(client_with(resigned).get(ME), 401, "token_not_valid")


def test_issue_token_command(user, capsys):
    call_command("issue_token", user.username, "--hours", "1")
    token = capsys.readouterr().out.strip()
    assert client_with(token).get(ME).json()["username"] == user.username


@pytest.mark.parametrize("language", ["en", "ko"])
def test_an_unusable_token_says_in_plain_words_where_to_get_a_new_one(user, language):
    # given a token that expired, one that was tampered with, garbage, and a revoked one
    expired, _ = services.api_token_issue(user=user, lifetime=timedelta(seconds=-1))
    live, _ = services.api_token_issue(user=user)
    header, payload, signature = live.split(".")
    tampered = f"{header}.{payload}.{signature[::-1]}"
    page = reverse("api-token")
    for token in (expired, tampered, "not-a-token"):
        # when it is used
        response = client_with(token).get(ME, HTTP_ACCEPT_LANGUAGE=language)
        # then the answer names the token page, in the reader's language, and no token type or claim
        assert_error(response, 401, "token_not_valid")
        detail = response.json()["detail"]
        assert page in detail and "token type" not in detail, detail
        assert ("토큰" in detail) == (language == "ko"), detail
    services.api_token_revoke(user=user)
    response = client_with(live).get(ME, HTTP_ACCEPT_LANGUAGE=language)
    assert_error(response, 401, "token_revoked")
    assert page in response.json()["detail"]
