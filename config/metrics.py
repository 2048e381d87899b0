"""Counters in Redis shared by every process and node: Celery task runs by end state, and the
key naming and reading every app's counters use (operations/metrics.py exposes them at /metrics).

A Redis flush resets the counters; Prometheus treats that as a counter reset.
"""

import contextlib

from redis.exceptions import RedisError

from config import redis as fc_redis


def key(name: str) -> str:
    # one hash tag for the global counters: on a Redis Cluster they sit together
    return fc_redis.key("{metrics}", name)


def tasks_key() -> str:
    return key("tasks")


def task_finished(*, task: str, state: str) -> None:
    """Count one Celery task run by its end state (succeeded, failed, retried); best effort."""
    with contextlib.suppress(RedisError):
        fc_redis.client().hincrby(tasks_key(), f"{task}:{state}", 1)


def counters(key: str) -> dict[str, int]:
    return {
        field.decode() if isinstance(field, bytes) else field: int(value)
        for field, value in fc_redis.client().hgetall(key).items()
    }
