"""A small HTTP load driver for tests: many threads, keep-alive connections, every response kept."""

import http.client
import json
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    token: str
    tag: object = None  # e.g. the user id, returned with the result


@dataclass(frozen=True)
class Result:
    call: Call
    status: int
    body: dict


def fire(
    base_url: str,
    calls: Sequence[Call],
    *,
    concurrency: int = 32,
    timeout: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
    source_addresses: Sequence[str] = (),
) -> list[Result]:
    """Send every call from `concurrency` threads, each on its own keep-alive connection.

    An https URL is reached with `ssl_context`; with `source_addresses` thread i sends from
    address i modulo their number (loopback 127.x.y.z: many clients, as a proxy sees them)."""
    parts = urlsplit(base_url)
    results: list[Result | None] = [None] * len(calls)
    cursor = iter(range(len(calls)))
    lock = threading.Lock()

    def connect(number: int) -> http.client.HTTPConnection:
        source = (source_addresses[number % len(source_addresses)], 0) if source_addresses else None
        if parts.scheme == "https":
            return http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout, context=ssl_context, source_address=source
            )
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout, source_address=source)

    def worker(number: int) -> None:
        conn = connect(number)
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            call = calls[index]
            headers = {"Authorization": f"Bearer {call.token}", "Accept": "application/json"}
            for attempt in range(3):
                try:
                    conn.request(call.method, call.path, headers=headers)
                    response = conn.getresponse()
                    raw = response.read()
                    break
                except (ConnectionError, http.client.HTTPException, TimeoutError):
                    conn.close()
                    conn = connect(number)
                    if attempt == 2:
                        raise
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {"raw": raw[:200].decode(errors="replace")}
            results[index] = Result(call, response.status, body)
        conn.close()

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]
