"""The benchmark stack: a throwaway database, real server and worker processes, and wrk.

Every process runs `config.settings.bench` (the production settings on the
benchmark's own PostgreSQL database and Redis db). The harness itself uses the
same settings in-process for setup and for counting rows afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
WORK = ROOT / ".run" / "bench"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
sys.path.insert(0, str(ROOT))


def django_setup() -> None:
    import django

    django.setup()


def bench_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.bench",
        PYTHONUNBUFFERED="1",
        DJANGO_CONN_MAX_AGE="none",
        CELERY_LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


# --- the database and Redis db ----------------------------------------------


def _admin_connect():
    """A connection to the server's `postgres` database, to create or drop the benchmark's."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    dsn = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"], "dbname": "postgres"}
    if db.get("PASSWORD"):
        dsn["password"] = db["PASSWORD"]
    return psycopg.connect(**dsn, autocommit=True), db["NAME"]


def database_ensure() -> None:
    """Create the benchmark database if it is missing, then migrate it (in this process)."""
    from django.core.management import call_command

    conn, name = _admin_connect()
    with conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)


def database_recreate() -> None:
    """Drop and create the benchmark database, migrate it and empty its Redis db."""
    from django.db import connections

    connections.close_all()
    conn, name = _admin_connect()
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    database_ensure()
    redis_flush()


def redis_flush() -> None:
    """Empty the benchmark's Redis db (never another: the settings pin it)."""
    from config import redis as fc_redis

    fc_redis.client().flushdb()


