"""Real firstcome processes for tests: Celery workers and the production web server on the test stores."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _database_url() -> str:
    """The URL of the test database pytest-django created (not the run database)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=_database_url(),
        TEST_REDIS_URL=settings.REDIS_URL,
        TEST_CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        TEST_RUN_ID=settings.TEST_RUN_ID,  # the same key prefix and broker queues as this run
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        DJANGO_CONN_MAX_AGE="none",
    )
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    popen: subprocess.Popen
    log: Path
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def kill(self) -> None:
        """SIGKILL the process and its children, as a crash would."""
        for pid in [*self.children(), self.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_worker(
    tmp_path: Path, *, name: str = "w1", beat: bool = True, concurrency: int = 2, loglevel: str = "WARNING", **env: str
) -> Proc:
    """A real Celery worker (prefork pool) on every queue, with embedded beat by default; at INFO
    its log names every task it receives."""
    log = tmp_path / f"worker-{name}.log"
    args = [
        str(VENV_BIN / "celery"),
        "-A",
        "config",
        "worker",
        "-Q",
        "grants,default,ticks",
        "-n",
        f"{name}@%h",
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        loglevel,
    ]
    if beat:
        args += ["-B", "--schedule", str(tmp_path / f"beat-{name}")]
    popen = subprocess.Popen(
        args, cwd=ROOT, env=process_env(**env), stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    proc = Proc(popen, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # ready once the pool children exist
        if popen.poll() is not None:
            raise RuntimeError(f"worker exited:\n{proc.output()}")
        if len(proc.children()) >= concurrency:
            return proc
        time.sleep(0.1)
    raise RuntimeError(f"worker did not start:\n{proc.output()}")


def start_web(tmp_path: Path, *, name: str = "web", workers: int = 2, threads: int = 4, **env: str) -> Proc:
    """granian serving firstcome with the test settings, as the Procfile runs it;
    `proc.extra["url"]` is its base URL."""
    port = free_port()
    log = tmp_path / f"{name}.log"
    argv = [str(VENV_BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(threads), "--no-access-log",
            "--log-level", "warning", "config.wsgi:application"]  # fmt: skip
    popen = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=process_env(**env),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc = Proc(popen, log, {"url": f"http://127.0.0.1:{port}", "port": port})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"web exited:\n{proc.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"web did not start:\n{proc.output()}")


def wait_until(predicate, *, timeout: float, interval: float = 0.2, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
