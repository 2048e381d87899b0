"""The PNG charts of docs/benchmarks.md (matplotlib: requirements-charts.txt, part of requirements-bench.txt)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHARTS = DOCS / "benchmarks"

APPROACHES = {
    "firstcome": "firstcome (Lua claim in Redis, grant row in PostgreSQL)",
    "redis-incr": "Redis SADD + INCR round trips, no Lua",
    "count-insert": "count rows, then insert (PostgreSQL)",
    "locked": "stock row SELECT ... FOR UPDATE (PostgreSQL)",
}


def _bar(path: Path, labels: list[str], values: list[float], title: str, unit: str, highlight: int = -1) -> None:
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(labels) + 1.2))
    colors = ["#2b6cb0" if i == highlight else "#a0aec0" for i in range(len(labels))]
    bars = ax.barh(labels[::-1], values[::-1], color=colors[::-1])
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values[::-1]], padding=3, fontsize=9)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(unit)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pairs(path: Path, names: list[str], left: tuple, right: tuple, title: str, unit: str) -> None:
    """Two bars per name: (label, values) on the left in light, on the right in dark."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], left[1], width=0.4, label=left[0], color="#90cdf4")
    ax.bar([x + 0.2 for x in xs], right[1], width=0.4, label=right[0], color="#2b6cb0")
    ax.set_xticks(list(xs), names)
    ax.set_ylabel(unit)
    ax.set_title(title, fontsize=11)
    ax.legend()
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def charts(results: dict) -> list[str]:
    CHARTS.mkdir(parents=True, exist_ok=True)
    made = []
    b1 = results.get("b1")
    if b1:
        labels = ["bare Django no-op", "DRF no-op (claim's stack)"] + [k for k in APPROACHES]
        figures = [b1["noop_django"], b1["noop_api"]] + [b1["compare"][k] for k in APPROACHES]
        _bar(CHARTS / "b1_throughput.png", labels, [f["rps"] for f in figures],
             "B1: requests/s on the same burst and server", "requests per second", highlight=2)  # fmt: skip
        names = list(APPROACHES)
        _pairs(CHARTS / "b1_latency.png", names, ("p50", [b1["compare"][k]["p50_ms"] for k in names]),
               ("p99", [b1["compare"][k]["p99_ms"] for k in names]), "B1: latency at 256 connections (same burst)",
               "ms")  # fmt: skip
        made += ["b1_throughput.png", "b1_latency.png"]
    servers = results.get("servers")
    if servers:
        rows = servers["rows"]
        _pairs(CHARTS / "servers.png", [r["server"] for r in rows],
               ("DRF no-op", [r["noop_api"]["rps"] for r in rows]),
               ("claim (sold out)", [r["claim"]["rps"] for r in rows]),
               "Web server and worker model", "requests per second")  # fmt: skip
        made.append("servers.png")
    b2 = results.get("b2")
    if b2:
        labels, values = [], []
        variants = (
            ("per_grant_workers_2", "one task per grant, 2 workers"),
            ("workers_1", "batched drain, 1 worker"),
            ("workers_2", "batched drain, 2 workers"),
        )
        for key, label in variants:
            if key in b2:
                labels.append(label)
                values.append(b2[key]["grants_per_s"])
        _bar(CHARTS / "b2_drain.png", labels, values, "B2: grants settled per second (ledger backend)",
             "grants per second", highlight=len(labels) - 1)  # fmt: skip
        made.append("b2_drain.png")
    return made
