"""Processes as systemd runs a unit's: detached, as the unit's User=, stopped per KillMode=
and TimeoutStopSec=; and the readiness checks deploy/topology.py waits for."""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy.units import ROOT, tool

# Celery's SecurityWarning when a worker runs as root, as a -W filter (message prefix).
ROOT_WARNING_FILTER = "ignore:You're running the worker with superuser privileges"


# --- the unprivileged user -----------------------------------------------------------


def app_user_ensure(name: str) -> pwd.struct_passwd:
    """The unit's User=, created as a system user when missing (we are root)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", name],
            check=True,
        )  # fmt: skip
        return pwd.getpwnam(name)


def _user_can_run(user: pwd.struct_passwd, root: Path) -> bool:
    """Whether `user` can read the checkout and run its virtualenv (a checkout under /root cannot)."""
    probe = ["test", "-r", str(root / "manage.py"), "-a", "-x", str(root / ".venv" / "bin" / "python")]
    result = subprocess.run([*_as_user(user), *probe], capture_output=True)
    return result.returncode == 0


def _open_parents(user: pwd.struct_passwd, paths: list[Path]) -> list[str]:
    """chmod o+x every directory above `paths` that `user` cannot traverse, from / down."""
    opened = []
    for path in paths:
        for directory in reversed(path.parents):
            probe = subprocess.run([*_as_user(user), "test", "-x", str(directory)], capture_output=True)
            if probe.returncode != 0 and directory.stat().st_uid == 0:
                directory.chmod(directory.stat().st_mode | 0o001)
                opened.append(str(directory))
    return opened


def _as_user(user: pwd.struct_passwd) -> list[str]:
    # setpriv execs the command (no process in between to forward signals).
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--"]


@dataclass
class RunAs:
    """Who runs the units here: their User= when we are root and it can read the checkout, else we."""

    user: pwd.struct_passwd | None
    note: str = ""

    @classmethod
    def decide(cls, name: str, root: Path = ROOT) -> RunAs:
        if os.geteuid() != 0:
            return cls(None)
        if not tool("setpriv"):
            return cls(None, "setpriv (util-linux) is missing: the services run as root")
        user = app_user_ensure(name)
        note = ""
        if not _user_can_run(user, root):
            # As scripts/services.sh does for PostgreSQL: let the user traverse (not list)
            # the directories above the checkout and the virtualenv's interpreter.
            opened = _open_parents(user, [root, (root / ".venv" / "bin" / "python").resolve()])
            note = f"let user {name} traverse {', '.join(opened)} (chmod o+x)" if opened else ""
        if not _user_can_run(user, root):
            return cls(
                None,
                f"user {name} cannot read {root} or run its .venv: the services run as root"
                " (Celery's warning about it is silenced); move the checkout to run them unprivileged",
            )
        return cls(user, note)

    def prefix(self) -> list[str]:
        return _as_user(self.user) if self.user else []

    def own(self, *paths: Path) -> None:
        """Give the unprivileged user the directories it writes (schedule, static files)."""
        if self.user is None:
            return
        for path in paths:
            for dirpath, _, filenames in os.walk(path):
                os.chown(dirpath, self.user.pw_uid, self.user.pw_gid)
                for filename in filenames:
                    os.chown(os.path.join(dirpath, filename), self.user.pw_uid, self.user.pw_gid)

    def environment(self) -> dict[str, str]:
        if self.user is None:
            env = {"HOME": os.environ.get("HOME", "/root"), "USER": pwd.getpwuid(os.geteuid()).pw_name}
            if os.geteuid() == 0:
                # Only when root could not hand the services to an unprivileged user.
                env["PYTHONWARNINGS"] = ROOT_WARNING_FILTER
            return env
        return {"HOME": self.user.pw_dir, "USER": self.user.pw_name, "LOGNAME": self.user.pw_name}


# --- processes -----------------------------------------------------------------------


@dataclass
class Service:
    """One running unit (or nginx): started detached in its own process group, logging to a file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    stop_timeout: float = 30.0
    kill_mode: str = "control-group"
    ready: Callable[[Service], bool] | None = None
    popen: subprocess.Popen | None = None
    restarts: int = 0

    def start(self, *, timeout: float = 60.0) -> Service:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while self.ready is not None and not self.ready(self):
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} was not ready within {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.1)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def stop(self) -> int | None:
        """As systemd stops a unit: SIGTERM (to the main process alone with KillMode=mixed, else to
        the whole group), then after the unit's TimeoutStopSec SIGKILL to the whole group."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if self.kill_mode == "mixed":
                    os.kill(self.pid, signal.SIGTERM)
                else:
                    os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=self.stop_timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)  # whatever is left of the group
        return self.popen.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def duration(text: str | None, default: float) -> float:
    if not text:
        return default
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|min)?", text)
    if not match:
        raise ValueError(f"cannot read the duration {text!r}")
    return float(match.group(1)) * {"ms": 0.001, "s": 1.0, "min": 60.0, None: 1.0}[match.group(2)]


def http_ok(url: str, *, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def celery_ready(concurrency: int) -> Callable[[Service], bool]:
    return lambda service: len(service.children()) >= concurrency


def alive_for(seconds: float) -> Callable[[Service], bool]:
    def ready(service: Service) -> bool:
        started = getattr(service, "_started", None) or time.monotonic()
        service._started = started  # type: ignore[attr-defined]
        return time.monotonic() - started >= seconds

    return ready


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
