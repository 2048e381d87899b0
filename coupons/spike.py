"""The spike behind `manage.py simulate_spike`: many keep-alive clients claiming at once, every answer timed
(the load driver is config/http_load.py), summed up and drawn as a chart (with requirements-charts.txt)."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config.http_load import NO_ANSWER, Call, Result, fire

# Outcomes in the order the summary and the chart show them.
ACCEPTED, DUPLICATE, SOLD_OUT, CONNECTION_ERROR = "accepted", "duplicate", "sold_out", "connection_error"
CHARTS_INSTALL = "pip install -r requirements-charts.txt"


@dataclass(frozen=True, kw_only=True)
class Answer:
    at: float  # seconds from the start of the spike to the answer
    latency: float  # seconds
    status: int  # 0 when no HTTP answer came (connection refused, reset, timed out)
    outcome: str


def outcome_of(result: Result) -> str:
    """accepted / duplicate for 202 / 200, else the error's stable `code`, else `http_<status>`."""
    if result.status == NO_ANSWER:
        return CONNECTION_ERROR
    if result.status == 202:
        return ACCEPTED
    if result.status == 200:
        return DUPLICATE
    return result.code or f"http_{result.status}"


@dataclass
class Live:
    """What the clients have seen so far, read by the progress display while they run."""

    done: int = 0
    outcomes: Counter = field(default_factory=Counter)


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
    rng = random.Random(seed)
    calls = [Call("POST", path, rng.choice(tokens)) for _ in range(requests)]

    def tick(so_far: list[Result], elapsed: float) -> None:
        on_tick(Live(len(so_far), Counter(outcome_of(r) for r in so_far)), elapsed)

    started = time.perf_counter()
    results = fire(
        base_url, calls, concurrency=concurrency, timeout=timeout, attempts=2, on_tick=tick if on_tick else None
    )
    seconds = time.perf_counter() - started
    answers = sorted(
        (Answer(at=r.sent_at + r.latency, latency=r.latency, status=r.status, outcome=outcome_of(r)) for r in results),
        key=lambda a: a.at,
    )
    return answers, seconds


def chart_missing() -> str | None:
    """How to get the chart when its library is not installed (None: it is)."""
    try:
        import matplotlib  # noqa: F401 - only the chart needs it
    except ImportError:
        return CHARTS_INSTALL
    return None


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
