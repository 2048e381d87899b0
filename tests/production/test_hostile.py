"""Slow and hostile clients through the proxy: bodies sent a byte a second and idle connections,
each from its own loopback address, do not slow /healthz or a claim, and leave nothing behind."""

import contextlib
import math
import os
import resource
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db.models import Q

from accounts.models import User
from accounts.tokens import api_token_build
from config import redis as fc_redis
from tests.coupons.factories import published_campaign
from tests.coupons.test_spike import make_users
from tests.processes import wait_until
from tests.production.client import established, loopback_addresses, request

pytestmark = [pytest.mark.production, pytest.mark.load]

SLOW_BODIES = 200
IDLE = 1_000
BODY_LENGTH = 1_000  # announced; a byte a second: it would take a quarter of an hour
WINDOW = 7.0  # seconds of measurement while every attacker is connected (nginx closes idle ones at 10 s)
PROBES = 4  # threads sending /healthz and claims meanwhile
DESCRIPTORS_NEEDED = SLOW_BODIES + IDLE + 500


@pytest.fixture(scope="module", autouse=True)
def descriptors():
    """The attack holds 1,200 sockets in this process: raise the soft limit up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < DESCRIPTORS_NEEDED:
        if hard != resource.RLIM_INFINITY and hard < DESCRIPTORS_NEEDED:
            pytest.skip(f"needs {DESCRIPTORS_NEEDED} open files, the hard limit is {hard} (ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTORS_NEEDED, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def site(topology_factory):
    return topology_factory(web_nodes=1)


class SlowBodies:
    """Connections that announce a body and then send it one byte a second (a "slow POST")."""

    def __init__(self, host_port: tuple[str, int], addresses: list[str], *, path: str, context=None, extra=""):
        self.sockets: list[socket.socket] = []
        self.stopped = threading.Event()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{host_port[1]}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {BODY_LENGTH}\r\n\r\n"
        ).encode()

        def open_one(address: str) -> socket.socket:
            raw = socket.create_connection(host_port, timeout=10, source_address=(address, 0))
            sock = context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw
            sock.sendall(head + b"{")
            return sock

        with ThreadPoolExecutor(16) as pool:
            self.sockets = list(pool.map(open_one, addresses))
        self.sent = 1
        self.ended: list[str] = []  # why connections stopped waiting, for the assertion messages
        # One thread at a time on the sockets: a TLS socket written by the trickle while still_open()
        # reads it (and flips it to non-blocking) can fail in either, and count as closed by the server.
        self.using = threading.Lock()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stopped.wait(1.0):
            with self.using:
                for sock in self.sockets:
                    with contextlib.suppress(OSError):
                        sock.send(b" ")
            self.sent += 1

    def still_open(self) -> int:
        """How many are still waiting: nothing to read yet (no answer, no EOF, no reset)."""
        waiting = 0
        self.ended.clear()
        with self.using:
            for sock in self.sockets:
                sock.setblocking(False)
                try:
                    data = sock.recv(1)
                    self.ended.append(f"read {data!r} after {self.sent} bytes")
                except (ssl.SSLWantReadError, BlockingIOError):
                    waiting += 1
                except OSError as error:
                    self.ended.append(f"{type(error).__name__}: {error} after {self.sent} bytes")
                finally:
                    sock.setblocking(True)
        return waiting

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def idle_connections(port: int, addresses: list[str]) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(a, 0)) for a in addresses]


def closed_by_server(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset (reset_timedout_connection)
        return True


def descriptors_of(pids: list[int]) -> int:
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)


def threads_of(pids: list[int]) -> int:
    return sum(len(os.listdir(f"/proc/{pid}/task")) for pid in pids)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def users_with_tokens(count: int) -> list[str]:
    return [api_token_build(user=u)[0] for u in make_users(count, f"probe-{time.monotonic_ns()}-")]


def probe(site, *, seconds: float, claim_path: str, tokens) -> dict[str, list]:
    """PROBES threads, each alternating /healthz and a claim (a new user each) on fresh connections."""
    results: dict[str, list] = {"healthz": [], "claim": []}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run() -> None:
        while time.monotonic() < deadline:
            for kind in ("healthz", "claim"):
                if kind == "healthz":
                    answer = request(site, "GET", "/healthz", timeout=10)
                else:
                    with lock:
                        token = next(tokens)
                    answer = request(site, "POST", claim_path, token=token, timeout=10)
                with lock:
                    results[kind].append((answer.status, answer.seconds))

    threads = [threading.Thread(target=run) for _ in range(PROBES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_slow_bodies_and_idle_connections_do_not_stop_the_site_and_leave_nothing(site, orm):
    # given: a drop, users with tokens, and the site warmed up (every web thread started)
    campaign = published_campaign(quantity=20_000, rate_ip_burst=0)
    claim_path = f"/api/v1/campaigns/{campaign.slug}/claims/"
    tokens = iter(users_with_tokens(3_000))
    probe(site, seconds=1.0, claim_path=claim_path, tokens=tokens)
    web = site.web_service(site.web_ports[0])
    web_pids, nginx_pids = [web.pid, *web.children()], site.nginx_workers()
    before = {
        "connections": established(site.https_port),
        "nginx descriptors": descriptors_of(nginx_pids),
        "web threads": threads_of(web_pids),
    }
    keys_before = set(fc_redis.client().scan_iter(match=fc_redis.key("*"), count=5000))

    # when: 200 clients trickle claim bodies and 1,000 sit idle, each from its own address
    slow_addresses = loopback_addresses(SLOW_BODIES, block=10)
    idle_addresses = loopback_addresses(IDLE, block=11)
    slow = SlowBodies(("127.0.0.1", site.https_port), slow_addresses, path=claim_path, context=site.ssl_context())
    idle = idle_connections(site.https_port, idle_addresses)
    opened = time.monotonic()
    try:
        results = probe(site, seconds=WINDOW, claim_path=claim_path, tokens=tokens)

        # then: every attacker was still connected through the whole window
        assert time.monotonic() - opened < 10, "the window outlasted nginx's header timeout"
        assert not any(closed_by_server(sock) for sock in idle), "an idle connection closed during the window"
        assert slow.still_open() == SLOW_BODIES, slow.ended
        # and the site answered as if they were not there
        for kind, answers in results.items():
            statuses = {status for status, _ in answers}
            assert statuses == {200 if kind == "healthz" else 202}, (kind, statuses, site.logs())
            latencies = [seconds for _, seconds in answers]
            p99 = percentile(latencies, 0.99)
            print(f"\n{kind}: {len(latencies)} answers, p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
                  f"p99 {p99 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")  # fmt: skip
            assert len(latencies) >= 50, kind
            assert p99 < 1.0, f"{kind}: p99 {p99:.2f} s"

        # then: nginx closes the idle ones at its header timeout (10 s), the trickling ones stay
        wait_until(lambda: all(closed_by_server(sock) for sock in idle), timeout=10, message="idle ones closed")
        assert slow.still_open() == SLOW_BODIES, slow.ended
    finally:
        slow.close()
        for sock in idle:
            sock.close()

    # then: none of the trickled bodies reached a web node (nginx logs each when its client leaves)
    slow_set = set(slow_addresses)

    def slow_requests_logged() -> list[list[str]]:
        lines = (site.run_dir / "nginx-access.log").read_text().splitlines()
        return [line.split() for line in lines if line.split()[0] in slow_set]

    wait_until(lambda: len(slow_requests_logged()) == SLOW_BODIES, timeout=10, message="nginx to log them")
    assert {fields[-4] for fields in slow_requests_logged()} == {"-"}, "a slow body was passed to a web node"

    # and nothing is left: connections, nginx's descriptors, web threads, Redis keys of the attackers
    def settled() -> dict[str, int]:
        return {
            "connections": established(site.https_port),
            "nginx descriptors": descriptors_of(nginx_pids),
            "web threads": threads_of(web_pids),
        }

    wait_until(
        lambda: all(value <= before[name] + 2 for name, value in settled().items()), timeout=15, message="release"
    )
    keys_after = set(fc_redis.client().scan_iter(match=fc_redis.key("*"), count=5000))
    attackers = tuple(address.encode() for address in [*slow_addresses, *idle_addresses])
    assert not [key for key in keys_after if key.endswith(attackers)], "a Redis key of an attacker's address"
    assert not [key for key in keys_after - keys_before if b":ip:" in key], "a per-address bucket appeared"
    assert User.objects.filter(Q(username__startswith="probe-")).count() == 3_000


def test_one_address_is_capped_others_are_not(site, orm):
    # given: one address holding as many requests in progress as the proxy allows it
    campaign = published_campaign(quantity=10, rate_ip_burst=0)
    path = f"/api/v1/campaigns/{campaign.slug}/claims/"
    hog = "127.12.0.1"
    slow = SlowBodies(
        ("127.0.0.1", site.https_port), [hog] * site.conn_per_client, path=path, context=site.ssl_context()
    )
    try:
        # when: it asks for one more
        refused = request(site, "GET", "/api/v1/campaigns/", source=hog)

        # then: 429 in the API's error shape, and every other address is served
        assert refused.status == 429
        assert refused.json()["code"] == "too_many_connections"
        assert refused.headers["Retry-After"] == "1"
        assert request(site, "GET", "/healthz", source="127.12.0.2").status == 200
    finally:
        slow.close()
    wait_until(lambda: request(site, "GET", "/healthz", source=hog).status == 200, timeout=10, message="hog freed")


def _healthz_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            return sock.recv(1) != b""
    except OSError:  # socket.timeout is one
        return False


def test_without_the_proxy_a_few_slow_bodies_starve_a_web_node(site):
    """The attack is real: sent straight to a web node (2 processes x 4 threads), a dozen trickling
    bodies take every thread and /healthz stops answering. Behind nginx (above) they cost nothing."""
    port = site.web_ports[0]
    # the token endpoint reads its body before anything else (no login needed); the header is what
    # nginx would add (the production settings redirect plain HTTP before reading a body)
    addresses = loopback_addresses(12, block=13)
    slow = SlowBodies(("127.0.0.1", port), addresses, path="/api/v1/auth/token/", extra="X-Forwarded-Proto: https\r\n")
    try:
        # then: once each has reached a web thread (which waits for the rest of its body), /healthz
        # gets no answer within 3 s
        assert any(not _healthz_answers(port) for _ in range(5)), "the node kept answering"
    finally:
        slow.close()
    # the node recovers once they leave
    wait_until(lambda: request(site, "GET", "/healthz").status == 200, timeout=15, message="the node to recover")
