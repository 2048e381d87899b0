"""Readiness checks of the stores firstcome depends on, and the beat heartbeat."""

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from config import redis as fc_redis
from config.celery import app as celery_app

HEARTBEAT_KEY = "heartbeat:beat"


def database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def redis_check() -> None:
    fc_redis.client().ping()


def broker_check() -> None:
    with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=settings.HEALTH_CHECK_TIMEOUT)
        # The Redis transport connects lazily; a channel forces a real round trip.
        conn.default_channel  # noqa: B018


CHECKS: dict[str, Callable[[], None]] = {
    "database": database_check,
    "redis": redis_check,
    "broker": broker_check,
}


def readiness() -> dict[str, dict]:
    """Run every check; each reports ok, its latency and the error if any."""
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            results[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    return results


def heartbeat_record() -> None:
    fc_redis.client().set(fc_redis.key(HEARTBEAT_KEY), f"{time.time():.3f}", ex=3600)


def heartbeat_age() -> float | None:
    """Seconds since beat last ran a tick through a worker, None if never (or Redis is down)."""
    try:
        value = fc_redis.client().get(fc_redis.key(HEARTBEAT_KEY))
    except Exception:  # noqa: BLE001 - reported by the redis check already
        return None
    return None if value is None else round(time.time() - float(value), 1)
