"""One log line per request, carrying its request id."""

import json
import logging

import pytest

from config.logging import RequestIdFilter


def test_one_line_per_request_with_its_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="firstcome.request"):
        response = client.get("/healthz")
    request_id = response["X-Request-ID"]
    lines = [r for r in caplog.records if r.name == "firstcome.request"]
    assert len(lines) == 1
    assert "GET /healthz 200" in lines[0].getMessage()
    assert len(request_id) == 32


def test_incoming_request_id_is_kept_when_well_formed_and_replaced_otherwise(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234-abcd")["X-Request-ID"] == "lb-1234-abcd"
    assert client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nforged")["X-Request-ID"] != "bad id\nforged"


@pytest.mark.django_db
def test_json_formatter_emits_the_request_id():
    from pythonjsonlogger.json import JsonFormatter

    from config.logging import request_id_var

    formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s")
    record = logging.LogRecord("firstcome.request", logging.INFO, __file__, 1, "GET / 200", None, None)
    token = request_id_var.set("abc123")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    assert json.loads(formatter.format(record))["request_id"] == "abc123"
