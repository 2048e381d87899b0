"""Settings for `make run` on a developer's machine."""

from .base import *  # noqa: F403
from .base import RUN_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A stable per-checkout secret, created by the bootstrap; never used in production.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or (
    (RUN_DIR / "secret-key").read_text().strip()
    if (RUN_DIR / "secret-key").exists()
    else "local-insecure-key-run-make-run"
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])
# Serve static files straight from the app folders, no collectstatic needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # files come from the finders; only production collects them
