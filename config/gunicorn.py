"""gunicorn settings for the web process (Procfile). Tunables come from the environment.

gthread workers: Django is sync and each request waits on Redis/PostgreSQL I/O,
so a few processes with several threads each keep both cores busy. The bench
issue measures the alternatives and may change this.
"""

import os

bind = f"{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# Our RequestLogMiddleware writes the access line with the request id.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
