"""The hot-paths section of docs/benchmarks.md: the claim and the status poll against a bare Django view."""

from __future__ import annotations

from bench.report_format import codes, fmt


def hot_section(hot: dict) -> list[str]:
    lines = [
        "",
        "## Hot paths — the claim and the status poll against a bare Django view",
        "",
        f"Conditions: {hot['conditions']}.",
        "",
        "| request | req/s (median) | × bare Django | p50 ms | p99 ms | rounds (req/s) | answers (last round) |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {
        "noop_django": "bare Django no-op (`/bench/noop/django/`)",
        "noop_api": "DRF no-op, bearer token (`/bench/noop/api/`)",
        "claim_sold_out": "sold-out claim (lean path)",
        "status_queued": "status poll, queued (lean path)",
        "claim_sold_out_drf": "sold-out claim through its DRF view (`?format=json`)",
        "status_queued_drf": "status poll through its DRF view (`?format=json`)",
    }
    for key, name in names.items():
        if key not in hot:
            continue
        f = hot[key]
        ratio = 1.0 if key == "noop_django" else hot["ratios"][key]
        rounds = ", ".join(fmt(r["rps"]) for r in hot["rounds"][key])
        lines.append(
            f"| {name} | {fmt(f['rps'])} | {ratio} | {f['p50_ms']} | {f['p99_ms']} | {rounds} | {codes(f['codes'])} |"
        )
    return lines
