"""The waiting room's sections of docs/benchmarks.md: the ETA told against admission, and what a crowd costs.

Split from bench/report.py by concern (that module writes the page and its target table).
"""

from __future__ import annotations

# Line shapes measured to show where the estimator stops holding (docs/waitingroom.md, ETA).
ETA_LIMITS = ("max_active_bound",)
ETA_SHAPES = {
    "plain": "everyone polls",
    "silent": "one in five silent",
    "silent_stock": "one in eight silent, stock for two in three",
    "pause": "paused from second 30 to 45",
    "max_active_bound": "one in five silent, max_active 10 × the rate (limit)",
}


def eta_section(eta: dict) -> list[str]:
    lines = [
        "",
        "## ETA — told vs admitted (W7)",
        "",
        f"Conditions: {eta['conditions']}.",
        "",
        "| line | people | rate/s | numbers told | median error | p90 error | worst (× off) "
        "| told a number, never admitted | answered without a number | simulated s | took s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted(eta["rows"], key=lambda name: list(ETA_SHAPES).index(name) if name in ETA_SHAPES else 99):
        row = eta["rows"][name]
        lines.append(
            f"| {ETA_SHAPES.get(name, name)} | {row['people']:,} | {row['rate']} | {row['estimates']:,} | "
            f"{row['median_error']:.1%} | {row['p90_error']:.1%} | {row['worst_ratio']} | {row['never_admitted']} | "
            f"{row['told_none']:,} | {row['seconds_simulated']} | {row['seconds_taken']} |"
        )
    return lines


def crowd_section(crowd: dict) -> list[str]:
    from bench.crowd import run_lines, table

    run = run_lines(crowd["run"]) if crowd.get("run") else []
    return [
        "",
        "## Crowd — what a queued line costs the servers",
        "",
        "`bench/crowd.py` sums the schedule the server gives each queued person (waitingroom/schedule.py, "
        "imported) over the line: before, everyone polled their status; now only the front zone does, and "
        "everyone behind reads the room's line document, which the proxy keeps for a second "
        "(docs/waitingroom.md, What a crowd costs). "
        f"Conditions: {crowd['conditions']}.",
        "",
        *table(crowd),
        *run,
    ]
