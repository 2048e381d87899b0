"""Settings for bench/: the production settings on a throwaway database and Redis db, over plain HTTP.

Everything a request does in production happens here too (JSON logs, the same
middleware, renderers and authentication); only the stores are the benchmark's
own, and the URL root adds the baselines of bench/ that production never mounts.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")  # wrk speaks plain HTTP to the server

from .production import *  # noqa: F403
from .production import CACHES, DATABASES, REDIS_URL, env

BENCH_REDIS_DB = env.int("BENCH_REDIS_DB", default=10)
REDIS_URL = env("BENCH_REDIS_URL", default=REDIS_URL.rsplit("/", 1)[0] + f"/{BENCH_REDIS_DB}")
REDIS_KEY_PREFIX = "fcbench"
CACHES["default"]["LOCATION"] = REDIS_URL
CACHES["default"]["KEY_PREFIX"] = REDIS_KEY_PREFIX
CELERY_BROKER_URL = env("BENCH_CELERY_BROKER_URL", default=REDIS_URL)
DATABASES["default"]["NAME"] = env("BENCH_DATABASE_NAME", default="firstcome_bench")
ROOT_URLCONF = "bench.urls"
