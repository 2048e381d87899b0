"""This test run's share of the shared stores: its Redis keys and broker queues (config/settings/test.py)."""

import redis
from django.conf import settings
from django_redis import get_redis_connection


def broker_key(name: str) -> str:
    """The Redis key of one of this run's broker queues ("grants", "ticks", "default")."""
    return settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] + name


def _unlink_prefixed(client, prefix: str) -> int:
    deleted = 0
    batch: list = []
    for key in client.scan_iter(match=f"{prefix}*", count=5000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += client.unlink(*batch)
            batch.clear()
    if batch:
        deleted += client.unlink(*batch)
    return deleted


def redis_flush() -> None:
    """Redis loses everything this run wrote: the app's keys, the cache and the broker's queues.

    Other runs' keys in the same database stay (the prefix is the run's). On the
    private cluster of tests/redis_cluster.py every master is flushed (it is the
    run's alone), and the run's broker keys on the standalone test database with it.
    """
    client = get_redis_connection("default")
    assert settings.REDIS_KEY_PREFIX.startswith("fctest-"), "refusing to flush a non-test Redis"
    if settings.TEST_REDIS_CLUSTER_URL:
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        assert broker.connection_pool.connection_kwargs.get("db", 0) != 0, "refusing to flush a non-test broker"
        _unlink_prefixed(broker, settings.REDIS_KEY_PREFIX + ":")
        broker.close()
        client.flushdb()  # FLUSHDB on every primary of the private cluster
        return
    assert client.connection_pool.connection_kwargs.get("db", 0) != 0, "refusing to flush a non-test Redis database"
    _unlink_prefixed(client, settings.REDIS_KEY_PREFIX + ":")
