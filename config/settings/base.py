"""Settings shared by every environment; environment modules override a few."""

from csp.constants import NONE, SELF, UNSAFE_INLINE
from kombu import Exchange, Queue

from .environment import BASE_DIR, RUN_DIR, env
from .product import *  # noqa: F403 - the product's own knobs
from .product import PRODUCT_BEAT_SCHEDULE

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# --- apps -------------------------------------------------------------------
DJANGO_APPS = [
    "config.apps.AdminConfig",  # django.contrib.admin with our site (config/admin.py: login rate limits)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # partner API keys (partners.PartnerAPIKey); the package's own APIKey model is unused
    # (its admin is unregistered in partners/admin.py)
    "rest_framework_api_key",
]
LOCAL_APPS = [
    "accounts",
    "coupons",
    "partners",
    "waitingroom",
    "ranking",
    "operations",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "config.middleware.RequestLogMiddleware",
    # The claim and the status poll of a bearer token: a shorter chain (config/api/lean.py, docs/api.md).
    "config.api.lean.LeanMiddleware",
    # The pages everyone refreshes at an opening: one copy for all, kept by the proxy (docs/pages.md).
    "config.shared_pages.SharedPageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # https://whitenoise.readthedocs.io/en/stable/django.html#enable-whitenoise
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Language from the switcher's cookie, else the browser's Accept-Language.
    # https://docs.djangoproject.com/en/5.2/topics/i18n/translation/#how-django-discovers-language-preference
    "django.middleware.locale.LocaleMiddleware",
    # API writes: a body that is not plain JSON is 400 parse_error before any view runs.
    "config.middleware.ApiBodyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The fc_me cookie (name, balance, claims) the shared pages' script reads, set when they change.
    "coupons.me.MeCookieMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.StoreUnavailableMiddleware",
    # Content-Security-Policy (CONTENT_SECURITY_POLICY below) and Permissions-Policy on every answer.
    "config.middleware.SecurityHeadersMiddleware",
]

# Scripts only from our own origin (the pages' files in static/js and Chart.js in
# static/vendor): no inline script, no event handler attributes, no eval. Styles may be
# inline (the meters' widths, the charts' colours, ReDoc's generated CSS); images and fonts
# may be data: URLs (Swagger UI's icons); ReDoc's search runs in a blob: worker.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Browser features no page of ours uses, switched off for every page (and anything injected).
# https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Permissions-Policy
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), usb=(), xr-spatial-tracking=()"
)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.shared_pages.context",
            ],
            # {% shared_fragment %}: the parts of a shared page kept while what they show is unchanged.
            "libraries": {"shared_pages": "config.shared_pages"},
        },
    },
]

# --- PostgreSQL (psycopg 3) -------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/firstcome")}
# Persistent connections with a health check instead of a pool: they are safe in
# gunicorn threads and in Celery's forked workers alike, and kept for good by
# default ("none") so a spike never pays for new connections.
# https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
_conn_max_age = env("DJANGO_CONN_MAX_AGE", default="none")
DATABASES["default"]["CONN_MAX_AGE"] = None if _conn_max_age.lower() == "none" else int(_conn_max_age)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, sessions and the raw client (django-redis) ----------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Prefix of every key firstcome writes through its own Redis modules; tests use
# another so they never see run data.
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", default="fc")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {
            # Fail fast when Redis is down so requests answer 503 instead of hanging.
            # https://github.com/jazzband/django-redis#socket-timeout
            "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=1.0),
            "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=2.0),
            "CONNECTION_POOL_KWARGS": {
                "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=200),
                "health_check_interval": 30,
            },
        },
    }
}
# Redis Cluster (docs/scaling.md): REDIS_URL then names one or more seed nodes,
# "redis://10.0.0.6:6379,redis://10.0.0.7:6379" (db 0 only), the client finds the
# rest; every key of a campaign or room shares one hash tag, so each script runs
# on one node. The Celery broker cannot be a cluster (kombu): set CELERY_BROKER_URL.
REDIS_CLUSTER = env.bool("REDIS_CLUSTER", default=False)
if REDIS_CLUSTER:
    CACHES["default"]["OPTIONS"]["CLIENT_CLASS"] = "config.redis_cluster.ClusterClient"
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# The shared pages and the campaign list's items are rendered once per content in each process
# (config/memo.py, docs/pages.md); false renders every request (what the benchmark's "render" rows measure).
RENDER_MEMO = env.bool("RENDER_MEMO", default=True)