def _resp(args: list) -> bytes:
    """One command in the Redis protocol (RESP)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def batch_send(batch, outcome: str, *, chunk: int = 20_000) -> int:
    """Run a ScriptBatch's calls (the same EVALSHA commands as `batch.execute()`)
    over one raw socket, `chunk` a write, replies parsed by hiredis; every reply's
    first element must be `outcome`. About ten times faster than redis-py's
    pipeline, which is what filling a room with a million users needs.

    The calls must be idempotent: a chunk that met an error (another test on a
    shared server briefly sets maxmemory to 1 byte) is sent again.
    """
    import socket

    from config import redis as fc_redis

    redis_client = fc_redis.client()
    kwargs = redis_client.connection_pool.connection_kwargs
    for script in {id(s): s for s, _, _ in batch.calls if s is not None}.values():
        redis_client.script_load(script.script)
    want = outcome.encode()
    with socket.create_connection((kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379))) as sock:
        hello = []
        if kwargs.get("password"):
            hello.append(_resp(["AUTH", kwargs["password"]]))
        hello.append(_resp(["SELECT", kwargs.get("db", 0)]))
        _exchange(sock, b"".join(hello), len(hello))
        for first in range(0, len(batch.calls), chunk):
            calls = batch.calls[first : first + chunk]
            payload = b"".join(
                _resp(list(args)) if script is None else _resp(["EVALSHA", script.sha, len(keys), *keys, *args])
                for script, keys, args in calls
            )
            for _ in range(20):
                replies = _exchange(sock, payload, len(calls))
                if not any(isinstance(reply, Exception) for reply in replies):
                    break
                time.sleep(0.5)
            for reply in replies:
                got = reply[0] if isinstance(reply, list) else reply
                if got != want:
                    raise RuntimeError(f"unexpected script reply {reply!r} (wanted {outcome})")
    return len(batch.calls)


def _exchange(sock, payload: bytes, count: int) -> list:
    import hiredis

    sock.sendall(payload)
    reader, replies = hiredis.Reader(), []
    while len(replies) < count:
        data = sock.recv(1 << 20)
        if not data:
            raise ConnectionError("Redis closed the connection")
        reader.feed(data)
        while (reply := reader.gets()) is not False:
            replies.append(reply)
    return replies


def users_create(count: int, *, prefix: str = "bench-") -> list[int]:
    """`count` users named `<prefix><n>` in bulk (no usable password), returning their ids in order."""
    from accounts.models import User

    existing = User.objects.filter(username__startswith=prefix).count()
    if existing < count:
        User.objects.bulk_create(
            [User(username=f"{prefix}{i:07d}", password="!") for i in range(existing, count)], batch_size=5000
        )
    return list(User.objects.filter(username__startswith=prefix).order_by("pk").values_list("pk", flat=True)[:count])


def tokens_write(user_ids: list[int], path: Path) -> Path:
    """Bearer tokens of the users, one per line, with their generations warm in Redis
    (the users logged in before the drop, as `api_token_issue` leaves them)."""
    from accounts import services
    from accounts.models import User
    from accounts.tokens import api_token_build

    path.parent.mkdir(parents=True, exist_ok=True)
    # Whole rows: simplejwt reads fields that `.only()` would defer, one query per token.
    users = list(User.objects.filter(pk__in=user_ids))
    for first in range(0, len(users), 5000):
        chunk = users[first : first + 5000]
        services.api_token_generation_warm_many(generations={u.pk: u.api_token_generation for u in chunk})
    path.write_text("\n".join(api_token_build(user=user)[0] for user in users) + "\n")
    return path


def room_create(*, slug: str, title: str, **fields):
    """A waiting room open a minute ago, published to Redis, with no back-pressure and no per-IP
    limit (every bench request comes from 127.0.0.1); `fields` set the rest."""
    from datetime import timedelta

    from django.utils import timezone

    from waitingroom.models import WaitingRoom
    from waitingroom.services import rooms

    return rooms.room_create(
        slug=slug,
        title=title,
        opens_at=timezone.now() - timedelta(minutes=1),
        status=WaitingRoom.Status.QUEUEING,
        prequeue=False,
        max_pending_grants=0,
        max_store_latency_ms=0,
        rate_ip_burst=0,
        **fields,
    )


def campaign_create(*, slug: str, quantity: int, amount: int = 10, unlisted: bool = True):
    """A published, open credit campaign (its gate exists in Redis), unlisted unless asked: a
    bench drop stays off the home page and the rankings (b4, which measures the rankings, lists its own).

    Every bench request comes from 127.0.0.1, so the per-IP limit is off; the
    per-user one stays as in production (a bench user claims a few times over
    the whole run, well inside its burst)."""
    from datetime import timedelta

    from django.utils import timezone

    from coupons.models import Campaign
    from coupons.services import campaigns

    now = timezone.now()
    campaign = campaigns.campaign_create(
        slug=slug,
        title=f"Bench {slug}",
        quantity=quantity,
        amount=amount,
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(days=1),
        rate_ip_burst=0,
        unlisted=unlisted,
    )
    campaigns.campaign_publish(campaign=campaign)
    return Campaign.objects.get(pk=campaign.pk)


# --- processes ----------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    extra: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


def spawn(name: str, argv: list[str], **env: str) -> Proc:
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / f"{name}.log"
    handle = log.open("w")
    popen = subprocess.Popen(
        argv, cwd=ROOT, env=bench_env(**env), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    return Proc(name=name, popen=popen, log=log)


PORT = 8765

# name -> (argv builder, description). Two processes each: one per core. "granian"
# is what the Procfile runs in production (the `servers` section chose it).
SERVERS = {
    "gunicorn-sync": (
        lambda port: [str(VENV_BIN / "gunicorn"), "-k", "sync", "-w", "2", "--error-logfile", "-",
                      "-b", f"127.0.0.1:{port}", "config.wsgi:application"],
        "gunicorn, 2 sync workers",
    ),
    "gunicorn-gthread": (
        lambda port: [str(VENV_BIN / "gunicorn"), "-k", "gthread", "-w", "2", "--error-logfile", "-",
                      "--threads", "8", "-b", f"127.0.0.1:{port}", "config.wsgi:application"],
        "gunicorn, 2 gthread workers x 8 threads",
    ),
    "uvicorn": (
        lambda port: [str(VENV_BIN / "uvicorn"), "config.asgi:application", "--workers", "2", "--port", str(port),
                      "--no-access-log", "--log-level", "warning"],
        "uvicorn (ASGI), 2 workers",
    ),
    "granian": (
        lambda port: [str(VENV_BIN / "granian"), "--interface", "wsgi", "--workers", "2", "--blocking-threads", "4",
                      "--port", str(port), "--no-access-log", "--log-level", "warning", "config.wsgi:application"],
        "granian (WSGI), 2 workers x 4 threads",
    ),
    "granian-8-threads": (
        lambda port: [str(VENV_BIN / "granian"), "--interface", "wsgi", "--workers", "2", "--blocking-threads", "8",
                      "--port", str(port), "--no-access-log", "--log-level", "warning", "config.wsgi:application"],
        "granian (WSGI), 2 workers x 8 threads",
    ),
}  # fmt: skip


def server_start(kind: str, port: int = PORT, **env: str) -> Proc:
    build, description = SERVERS[kind]
    proc = spawn(f"web-{kind}", build(port), **env)
    proc.extra.update(url=f"http://127.0.0.1:{port}", description=description)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{kind} exited:\n{proc.log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{proc.extra['url']}/healthz", timeout=2) as r:
            if r.status == 200:
                return proc
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"{kind} did not answer /healthz:\n{proc.log.read_text()[-3000:]}")


def worker_start(name: str, *, processes: int, queues: str = "grants,default") -> Proc:
    argv = [str(VENV_BIN / "celery"), "-A", "config", "worker", "-Q", queues, "-n", f"{name}@%h",
            "--concurrency", str(processes), "--pool", "prefork", "--without-gossip", "--without-mingle",
            "--loglevel", "WARNING"]  # fmt: skip
    proc = spawn(name, argv)
    time.sleep(0.5)
    if proc.popen.poll() is not None:
        raise RuntimeError(f"worker {name} exited:\n{proc.log.read_text()[-3000:]}")
    return proc
