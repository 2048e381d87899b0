"""How docs/benchmarks.md writes numbers and answer counts (bench/report.py and its section modules)."""

from __future__ import annotations


def fmt(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def codes(codes: dict) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in sorted(codes.items()))