# --- auth -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Django's ModelBackend behind the login rate limits: every door that checks a password spends them.
AUTHENTICATION_BACKENDS = ["accounts.backends.RateLimitedModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Bearer tokens for scripts and load generators: signed JWTs verified without a
# database query; revoked per user by bumping a generation number.
# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
API_TOKEN_LIFETIME_HOURS = env.int("API_TOKEN_LIFETIME_HOURS", default=24 * 7)
# Seconds a web process may keep a user's token generation in memory instead of asking
# Redis: a revoke reaches every process within this (docs/security.md, "Revocation").
# 0: off, every authenticated request reads Redis; at most 0.5 (a system check says so).
API_TOKEN_GENERATION_CACHE_SECONDS = env.float("API_TOKEN_GENERATION_CACHE_SECONDS", default=0.0)

# --- i18n -------------------------------------------------------------------
# Korean and English; a request without a preference (no cookie, no Accept-Language
# naming either) gets LANGUAGE_CODE.
LANGUAGE_CODE = env("LANGUAGE_CODE", default="en")
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("DJANGO_TIME_ZONE", default="Asia/Seoul")
USE_I18N = True
USE_TZ = True

# --- static files (served by WhiteNoise, no CDN) -----------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".run" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- DRF and the OpenAPI schema ---------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only, with the checks of config/api/parsers.py (deep nesting, lone surrogates, huge numbers).
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "config.api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "firstcome API",
    "DESCRIPTION": "First-come-first-served drops: campaigns, claims, waiting rooms, seats and rankings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc assets from the sidecar package: no CDN.
    # https://drf-spectacular.readthedocs.io/en/latest/settings.html#self-contained-ui-installation
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Names for the enums whose field names collide ("state", "status"), so typed clients get stable types.
    # https://drf-spectacular.readthedocs.io/en/latest/settings.html (ENUM_NAME_OVERRIDES)
    "ENUM_NAME_OVERRIDES": {
        "RoomStateEnum": "waitingroom.api.views.ROOM_STATES",
        "SeatStateEnum": "coupons.api.seats.SEAT_STATES",
        "CampaignStatusEnum": "coupons.models.Campaign.Status",
        "GrantStatusEnum": "coupons.models.Grant.Status",
    },
    "TAGS": [
        {
            "name": "partner",
            "description": "Other systems as clients: register drops, run their lifecycle and claim for your own "
            'users, with an API key ("Authorization: Api-Key <key>"). Walk-through: docs/partners.md.',
        }
    ],
}

# --- Celery -----------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = env("CELERY_BROKER_URL") if REDIS_CLUSTER else env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Grants and ticks travel on their own queues, consumed by separate worker
# processes (Procfile), so a grant backlog never delays an admission tick.
# Every queue sits on the anonymous exchange: a message goes straight to the list
# named after its queue, with no binding table in Redis that a flush or restart
# could wipe (kombu silently drops messages whose bindings are gone).
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(""), routing_key=name) for name in ("default", "grants", "ticks"))
CELERY_TASK_ROUTES = {
    "*_tick_task": {"queue": "ticks"},
    "coupons.tasks.grant_transfer_task": {"queue": "grants"},
    "coupons.tasks.grant_drain_task": {"queue": "grants"},
}
# Publishing must not hold a claim's response for long when the broker is down:
# the grant row is already durable and the sweeper re-drives it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
# One message at a time per process: acks_late tasks must not sit prefetched
# behind a slow transfer.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis broker: a message not acknowledged within this time is redelivered.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_BEAT_SCHEDULE_FILENAME = str(RUN_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Liveness of beat and the ticks worker, shown by /readyz; 5 s is frequent
    # enough to notice a dead beat within a few polls.
    "heartbeat": {
        "task": "config.tasks.heartbeat_tick_task",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    **PRODUCT_BEAT_SCHEDULE,  # the apps' periodic jobs (config/settings/product.py)
}

# --- metrics ----------------------------------------------------------------
# /metrics answers a Prometheus scraper that sends this as a bearer token
# (https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config
# authorization), and staff in a browser; empty: staff only.
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- logging: one line per request with its request id ----------------------
LOG_JSON = env.bool("LOG_JSON", default=False)
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_JSON else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our middleware writes the request line; Django's own would double it.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}

# The one line per request (config/middleware.py) follows LOG_LEVEL unless this says
# otherwise; `make run` sets WARNING, which hides them (a spike would flood the terminal).
if env("REQUEST_LOG_LEVEL", default=""):
    LOGGING["loggers"]["firstcome.request"] = {"level": env("REQUEST_LOG_LEVEL")}

HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=2.0)
