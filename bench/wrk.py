"""wrk, the benchmarks' load generator: a C client, so the client's own CPU takes little from the
server on a shared machine (the tests and simulate_spike use config/http_load.py instead)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.stack import ROOT


def wrk_available() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        path = shutil.which("wrk")
        if path:
            return path
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    path = shutil.which("wrk")
    if not path:
        raise RuntimeError("wrk is required: sudo apt-get install wrk")
    return path


def fire(
    url: str,
    tokens: Path,
    *,
    requests: int = 0,
    seconds: float = 0,
    connections: int = 256,
    threads: int = 2,
    method: str = "POST",
    paths: list[str] | None = None,
    rate: float = 0,
    languages: str = "",
) -> dict:
    """Drive `url` with wrk: a fixed request budget (stopped as soon as it is spent) or a duration.

    With `rate`, each connection paces itself (fire.lua's WRK_PACE_MS) so about
    `rate` requests per second are offered in all; otherwise as fast as answered. With `languages`
    ("ko,en") each request's Accept-Language is one of them, drawn at random.
    Returns wrk's figures: requests, seconds, rate, status codes, socket errors, latency percentiles (ms).
    """
    wrk = wrk_available()
    markers = Path(tempfile.mkdtemp(prefix="wrk-"))
    paths_file = ""
    if paths:
        paths_file = str(markers / "paths.txt")
        Path(paths_file).write_text("\n".join(paths) + "\n")
    done_dir = markers / "done"
    done_dir.mkdir()
    per_thread = -(-requests // threads) if requests else 0
    duration = f"{int(seconds)}s" if seconds else "3600s"
    argv = [wrk, "-t", str(threads), "-c", str(connections), "-d", duration, "--timeout", "30s",
            "-s", str(ROOT / "bench" / "wrk" / "fire.lua"), url, "--",
            str(tokens), method, str(per_thread), str(done_dir), paths_file]  # fmt: skip
    env = {**os.environ, "WRK_PACE_MS": str(round(connections * 1000 / rate)) if rate else "0",
           "WRK_LANGUAGES": languages}  # fmt: skip
    popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        if requests:
            while popen.poll() is None and len(list(done_dir.iterdir())) < threads:
                time.sleep(0.01)
            if popen.poll() is None:
                popen.send_signal(signal.SIGINT)
        out, _ = popen.communicate(timeout=max(60, seconds * 2))
    finally:
        if popen.poll() is None:
            popen.kill()
        shutil.rmtree(markers, ignore_errors=True)
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no figures:\n{out[-3000:]}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    secs = data["duration_us"] / 1e6
    lat = data["latency_us"]
    return {
        "requests": data["requests"],
        "seconds": round(secs, 2),
        "rps": round(data["requests"] / secs, 1) if secs else 0.0,
        "codes": dict(sorted(data["codes"].items())),
        "socket_errors": {k: v for k, v in data["errors"].items() if v and k != "status"},
        "p50_ms": round(lat["p50"] / 1000, 2),
        "p90_ms": round(lat["p90"] / 1000, 2),
        "p99_ms": round(lat["p99"] / 1000, 2),
        "max_ms": round(lat["max"] / 1000, 2),
        "connections": connections,
        "wrk_threads": threads,
        "offered_rps": rate or None,
    }
