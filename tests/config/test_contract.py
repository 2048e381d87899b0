"""The contract check of tests/contract.py notices what a typed client would trip on.

Every test's API answers go through it (tests/conftest.py); these show it is
not a check that cannot fail: an undocumented field, status or enum value, or
a missing required field, each breaks it, and a documented answer does not.
"""

import json

import pytest
from jsonschema import Draft202012Validator

from tests import contract

GRANT = {
    "id": "5f1c1f7e-8a4b-4a38-9a3f-0d0c7a1b2c3d",
    "campaign": "drop",
    "campaign_title": "Drop",
    "kind": "credit",
    "amount": 10,
    "slot": 1,
    "status": "succeeded",
    "attempts": 1,
    "created_at": "2026-12-06T00:00:00Z",
    "completed_at": None,
    "seat_label": None,
    "coupon_code": None,
    "summary": "10 KRW added to your wallet",
    "summary_url": "/accounts/grants/",
}
GRANT_URL = "/api/v1/grants/5f1c1f7e-8a4b-4a38-9a3f-0d0c7a1b2c3d/"


def check(method: str, path: str, status: int, body, content_type: str = "application/json") -> list[str]:
    return contract.violations(
        method=method, path=path, status=status, content_type=content_type, body=json.dumps(body).encode()
    )


def test_a_documented_answer_conforms():
    assert check("GET", GRANT_URL, 200, GRANT) == []
    assert check("POST", "/api/v1/auth/token/", 400, {"code": "invalid", "detail": "x", "errors": {"u": ["y"]}}) == []
    claim = "/api/v1/campaigns/drop/claims/"
    assert check("POST", claim, 403, {"code": "admission_required", "detail": "x", "room_url": "/rooms/r/"}) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"surprise": 1}, "'surprise' was unexpected"),
        ({"status": "lost"}, "'lost' is not one of"),
        ({"kind": "voucher"}, "'voucher' is not one of"),
        ({"slot": "one"}, "is not of type 'integer'"),
    ],
)
def test_an_undocumented_field_or_value_breaks_it(change, expected):
    broken = check("GET", GRANT_URL, 200, GRANT | change)
    assert len(broken) == 1 and expected in broken[0], broken


def test_a_missing_required_field_an_undocumented_status_or_extra_error_field_breaks_it():
    grant = {key: value for key, value in GRANT.items() if key != "status"}
    assert "'status' is a required property" in check("GET", GRANT_URL, 200, grant)[0]
    assert "status 418 is not documented" in check("GET", GRANT_URL, 418, {"code": "teapot", "detail": "x"})[0]
    assert "'room_url' was unexpected" in check("GET", GRANT_URL, 404, {"code": "x", "detail": "y", "room_url": "/"})[0]
    assert "documented JSON" in check("GET", GRANT_URL, 200, GRANT, content_type="text/html")[0]


def test_paths_outside_the_schema_are_not_its_business():
    assert check("GET", "/api/v1/nowhere/", 404, {"code": "not_found", "detail": "x"}) == []


@pytest.mark.django_db
def test_every_answer_a_test_client_receives_is_checked(api_contract, api_client, monkeypatch):
    # given a schema in which a campaign's answer lacks a field the API sends
    from tests.coupons.factories import published_campaign

    published_campaign()
    operations = contract.operations()
    empty_list = Draft202012Validator({"type": "array", "maxItems": 0})
    doctored = {
        method: [
            op
            if op.template != "/api/v1/campaigns/"
            else contract.Operation(op.template, op.pattern, {"200": empty_list})
            for op in ops
        ]
        for method, ops in operations.items()
    }
    monkeypatch.setattr(contract, "operations", lambda: doctored)
    # when a test asks the API through a test client
    assert api_client.get("/api/v1/campaigns/").status_code == 200
    # then the answer went through the check, and the check noticed
    assert api_contract.checked == ["/api/v1/campaigns/"]
    assert len(api_contract.broken) == 1 and "is expected to be empty" in api_contract.broken[0]
    api_contract.broken.clear()  # this test's own answer broke the doctored schema on purpose
