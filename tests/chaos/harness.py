"""The chaos harness: one scenario's private stores and processes, a spike driver and the per-scenario report.

A scenario runs on a database of its own in the chaos PostgreSQL cluster and on
a private redis-server (gate, cache, broker): 2 granian web servers and 2 Celery
workers (the first with beat) serve it, a driver fires claims from many users
with retries and double clicks, the test injects its fault, lets the system heal,
then every row is counted.
"""

import contextlib
import http.client
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.test import override_settings

from accounts.models import User
from accounts.services import api_token_generation_warm_many
from accounts.tokens import api_token_build
from config.http_load import NO_ANSWER, HttpClient, body_of
from coupons.models import Campaign, Grant
from tests.chaos.stores import PostgresCluster, RedisServer
from tests.coupons.invariants import invariant_violations
from tests.processes import Proc, start_web, start_worker

# Answers a client may get in a spike; anything else (a 500 above all) is a violation.
EXPECTED = {
    200: {None},  # a repeat: the grant the user already holds
    202: {None},  # accepted: the pending grant is recorded
    # sold out; or a repeat that met the first click's claim before its row was known to be committed
    # and could not wait for it (I8: it never names a grant that is not committed)
    409: {"sold_out", "claim_in_progress"},
    # a user's repeats beyond their token bucket (the spikes' clients all share
    # 127.0.0.1, so the scenarios turn the per-IP bucket off and keep the per-user one)
    429: {"rate_limited"},
    503: {"store_unavailable"},
}
REPORTS: list["ScenarioReport"] = []


@dataclass(frozen=True)
class Answer:
    user_id: int
    status: int
    code: str | None
    grant_id: str | None
    server: int
    at: float
    body: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass
class ScenarioReport:
    scenario: str
    requests: int = 0
    accepted: int = 0
    succeeded: int = 0
    failed: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: dict = field(default_factory=dict)

    def row(self) -> dict:
        return {
            "scenario": self.scenario,
            "requests": self.requests,
            "accepted": self.accepted,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "violations": len(self.violations),
            "seconds": round(self.seconds, 1),
            "notes": self.notes,
            "violation_details": self.violations,
        }


class Driver:
    """HTTP clients (config/http_load.py) against every web server at once; every answer is kept."""

    def __init__(self, urls: list[str], tokens: dict[int, str]) -> None:
        self.servers = urls
        self.tokens = tokens
        self.answers: list[Answer] = []
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def _connect(self, server: int) -> HttpClient:
        return HttpClient(self.servers[server % len(self.servers)], timeout=30)

    def send(
        self, user_id: int, method: str, path: str, *, server: int, body: dict | None = None, conns: dict | None = None
    ) -> Answer:
        """One request on the client's keep-alive connection to `server` (a fresh one without `conns`)."""
        conns = {} if conns is None else conns
        index = server % len(self.servers)
        client = conns.get(index) or self._connect(index)
        conns[index] = client
        try:  # a keep-alive connection the server closed meanwhile is reconnected once
            status, raw = client.request(method, path, token=self.tokens[user_id], body=body)
        except (OSError, http.client.HTTPException):
            status, data = NO_ANSWER, {}
        else:
            data = body_of(raw)
        answer = Answer(user_id, status, data.get("code"), data.get("grant_id"), index, time.monotonic(), data)
        with self.lock:
            self.answers.append(answer)
        return answer

    def spike(
        self,
        path: str,
        user_ids: Iterable[int],
        *,
        clients: int = 16,
        double_click: float = 0.3,
        give_up_after: float = 90.0,
        seed: int = 7,
    ) -> dict[int, Answer]:
        """Each user POSTs (a claim, a join) until a final answer (granted, repeat, sold out...),
        retrying 503s and lost connections with a short pause; some click twice. Returns each
        user's final answer."""
        queue = list(user_ids)
        cursor = iter(range(len(queue)))
        finals: dict[int, Answer] = {}
        lock = threading.Lock()

        def client(number: int) -> None:
            rng = random.Random(seed * 1000 + number)
            conns: dict = {}
            while True:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    break
                user_id = queue[index]
                deadline = time.monotonic() + give_up_after
                server = rng.randrange(len(self.servers))
                while True:
                    answer = self.send(user_id, "POST", path, server=server, conns=conns)
                    server += 1  # the next click lands on the other server
                    if answer.status in (200, 202) and rng.random() < double_click:
                        self.send(user_id, "POST", path, server=server, conns=conns)
                    if answer.status not in (503, NO_ANSWER) or time.monotonic() > deadline:
                        break
                    time.sleep(0.1 + rng.random() * 0.2)
                with lock:
                    finals[user_id] = answer
            for conn in conns.values():
                conn.close()

        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(client, range(clients)))
        return finals

    def storm(self, user_id: int, path: str, *, copies: int = 50, body: dict | None = None) -> list[Answer]:
        """`copies` identical requests released at the same instant, spread over the servers."""
        barrier = threading.Barrier(copies)
        conns = [{} for _ in range(copies)]
        for number in range(copies):  # connect first, so the barrier releases requests, not handshakes
            conns[number][number % len(self.servers)] = self._connect(number)
            conns[number][number % len(self.servers)].connect()

        def fire(number: int) -> Answer:
            barrier.wait(timeout=30)
            return self.send(user_id, "POST", path, server=number, body=body, conns=conns[number])

        with ThreadPoolExecutor(max_workers=copies) as pool:
            answers = list(pool.map(fire, range(copies)))
        for conn_map in conns:
            for conn in conn_map.values():
                conn.close()
        return answers

    def count(self, status: int) -> int:
        with self.lock:
            return sum(1 for a in self.answers if a.status == status)

    def acknowledged(self) -> set[str]:
        """Grant ids of every 202: each one is a promise the database must keep (I4)."""
        with self.lock:
            return {a.grant_id for a in self.answers if a.status == 202}

    def named(self) -> set[str]:
        """Grant ids any 2xx named, repeats included: each must be a committed row (I8)."""
        with self.lock:
            return {a.grant_id for a in self.answers if a.status in (200, 202) and a.grant_id}

    def answer_violations(self, expected: dict[int, set] | None = None) -> list[str]:
        """Answers a client must never see: a 500, a 503 without its code, anything unexpected."""
        expected = expected or EXPECTED
        with self.lock:
            odd = Counter(
                (a.status, a.code)
                for a in self.answers
                if a.status != NO_ANSWER and a.code not in expected.get(a.status, ())
            )
        return [f"{count} answers {status} {code!r}" for (status, code), count in sorted(odd.items(), key=str)]


