"""HTTPS requests to a topology from any loopback address, as clients behind many addresses."""

import contextlib
import http.client
import json
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.topology import Topology


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


def request(
    topology: Topology,
    method: str,
    path: str,
    *,
    source: str = "127.0.0.1",
    token: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> Answer:
    """One request on a fresh TLS connection (accept, handshake and all) from `source`."""
    sent = {"Accept": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
    started = time.perf_counter()
    conn = http.client.HTTPSConnection(
        "127.0.0.1", topology.https_port, timeout=timeout, context=topology.ssl_context(), source_address=(source, 0)
    )
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return Answer(response.status, response.headers, data, time.perf_counter() - started)


def loopback_addresses(count: int, *, block: int) -> list[str]:
    """`count` distinct addresses 127.<block>.y.z (block 0 is 127.0.0.x, kept for the tests' own requests)."""
    assert 1 <= block <= 255
    return [f"127.{block}.{i // 250}.{i % 250 + 1}" for i in range(count)]


def established(port: int) -> int:
    """TCP connections in ESTABLISHED state whose local port is `port` (nginx's side)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    count += 1
    return count
