"""The raw Redis client and key naming shared by every app's Redis module."""

from django.conf import settings
from django_redis import get_redis_connection
from redis import Redis


def client() -> Redis:
    """The process-wide Redis client (django-redis pool of the default cache)."""
    return get_redis_connection("default")


def key(*parts: str | int) -> str:
    """A key under the project prefix: key("{camp:7}", "next") -> "fc:{camp:7}:next"."""
    return ":".join((settings.REDIS_KEY_PREFIX, *map(str, parts)))
