"""The one HTTP load driver: many threads on keep-alive connections, every answer timed and kept.

`manage.py simulate_spike` (coupons/spike.py) and the test suites (spikes, the
chaos harness, the production checks) drive firstcome with it; it replaced the
three Python drivers they each had. The benchmarks' throughput figures come from
wrk (bench/wrk.py) instead: a C client whose own CPU takes little from the server
on a two-core machine, which no Python client can match. Plain threads on
`http.client` connections: on a shared two-core machine the client's own CPU per
request is what the server loses, and the standard library's client spent about
0.25 s of CPU per 1,000 claims where a `requests.Session` per thread spent 0.9 s
(measured: docs/cli.md).
"""

import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

NO_ANSWER = 0  # the status of a request that got no HTTP answer (refused, reset, timed out)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    token: str = ""  # a bearer token, or "" for none
    tag: object = None  # e.g. the user id, returned with the result
    body: dict | None = None  # sent as JSON


@dataclass(frozen=True, kw_only=True)
class Result:
    call: Call
    status: int  # NO_ANSWER when no HTTP answer came
    body: dict | list  # the JSON answer ({"raw": ...} for anything else)
    raw: bytes
    sent_at: float  # seconds from the start of the run
    latency: float  # seconds

    @property
    def code(self) -> str | None:
        """The stable `code` of an error answer."""
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return code if isinstance(code, str) and code else None


class HttpClient:
    """One keep-alive connection to one server; a request that finds it closed by the server (or
    fails on the wire) is sent again on a new one, `attempts` times in all."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        source_address: str | None = None,
        attempts: int = 2,
    ) -> None:
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port or (443 if self._https else 80)
        self._timeout, self._ssl_context, self._attempts = timeout, ssl_context, attempts
        self._source = (source_address, 0) if source_address else None
        self._conn: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        """Open the connection now (a barrier then releases requests, not handshakes)."""
        self._conn = self._new()
        self._conn.connect()

    def _new(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._ssl_context, source_address=self._source
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout, source_address=self._source)

    def request(self, method: str, path: str, *, token: str = "", body: dict | None = None) -> tuple[int, bytes]:
        """(status, body); OSError or HTTPException once every attempt failed."""
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in range(self._attempts):
            if self._conn is None:
                self._conn = self._new()
            try:
                self._conn.request(method, path, body=payload, headers=headers)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == self._attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def body_of(raw: bytes) -> dict | list:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"raw": raw[:200].decode(errors="replace")}


def fire(
    base_url: str,
    calls: Sequence[Call],
    *,
    concurrency: int = 32,
    timeout: float = 30.0,
    attempts: int = 3,
    ssl_context: ssl.SSLContext | None = None,
    source_addresses: Sequence[str] = (),
    on_tick: Callable[[list[Result], float], None] | None = None,
) -> list[Result]:
    """Send every call from `concurrency` threads, each on its own keep-alive connection; a call
    that got no answer after `attempts` tries is a NO_ANSWER result. Returns the results in the
    order of `calls`.

    An https URL is reached with `ssl_context`; with `source_addresses` thread i sends from
    address i modulo their number (loopback 127.x.y.z: many clients, as a proxy sees them).
    `on_tick` is called about four times a second with the results so far (their order of arrival)
    and the seconds since the start, while the threads run."""
    results: list[Result | None] = [None] * len(calls)
    arrived: list[Result] = []
    cursor = iter(range(len(calls)))
    lock = threading.Lock()
    started = time.perf_counter()

    def worker(number: int) -> None:
        source = source_addresses[number % len(source_addresses)] if source_addresses else None
        client = HttpClient(
            base_url, timeout=timeout, ssl_context=ssl_context, source_address=source, attempts=attempts
        )
        try:
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                call = calls[index]
                sent = time.perf_counter()
                try:
                    status, raw = client.request(call.method, call.path, token=call.token, body=call.body)
                except (OSError, http.client.HTTPException):
                    status, raw = NO_ANSWER, b""
                now = time.perf_counter()
                result = Result(
                    call=call, status=status, body=body_of(raw), raw=raw, sent_at=sent - started, latency=now - sent
                )
                results[index] = result
                with lock:
                    arrived.append(result)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(number,), daemon=True) for number in range(concurrency)]
    for thread in threads:
        thread.start()
    while alive := [thread for thread in threads if thread.is_alive()]:
        if on_tick is not None:
            with lock:
                so_far = list(arrived)
            on_tick(so_far, time.perf_counter() - started)
        alive[0].join(0.25)
    return [result for result in results if result is not None]
