"""A private 3-master Redis Cluster on loopback ports, to run the Redis tests against a cluster (docs/scaling.md).

    .venv/bin/python -m tests.redis_cluster tests/coupons/test_claim.py -x -q

starts one in a temporary directory, runs pytest against it (TEST_REDIS_CLUSTER_URL)
and tears it down; tests/config/test_redis_cluster.py does the same inside `make test`.
"""

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent

# The Redis-touching suites that must pass unchanged on a cluster, plus the
# cluster's own checks (key spread, one slot per script call).
CLUSTER_SUITES = (
    "tests/coupons/test_claim.py",
    "tests/coupons/test_seats.py",
    "tests/coupons/test_gate_repair.py",
    "tests/waitingroom/test_room.py",
    "tests/waitingroom/test_heartbeat.py",
    "tests/waitingroom/test_stock_cap.py",  # the stock and the room on different nodes (waitingroom/protected.py)
    "tests/waitingroom/test_failover.py",
    "tests/ranking/test_ranking.py",
    "tests/config/test_cluster_keys.py",
)


def _free_ports(count: int) -> list[int]:
    """Distinct loopback ports nothing listens on (all held open together, so they differ)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@dataclass
class LocalCluster:
    directory: Path
    ports: list[int]
    processes: list[subprocess.Popen]

    @property
    def url(self) -> str:
        """Every master as a seed, in the form REDIS_URL takes in cluster mode."""
        return ",".join(f"redis://127.0.0.1:{port}/0" for port in self.ports)

    def nodes(self) -> list[redis.Redis]:
        return [redis.Redis(host="127.0.0.1", port=port, socket_timeout=5) for port in self.ports]

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a crash would."""
        process = self.processes[self.ports.index(port)]
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start(masters: int = 3, *, options: tuple[str, ...] = (), timeout_s: float = 30.0) -> LocalCluster:
    """Start `masters` cluster-enabled redis-servers (no persistence, no replicas) and join them;
    `options` are more redis-server arguments for every node."""
    directory = Path(tempfile.mkdtemp(prefix="fc-redis-cluster-"))
    ports = _free_ports(2 * masters)
    data_ports, bus_ports = ports[:masters], ports[masters:]
    cluster = LocalCluster(directory, data_ports, [])
    try:
        for port, bus_port in zip(data_ports, bus_ports, strict=True):
            node_dir = directory / str(port)
            node_dir.mkdir()
            argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                    "--cluster-port", str(bus_port), "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no",
                    "--dir", str(node_dir), "--logfile", str(node_dir / "redis.log"), *options]  # fmt: skip
            cluster.processes.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout_s
        for node in cluster.nodes():
            _wait(lambda node=node: node.ping(), deadline, "a cluster node did not start")
        addresses = [f"127.0.0.1:{port}" for port in data_ports]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=timeout_s,
        )
        for node in cluster.nodes():
            _wait(lambda node=node: _cluster_ok(node), deadline, "the cluster did not reach cluster_state:ok")
        return cluster
    except BaseException:
        cluster.stop()
        raise


def _cluster_ok(node: redis.Redis) -> bool:
    info = node.execute_command("CLUSTER", "INFO")
    if isinstance(info, dict):
        return info.get("cluster_state") == "ok"
    return "cluster_state:ok" in (info.decode() if isinstance(info, bytes) else str(info))


def _wait(ready, deadline: float, message: str) -> None:
    while True:
        with contextlib.suppress(redis.RedisError):
            if ready():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(message)
        time.sleep(0.05)


def _checkout_run_id() -> str:
    """config/settings/test.py's run id of this checkout, for a run started without Django."""
    return hashlib.sha1(str(ROOT.resolve()).encode()).hexdigest()[:8]


def pytest_env(cluster: LocalCluster, database_url: str) -> dict[str, str]:
    """The environment of a pytest run on `cluster`; its own database, so it never meets the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(TEST_REDIS_CLUSTER_URL=cluster.url, DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    # a run of its own on the shared broker database too (config/settings/test.py)
    env["TEST_RUN_ID"] = f"{os.environ.get('TEST_RUN_ID') or _checkout_run_id()}-cluster"
    return env


def main(argv: list[str]) -> int:
    cluster = start()
    try:
        env = pytest_env(cluster, os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firstcome"))
        args = argv or [*CLUSTER_SUITES, "-q"]
        return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env).returncode
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
