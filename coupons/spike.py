"""The HTTP spike behind `manage.py simulate_spike`: many keep-alive clients claiming at once, every answer timed.

Plain threads on `http.client` connections: on a shared two-core machine the
client's own CPU per request is what the server loses, and the standard
library's client spent about 0.25 s of CPU per 1,000 claims where a
`requests.Session` per thread spent 0.9 s (measured: docs/cli.md).
"""

from __future__ import annotations

import http.client
import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Outcomes in the order the summary and the chart show them.
ACCEPTED, DUPLICATE, SOLD_OUT, CONNECTION_ERROR = "accepted", "duplicate", "sold_out", "connection_error"


@dataclass(frozen=True)
class Answer:
    at: float  # seconds from the start of the spike to the answer
    latency: float  # seconds
    status: int  # 0 when no HTTP answer came (connection refused, reset, timed out)
    outcome: str


def outcome_of(status: int, body: bytes) -> str:
    """accepted / duplicate for 202 / 200, else the error's stable `code`, else `http_<status>`."""
    if status == 202:
        return ACCEPTED
    if status == 200:
        return DUPLICATE
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        code = None
    return code if isinstance(code, str) and code else f"http_{status}"


@dataclass
class Live:
    """What the clients have seen so far, read by the progress display while they run."""

    done: int = 0
    outcomes: Counter = field(default_factory=Counter)


class HttpClient:
    """One keep-alive connection; a request that finds it closed by the server is sent once more on a new one."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        self._host, self._port, self._timeout = parts.hostname, parts.port or 80, timeout
        self._conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self._conn.request(method, path, headers=headers)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = self._connect()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._conn.close()


def spike_fire(
    *,
    base_url: str,
    path: str,
    tokens: Sequence[str],
    requests: int,
    concurrency: int,
    seed: int | None = None,
    timeout: float = 30.0,
    on_tick: Callable[[Live, float], None] | None = None,
) -> tuple[list[Answer], float]:
    """POST `path` `requests` times from `concurrency` clients, each time as a user drawn at random
    from `tokens` (so users repeat: retries and double clicks). Returns every answer and the duration."""
    live = Live()
    lock = threading.Lock()
    issued = 0
    answers: list[list[Answer]] = [[] for _ in range(concurrency)]
    started = time.perf_counter()

    def client(index: int) -> None:
        nonlocal issued
        rng = random.Random(None if seed is None else seed * 1000 + index)
        http_client = HttpClient(base_url, timeout)
        mine = answers[index]
        try:
            while True:
                with lock:
                    if issued >= requests:
                        return
                    issued += 1
                headers = {"Authorization": f"Bearer {rng.choice(tokens)}", "Accept": "application/json"}
                sent = time.perf_counter()
                try:
                    status, body = http_client.request("POST", path, headers)
                    outcome = outcome_of(status, body)
                except (OSError, http.client.HTTPException):
                    status, outcome = 0, CONNECTION_ERROR
                now = time.perf_counter()
                mine.append(Answer(at=now - started, latency=now - sent, status=status, outcome=outcome))
                with lock:
                    live.done += 1
                    live.outcomes[outcome] += 1
        finally:
            http_client.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    while alive := [thread for thread in threads if thread.is_alive()]:
        if on_tick is not None:
            with lock:
                snapshot = Live(live.done, Counter(live.outcomes))
            on_tick(snapshot, time.perf_counter() - started)
        alive[0].join(0.25)
    seconds = time.perf_counter() - started
    return sorted((a for own in answers for a in own), key=lambda a: a.at), seconds


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class SpikeSummary:
    requests: int
    seconds: float
    by_status: dict[int, int]
    by_outcome: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def errors(self) -> int:
        """Answers that are no verdict on the claim: 5xx and no answer at all."""
        return sum(n for status, n in self.by_status.items() if status == 0 or status >= 500)


def spike_summarize(answers: Sequence[Answer], seconds: float) -> SpikeSummary:
    latencies = sorted(a.latency for a in answers)
    return SpikeSummary(
        requests=len(answers),
        seconds=seconds,
        by_status=dict(sorted(Counter(a.status for a in answers).items())),
        by_outcome=outcomes_in_order(Counter(a.outcome for a in answers)),
        latency_ms={
            name: round(percentile(latencies, q) * 1000, 2) for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
        },
    )


def outcomes_in_order(counts: Counter) -> dict[str, int]:
    """accepted, duplicate, sold_out first (when seen), then the rest by how often."""
    first = {o: counts[o] for o in (ACCEPTED, DUPLICATE, SOLD_OUT) if o in counts}
    return first | {o: n for o, n in counts.most_common() if o not in first}


# Chart colours per outcome; anything else is drawn grey as "other".
COLOURS = {ACCEPTED: "#2e7d32", DUPLICATE: "#90caf9", SOLD_OUT: "#ffb74d", "rate_limited": "#ba68c8"}
ERROR_COLOUR, OTHER_COLOUR = "#d32f2f", "#9e9e9e"


# Chart bucket widths (seconds): the narrowest that gives at most MAX_BUCKETS bars.
BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
MAX_BUCKETS = 120


def spike_chart(path: Path, answers: Sequence[Answer], *, title: str) -> Path:
    """A PNG: answers per second stacked by outcome, with the p50 and p99 latency over time."""
    from matplotlib.figure import Figure  # imported here: only this command draws

    duration = max((a.at for a in answers), default=0)
    width = next((b for b in BUCKETS if duration / b <= MAX_BUCKETS), BUCKETS[-1])
    count = max(1, math.ceil(duration / width))
    groups = [o for o in COLOURS if any(a.outcome == o for a in answers)]
    buckets: dict[str, list[float]] = {}
    latencies: list[list[float]] = [[] for _ in range(count)]
    for answer in answers:
        index = min(int(answer.at / width), count - 1)
        if answer.outcome in COLOURS:
            group = answer.outcome
        elif answer.status == 0 or answer.status >= 500:
            group = "error (5xx / none)"
        else:
            group = "other"
        buckets.setdefault(group, [0.0] * count)[index] += 1 / width  # a rate, whatever the bucket width
        latencies[index].append(answer.latency * 1000)
    order = groups + [g for g in ("other", "error (5xx / none)") if g in buckets]

    figure = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    starts = [i * width for i in range(count)]
    bottom = [0.0] * count
    for group in order:
        colour = COLOURS.get(group, ERROR_COLOUR if group.startswith("error") else OTHER_COLOUR)
        axes.bar(starts, buckets[group], bottom=bottom, width=width * 0.9, align="edge", color=colour, label=group)
        bottom = [b + v for b, v in zip(bottom, buckets[group], strict=True)]
    axes.set_xlabel(f"seconds since the start of the spike (bars of {width:g} s)")
    axes.set_ylabel("answers per second")
    axes.set_title(title)
    latency_axes = axes.twinx()
    seen = [(start + width / 2, sorted(v)) for start, v in zip(starts, latencies, strict=True) if v]
    middles = [m for m, _ in seen]
    latency_axes.plot(middles, [percentile(v, 0.5) for _, v in seen], color="black", lw=1.2, label="p50 latency")
    latency_axes.plot(
        middles, [percentile(v, 0.99) for _, v in seen], color="black", lw=1.2, ls="--", label="p99 latency"
    )
    latency_axes.set_ylabel("latency (ms)")
    latency_axes.set_ylim(bottom=0)
    bars, lines = axes.get_legend_handles_labels(), latency_axes.get_legend_handles_labels()
    figure.legend(bars[0] + lines[0], bars[1] + lines[1], loc="outside right upper", fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
