"""Health probes: /healthz always, /readyz per store, 503 naming what failed."""

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_touches_no_store(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_ok_when_every_store_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "redis": True,
        "broker": True,
    }


def test_readyz_names_redis_when_redis_is_unreachable(client, closed_port):
    dead = f"redis://127.0.0.1:{closed_port}/0"
    caches = {"default": {**settings.CACHES["default"], "LOCATION": dead}}
    with override_settings(CACHES=caches, CELERY_BROKER_URL=dead):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_ready"
    assert "redis" in body["detail"]
    assert body["checks"]["redis"]["ok"] is False
    assert "Connection" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_names_the_broker_alone_when_only_it_is_down(client, closed_port):
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"] == "Unavailable: broker"


def test_heartbeat_is_reported_once_recorded(client):
    from config.tasks import heartbeat_tick_task

    assert client.get("/readyz").json()["beat_heartbeat_age_s"] is None
    heartbeat_tick_task()
    age = client.get("/readyz").json()["beat_heartbeat_age_s"]
    assert age is not None and 0 <= age < 5
