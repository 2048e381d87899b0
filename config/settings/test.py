"""Settings for the pytest suite: the real PostgreSQL and Redis, isolated from run data
and from every other checkout's (or xdist worker's) test run on the same stores."""

import hashlib
import os

from .base import *  # noqa: F403
from .base import CACHES, CELERY_BROKER_TRANSPORT_OPTIONS, REDIS_URL, env

SECRET_KEY = "test-secret-key-not-for-anything-else-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

# One test run's name on the shared stores: a checkout (its path) and an xdist worker.
# Two checkouts or worktrees testing at once use different test databases, Redis key
# prefixes and broker queues, so they never see (or flush) each other's state. The
# processes a test starts inherit it through TEST_RUN_ID (tests/processes.py).
TEST_RUN_ID = env(
    "TEST_RUN_ID",
    default=hashlib.sha1(str(BASE_DIR.resolve()).encode()).hexdigest()[:8]
    + (f"-{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""),
)
# Tests get their own Redis database (run data lives in db 0) and, inside it, a key
# prefix of their run; the suite deletes that prefix's keys, never another's.
TEST_REDIS_DB = env.int("TEST_REDIS_DB", default=15)
REDIS_URL = env("TEST_REDIS_URL", default=REDIS_URL.rsplit("/", 1)[0] + f"/{TEST_REDIS_DB}")
REDIS_KEY_PREFIX = f"fctest-{TEST_RUN_ID}"
CACHES["default"]["LOCATION"] = REDIS_URL
CACHES["default"]["KEY_PREFIX"] = REDIS_KEY_PREFIX
CELERY_BROKER_URL = env("TEST_CELERY_BROKER_URL", default=REDIS_URL)
# The seeds of a private Redis Cluster (tests/redis_cluster.py starts one): the
# same tests then run against it; the broker stays on the standalone test database.
TEST_REDIS_CLUSTER_URL = env("TEST_REDIS_CLUSTER_URL", default="")
if TEST_REDIS_CLUSTER_URL:
    REDIS_CLUSTER = True
    REDIS_URL = TEST_REDIS_CLUSTER_URL
    CACHES["default"]["LOCATION"] = REDIS_URL
    CACHES["default"]["OPTIONS"] = {
        **CACHES["default"]["OPTIONS"],
        "CLIENT_CLASS": "config.redis_cluster.ClusterClient",
    }
# Chaos tests shorten redelivery: kombu restores a message left unacknowledged past
# the visibility timeout on a periodic sweep (by default every 10 x 10 s); with
# TEST_CELERY_RESTORE_SECONDS it sweeps that often.
# https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.redis.html
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS}
# The run's queues live under its prefix too, so a worker of another checkout never
# takes this run's tasks (kombu prefixes every key of the Redis transport).
# https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.redis.html
CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = f"{REDIS_KEY_PREFIX}:broker:"
if "TEST_CELERY_RESTORE_SECONDS" in env.ENVIRON:
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "unacked_restore_interval": env.int("TEST_CELERY_RESTORE_SECONDS"),
        "unacked_restore_throttle": 1,
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The test process closes its connection after each request; processes that
# tests start (workers, the web server) keep theirs, as in production, by setting
# DJANGO_CONN_MAX_AGE.
DATABASES = {**DATABASES}
DATABASES["default"] = {**DATABASES["default"]}
# pytest-django adds the xdist worker's suffix to this name by itself.
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{TEST_RUN_ID.split('-')[0]}"}
if "DJANGO_CONN_MAX_AGE" not in env.ENVIRON:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING")
LOGGING["root"]["level"] = LOG_LEVEL
WHITENOISE_USE_FINDERS = True  # serve static files without collectstatic in tests
STATIC_ROOT = None  # files come from the finders; only production collects them
