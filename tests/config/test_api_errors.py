"""Every API error is JSON {"code", "detail"} with the right status; store outages are 503."""

import pytest
from django.conf import settings
from django.test import override_settings

from tests.accounts.test_tokens import assert_error

pytestmark = pytest.mark.django_db


def test_malformed_json_is_400_in_error_shape(api_client):
    response = api_client.post("/api/v1/auth/token/", data='{"username": "a", ', content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_wrong_content_type_is_415(api_client):
    response = api_client.post(
        "/api/v1/auth/token/", data="username=a", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, "unsupported_media_type")


def test_validation_error_names_the_field(api_client):
    response = api_client.post("/api/v1/auth/token/", {"username": "a"}, format="json")
    assert_error(response, 400, "invalid")
    body = response.json()
    assert "password" in body["errors"]
    assert body["detail"].startswith("password:")


@pytest.mark.parametrize("payload", ["[1, 2]", '"just a string"', "null", '{"username": {"$gt": ""}, "password": 1}'])
def test_odd_json_bodies_are_client_errors(api_client, payload):
    response = api_client.post("/api/v1/auth/token/", data=payload, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert "code" in response.json()


def test_unknown_api_url_is_json_404(api_client):
    assert_error(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_wrong_method_is_405(api_client):
    assert_error(api_client.get("/api/v1/auth/token/"), 405, "method_not_allowed")


def test_redis_down_during_authentication_is_503(bearer, closed_port):
    caches = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed_port}/0"}}
    with override_settings(CACHES=caches):
        response = bearer.get("/api/v1/me/")
    assert_error(response, 503, "store_unavailable")
    assert response["Retry-After"] == "1"


def test_schema_is_served_and_documents_the_token_endpoint(api_client):
    response = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/auth/token/" in response.json()["paths"]