class Scenario:
    """A running scenario: its stores, its processes and its driver."""

    def __init__(self, name: str, *, cluster: PostgresCluster, template: str, directory: Path) -> None:
        self.name = name
        self.cluster = cluster
        self.template = template
        self.directory = directory
        self.database = f"chaos_{len(REPORTS)}_{name.replace('-', '_')}"[:63]
        self.redis = RedisServer(directory, name="redis")
        self.broker_url = ""
        self.webs: list[Proc] = []
        self.workers: list[Proc] = []
        self.worker_starts = 0  # how many worker processes the supervisor started again
        self._supervisor: threading.Thread | None = None
        self._stopped = threading.Event()
        self.worker_env: dict[str, str] = {}
        self.started = time.monotonic()
        self.driver: Driver | None = None
        self._exit = contextlib.ExitStack()

    # --- setting up ---------------------------------------------------------

    def __enter__(self) -> "Scenario":
        self.cluster.execute(f'DROP DATABASE IF EXISTS "{self.database}"')
        self.cluster.execute(f'CREATE DATABASE "{self.database}" TEMPLATE "{self.template}"')
        self._exit.enter_context(use_database(self.cluster, self.database))
        self.redis.start()
        self._exit.callback(self.redis.stop)
        self.use_broker(self.redis.url(1))
        return self

    def use_broker(self, url: str) -> None:
        """Where the processes started next find the broker (default: the scenario's Redis, db 1)."""
        self.broker_url = url
        self._exit.enter_context(
            override_settings(
                REDIS_URL=self.redis.url(0),
                CACHES={"default": {**settings.CACHES["default"], "LOCATION": self.redis.url(0)}},
                CELERY_BROKER_URL=url,
            )
        )

    def start(self, *, webs: int = 2, workers: int = 2, **env: str) -> None:
        """Start the web servers and workers in parallel (the first worker runs beat), and a
        supervisor that starts a worker again when it exits."""
        self.worker_env = env
        with ThreadPoolExecutor(max_workers=webs + workers) as pool:
            web_jobs = [
                pool.submit(start_web, self.directory, name=f"web{i + 1}", workers=1, threads=4, **env)
                for i in range(webs)
            ]
            worker_jobs = [pool.submit(self._start_worker, i + 1, 1) for i in range(workers)]
            self.webs = [job.result() for job in web_jobs]
            self.workers = [job.result() for job in worker_jobs]
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    def _start_worker(self, number: int, generation: int) -> Proc:
        return start_worker(
            self.directory,
            name=f"w{number}-{generation}",
            beat=number == 1,
            concurrency=2,
            loglevel="INFO",
            **self.worker_env,
        )

    def _supervise(self) -> None:
        """Start a worker that exited again, as the process manager does in production (systemd
        Restart=always, a Kubernetes Deployment): a worker SIGKILLed by a test, or one Celery
        shut down itself (kombu 5.7 can raise an AttributeError while it closes a connection
        whose Redis went away, which Celery treats as unrecoverable)."""
        while not self._stopped.wait(0.25):
            for index, proc in enumerate(self.workers):
                if proc.popen.poll() is None or self._stopped.is_set():
                    continue
                try:
                    self.workers[index] = self._start_worker(index + 1, self.worker_starts + 2)
                except RuntimeError:
                    continue  # e.g. the broker is still away: try again on the next round
                self.worker_starts += 1

    def users(self, count: int) -> list[int]:
        """`count` users with bearer tokens for the driver (their token generation cached, as issuing does)."""
        users = User.objects.bulk_create(
            [User(username=f"{self.name}-{i}", password="!") for i in range(count)], batch_size=5000
        )
        api_token_generation_warm_many(generations={u.pk: 0 for u in users})
        tokens = {u.pk: api_token_build(user=u)[0] for u in users}
        self.driver = Driver([web.extra["url"] for web in self.webs], tokens)
        return [u.pk for u in users]

    # --- healing and counting -----------------------------------------------

    def wait(self, predicate: Callable[[], bool], *, timeout: float) -> bool:
        """Poll until `predicate` holds; a database that went away meanwhile is reconnected to."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return True
            except (OperationalError, InterfaceError):
                connections["default"].close()
            time.sleep(0.25)
        return False

    def drained(self, campaign: Campaign, *, timeout: float = 120) -> bool:
        return self.wait(lambda: not pending(campaign), timeout=timeout)

    def report(
        self,
        campaign: Campaign,
        *,
        full: bool,
        violations: Iterable[str] = (),
        expected: dict[int, set] | None = None,
        **notes,
    ) -> ScenarioReport:
        """Count every row and every answer; the report is kept for the session summary."""
        connections["default"].close()  # the database may have restarted under the test's connection
        acknowledged = self.driver.acknowledged()
        counts, broken = invariant_violations(campaign, acknowledged=acknowledged, full=full)
        named = self.driver.named()
        committed = {str(pk) for pk in Grant.objects.filter(pk__in=named).values_list("id", flat=True)}
        if named - committed:
            broken.append(f"I8: {len(named - committed)} grant ids named by a 2xx were never committed")
        report = ScenarioReport(
            scenario=self.name,
            requests=len(self.driver.answers),
            accepted=len(acknowledged),
            succeeded=counts["succeeded"],
            failed=counts["failed"],
            violations=[*self.driver.answer_violations(expected), *broken, *violations],
            seconds=time.monotonic() - self.started,
            notes={
                "503": self.driver.count(503),
                "no answer": self.driver.count(NO_ANSWER),
                "worker restarts": self.worker_starts,
                **notes,
            },
        )
        REPORTS.append(report)
        return report

    def logs(self) -> str:
        return "\n".join(f"--- {proc.log.name}\n{proc.output()[-3000:]}" for proc in [*self.webs, *self.workers])

    def __exit__(self, *exc) -> None:
        self._stopped.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=60)  # a start in progress ends first: no worker outlives the test
        for proc in [*self.webs, *self.workers]:
            proc.stop()
        self._exit.close()


def pending(campaign: Campaign) -> int:
    return Grant.objects.filter(campaign=campaign, status=Grant.Status.PENDING).count()


def succeeded(campaign: Campaign) -> int:
    return Grant.objects.filter(campaign=campaign, status=Grant.Status.SUCCEEDED).count()


@contextlib.contextmanager
def use_database(cluster: PostgresCluster, database: str):
    """Point this process's default connection (and so the processes it starts) at a chaos database."""
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(
        NAME=database, HOST="127.0.0.1", PORT=str(cluster.port), USER="postgres", PASSWORD="", CONN_MAX_AGE=0
    )
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def redelivered_tasks(procs: Iterable[Proc], task: str) -> int:
    """Messages of `task` a worker received more than once (worker logs at INFO name each receipt)."""
    received: Counter = Counter()
    for proc in procs:
        for line in proc.output().splitlines():
            if f"Task {task}[" in line and line.rstrip().endswith("received"):
                received[line.split(f"Task {task}[", 1)[1].split("]", 1)[0]] += 1
    return sum(1 for n in received.values() if n > 1)


def markdown_table(reports: Iterable[ScenarioReport]) -> str:
    lines = [
        "| scenario | requests | accepted | succeeded | failed | violations | seconds | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in reports:
        notes = ", ".join(f"{k}: {v}" for k, v in r.notes.items())
        lines.append(
            f"| {r.scenario} | {r.requests} | {r.accepted} | {r.succeeded} | {r.failed} | {len(r.violations)} "
            f"| {r.seconds:.0f} | {notes} |"
        )
    return "\n".join(lines)
