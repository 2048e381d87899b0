"""Turn .run/bench/results.json into docs/benchmarks.md and the PNG charts beside it."""

from __future__ import annotations

from pathlib import Path

from bench.charts import APPROACHES, DOCS, charts
from bench.report_format import codes, fmt
from bench.report_hot import hot_section
from bench.report_room import ETA_LIMITS, crowd_section, eta_section


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _check(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def targets(results: dict) -> list[tuple[str, str, str]]:
    rows = []
    b1 = results.get("b1", {})
    if b1:
        noop = b1["noop_api"]["rps"]
        spike = b1["spike"]["rps"]
        ratio = _ratio(spike, noop)
        rows.append(
            (
                "claim throughput ≥ 0.8 × the no-op endpoint on the same stack",
                f"{ratio} (spike {spike:,.0f}/s vs no-op {noop:,.0f}/s; "
                f"bare Django no-op {b1['noop_django']['rps']:,.0f}/s)",
                _check(ratio >= 0.8),
            )
        )
        ours, locked = b1["compare"]["firstcome"], b1["compare"]["locked"]
        thr = _ratio(ours["rps"], locked["rps"])
        lat = _ratio(locked["p99_ms"], ours["p99_ms"])
        rows.append(("≥ 3 × the pessimistic-lock baseline's throughput", f"{thr}×", _check(thr >= 3)))
        rows.append(
            (
                "≥ 5 × lower p99 latency than the pessimistic-lock baseline, at saturation "
                "(closed loop: latency ≈ connections / throughput)",
                f"{lat}× ({ours['p99_ms']} vs {locked['p99_ms']} ms)",
                _check(lat >= 5),
            )
        )
        paced = b1.get("paced")
        if paced:
            rows.append(
                (
                    f"≥ 5 × lower p99 latency than the pessimistic-lock baseline, both offered "
                    f"{paced['offered_rps']:,} req/s",
                    f"{paced['p99_ratio']}× ({paced['firstcome']['p99_ms']} vs {paced['locked']['p99_ms']} ms)",
                    _check(paced["p99_ratio"] >= 5),
                )
            )
        counted = b1["compare"]["count-insert"]
        rows.append(
            (
                "zero over-issue where count-then-insert over-issues",
                f"firstcome {ours['over_issue']} (spike {b1['spike']['counts']['over_issue']}), "
                f"count-then-insert {counted['over_issue']}",
                _check(ours["over_issue"] == 0 and b1["spike"]["counts"]["over_issue"] == 0),
            )
        )
    b2 = results.get("b2", {})
    if b2:
        rate = b2["workers_2"]["grants_per_s"]
        rows.append(("drain ≥ 2,000 grants/s with two worker processes", f"{rate:,.0f}/s", _check(rate >= 2000)))
    b3 = results.get("b3", {})
    if b3:
        rows.append(
            (
                "admission tick < 5 ms of Redis time admitting 1,000 at 1,000,000 queued",
                f"{b3['tick_ms_median']} ms median, {b3['tick_ms_max']} ms max",
                _check(b3["tick_ms_max"] < 5),
            )
        )
        rows.append(
            (
                "≤ 150 bytes of Redis memory per queued user, heartbeat included",
                f"{b3['bytes_per_user']} B",
                _check(b3["bytes_per_user"] <= 150),
            )
        )
    b4 = results.get("b4", {})
    if b4:
        cost = round((1 - b4["ratio_rps"]) * 100, 1)
        rows.append(("ranking updates cost ≤ 5% of claim throughput", f"{cost}%", _check(cost <= 5)))
    eta = results.get("eta", {})
    if eta:
        held = [row for name, row in eta["rows"].items() if name not in ETA_LIMITS]
        median = max(row["median_error"] for row in held)
        worst = max(row["worst_ratio"] for row in held)
        rows.append(
            (
                "ETA told vs admission once admission has run 10 s (W7): median error ≤ 20%, none off by > 2× "
                f"(every line shape but {', '.join(ETA_LIMITS)})",
                f"median error at most {median:.1%}, worst {worst}×",
                _check(median <= 0.2 and worst <= 2),
            )
        )
    crowd = results.get("crowd", {})
    if crowd:
        goal = next(r for r in crowd["rows"] if r["people"] == 1_000_000 and r["rate"] == 1_000)
        run, checked = crowd.get("run", {}), ("python_vs_model", "proxy_vs_model")
        rows.append(
            (
                "1,000,000 queued, admitted at 1,000/s: ≤ 5,000 requests a second reach Python (the model; "
                "a real run of 20,000 checks it within 20%)",
                f"{goal['new_python']:,}/s (before: {goal['old_python']:,}/s); real run / model: "
                f"{run.get('python_vs_model')} to Python, {run.get('proxy_vs_model')} to the proxy",
                _check(goal["new_python"] <= 5_000 and all(0.8 <= run.get(k, 0) <= 1.2 for k in checked)),
            )
        )
    pages = results.get("pages", {})
    if pages:
        from bench.pages import targets as pages_targets

        rows += [(target, measured, _check(met)) for target, measured, met in pages_targets(pages)]
    hot = results.get("hot", {})
    if hot:
        bare = hot["noop_django"]["rps"]
        for key, target in (("claim_sold_out", "sold-out claim"), ("status_queued", "status poll")):
            ratio = hot["ratios"][key]
            rows.append(
                (
                    f"{target} ≥ 0.6 × bare Django no-op",
                    f"{ratio} ({hot[key]['rps']:,.0f}/s vs {bare:,.0f}/s; DRF no-op {hot['ratios']['noop_api']})",
                    _check(ratio >= 0.6),
                )
            )
    return rows


SECTION_HEADINGS = {  # each generated section's heading, by its key in results.json
    "servers": "## Web server and worker model",
    "b1": "## B1 — spike claim",
    "b2": "## B2 — drain",
    "b3": "## B3 — waiting room at scale",
    "b4": "## B4 — ranking cost",
    "eta": "## ETA — told vs admitted (W7)",
    "crowd": "## Crowd — what a queued line costs the servers",
    "pages": "## Opening page storm",
    "hot": "## Hot paths — the claim and the status poll against a bare Django view",
}


def _blocks(text: str) -> dict[str, str]:
    """A Markdown page by its second-level headings: heading line -> the block it starts ("" = the preamble)."""
    blocks, heading, lines = {}, "", []
    for line in text.splitlines():
        if line.startswith("## "):
            blocks[heading] = "\n".join(lines).strip("\n")
            heading, lines = line, []
        lines.append(line)
    blocks[heading] = "\n".join(lines).strip("\n")
    return blocks


def keep_previous(new: str, previous: str, results: dict) -> str:
    """A run of some sections keeps what the page said about the others: their blocks, their
    target rows and the machine lines, as the run that measured them wrote them."""
    old, now = _blocks(previous), _blocks(new)
    preamble = now[""].splitlines()
    machine_lines = ("Machine:", "Whole run:")
    if not any(line.startswith(machine_lines) for line in preamble):
        preamble += ["", *(line for line in old.get("", "").splitlines() if line.startswith(machine_lines))]
    targets = now.get("## Targets", "## Targets").splitlines()
    head = targets[:4]
    measured = {line.split(" | ")[0]: line for line in targets[4:] if line.startswith("| ")}
    rows = [measured.pop(line.split(" | ")[0], line) for line in old.get("## Targets", "").splitlines()[4:]]
    rows = [row for row in rows if row.startswith("| ")] + [*measured.values()]
    parts = ["\n".join(preamble), "\n".join(head + rows)]
    for key, heading in SECTION_HEADINGS.items():
        block = now.get(heading) if key in results else old.get(heading)
        if block:
            parts.append(block)
    parts += [block for heading, block in now.items() if heading not in ("", "## Targets", *SECTION_HEADINGS.values())]
    return "\n\n".join(parts) + "\n"


def write(results: dict) -> Path:
    made = charts(results)
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/run.py) — do not edit by hand; the figures are one run's.",
        "Everything runs on one 2-core machine: the web server, the Celery workers, PostgreSQL,",
        "Redis and the load generator (wrk) share the same cores, so absolute figures are low and",
        "drift between runs; the ratios, measured side by side in one run, are the point.",
        "",
    ]
    machine = results.get("machine", {})
    if machine:
        lines += [
            f"Machine: {machine.get('cpus')} CPUs, Python {machine.get('python')}, {machine.get('postgres')}, "
            f"{machine.get('redis')}, {machine.get('wrk')}.",
        ]
    run = results.get("run")
    if run:
        took = ", ".join(f"{name} {seconds} s" for name, seconds in run.get("section_seconds", {}).items())
        lines.append(f"Whole run: {run['seconds']} s ({took}), finished {run['measured_at']}.")
    lines += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {c} |" for t, m, c in targets(results)]

    servers = results.get("servers")
    if servers:
        lines += [
            "",
            "## Web server and worker model",
            "",
            f"Conditions: {servers['conditions']}. Best claim rate: **{servers['best']}**; "
            f"production (Procfile) runs **{servers['production']}**.",
            "",
            "| server | model | DRF no-op req/s | claim req/s | claim p50 ms | claim p99 ms | claim / no-op |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in servers["rows"]:
            lines.append(
                f"| {r['server']} | {r['description']} | {fmt(r['noop_api']['rps'])} | {fmt(r['claim']['rps'])} | "
                f"{r['claim']['p50_ms']} | {r['claim']['p99_ms']} | {_ratio(r['claim']['rps'], r['noop_api']['rps'])} |"
            )
        if "servers.png" in made:
            lines += ["", "![servers](benchmarks/servers.png)"]

    b1 = results.get("b1")
    if b1:
        spike, counts = b1["spike"], b1["spike"]["counts"]
        lines += [
            "",
            "## B1 — spike claim",
            "",
            f"Conditions: {b1['conditions']}.",
            "",
            f"**The spike**: {spike['requests']:,} claim requests in {spike['seconds']} s = "
            f"**{spike['rps']:,.0f} req/s**, p50 {spike['p50_ms']} ms, p99 {spike['p99_ms']} ms, "
            f"max {spike['max_ms']} ms. Outcomes: {codes(spike['codes'])}"
            f"{'; socket errors ' + str(spike['socket_errors']) if spike['socket_errors'] else ''}. "
            f"Drained {spike['drain_seconds_after_burst']} s after the burst ended.",
            "",
            "After the drain, every row counted:",
            "",
            "| quantity | live grants | over-issue | users with two live grants | slots held twice "
            "| grants by status | ledger entries | ledger total = succeeded × amount |",
            "|---|---|---|---|---|---|---|---|",
            f"| {counts['quantity']:,} | {counts['live_grants']:,} | {counts['over_issue']} | "
            f"{counts['users_with_two_live_grants']} | {counts['slots_held_twice']} | "
            f"{codes(counts['grants_by_status'])} | "
            f"{counts['ledger_entries']:,} | {counts['ledger_total']:,} = {counts['succeeded_total']:,} |",
            "",
            f"**Side by side**: each approach gets the same burst of {b1['compare']['firstcome']['requests']:,} "
            f"requests for {b1['compare']['firstcome']['quantity']:,} slots — the spike's shape (requests per "
            "slot) at a smaller size — with a fresh stock, the same users and connections, on the same server.",
            "",
            "| approach | req/s | × no-op | p50 ms | p99 ms | outcomes | accepted rows | over-issue | duplicate rows |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        noop = b1["noop_api"]["rps"]
        for name, label in (("noop_django", "bare Django no-op"), ("noop_api", "DRF no-op (the claim's stack)")):
            f = b1[name]
            lines.append(
                f"| {label} | {fmt(f['rps'])} | {_ratio(f['rps'], noop)} | {f['p50_ms']} | {f['p99_ms']} | "
                f"{codes(f['codes'])} | – | – | – |"
            )
        for key, label in APPROACHES.items():
            f = b1["compare"][key]
            lines.append(
                f"| {label} | {fmt(f['rps'])} | {_ratio(f['rps'], noop)} | {f['p50_ms']} | {f['p99_ms']} | "
                f"{codes(f['codes'])} | {f['accepted_rows']:,} | {f['over_issue']} | {f['duplicate_rows']} |"
            )
        paced = b1.get("paced")
        if paced:
            lines += [
                "",
                f"**At an equal load**: the latency above is measured at saturation, where a closed loop of "
                f"{b1['compare']['firstcome']['connections']} connections makes latency ≈ connections / throughput "
                "for any approach. Here firstcome and the locked baseline are each offered the same "
                f"{paced['offered_rps']:,} req/s (each connection waits a random 0–2× its share before each "
                f"request) — {paced['requests']:,} requests for {paced['slots']:,} slots, the spike's shape:",
                "",
                "| approach | offered req/s | served req/s | p50 ms | p90 ms | p99 ms | max ms | outcomes "
                "| over-issue |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for key in ("firstcome", "locked"):
                f = paced[key]
                lines.append(
                    f"| {APPROACHES[key]} | {fmt(paced['offered_rps'])} | {fmt(f['rps'])} | {f['p50_ms']} | "
                    f"{f['p90_ms']} | {f['p99_ms']} | {f['max_ms']} | {codes(f['codes'])} | {f['over_issue']} |"
                )
        rc = b1.get("redis_ceiling")
        if rc:
            lines += [
                "",
                f"**Redis ceiling** ({rc['conditions']}): the claim script by EVALSHA "
                f"**{rc['claim_script']['rps']:,.0f}/s** beside a trivial script {rc['trivial_script']['rps']:,.0f}/s "
                f"({_ratio(rc['claim_script']['rps'], rc['trivial_script']['rps'])}×); "
                f"{rc['claim_script_holders']:,} holders afterwards. Redis could answer "
                f"{_ratio(rc['claim_script']['rps'], spike['rps'])}× the claims the web tier sends it.",
            ]
        if "b1_throughput.png" in made:
            lines += ["", "![B1 throughput](benchmarks/b1_throughput.png)"]
            lines += ["", "![B1 latency](benchmarks/b1_latency.png)"]

    b2 = results.get("b2")
    if b2:
        lines += ["", "## B2 — drain", "", f"Conditions: {b2.get('conditions', '')}.", "",
                  "| variant | grants | seconds | grants/s |", "|---|---|---|---|"]  # fmt: skip
        for key, label in (("per_grant_workers_2", "one task per grant, 2 workers (before)"),
                           ("workers_1", "batched drain, 1 worker process"),
                           ("workers_2", "batched drain, 2 worker processes")):  # fmt: skip
            if key in b2:
                f = b2[key]
                lines.append(f"| {label} | {f['grants']:,} | {f['seconds']} | {fmt(f['grants_per_s'])} |")
        if "b2_drain.png" in made:
            lines += ["", "![B2 drain](benchmarks/b2_drain.png)"]

    b3 = results.get("b3")
    if b3:
        lines += [
            "",
            "## B3 — waiting room at scale",
            "",
            f"Conditions: {b3.get('conditions', '')}.",
            "",
            f"- queued users: {b3['users']:,}; Redis memory per queued user (heartbeat state included): "
            f"**{b3['bytes_per_user']} B** (used_memory delta; the room's keys by MEMORY USAGE: "
            f"{b3.get('keys_bytes_per_user')} B)",
            f"- admission tick admitting {b3['admitted_per_tick']:,}: **{b3['tick_ms_median']} ms** median, "
            f"{b3['tick_ms_max']} ms max of Redis time",
            f"- status script: {b3.get('status_us_median')} µs of Redis time (median)",
        ]
        for key, label in (("http_join", "join"), ("http_status", "status")):
            if key in b3:
                f = b3[key]
                lines.append(
                    f"- {label} over HTTP: **{f['rps']:,.0f} req/s**, p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms "
                    f"({codes(f['codes'])})"
                )
        if "http_conditions" in b3:
            lines.append(f"- HTTP conditions: {b3['http_conditions']}")
        if b3.get("keys"):
            lines += ["", "| key | bytes (MEMORY USAGE) |", "|---|---|"]
            lines += [f"| `{k}` | {fmt(v)} |" for k, v in b3["keys"].items()]

    b4 = results.get("b4")
    if b4:
        lines += [
            "",
            "## B4 — ranking cost",
            "",
            f"Conditions: {b4['conditions']}.",
            "",
            "| variant | boards | claim req/s (median) | p99 ms | settled/s end to end | rounds (req/s) |",
            "|---|---|---|---|---|---|",
        ]
        for key in ("with_rankings", "without_rankings"):
            f = b4[key]
            rounds = ", ".join(fmt(r["rps"]) for r in b4.get("samples", {}).get(key, []))
            lines.append(
                f"| {key.replace('_', ' ')} | {f['boards']} | {fmt(f['rps'])} | {f['p99_ms']} | "
                f"{fmt(f['claims_settled_per_s'])} | {rounds} |"
            )
        lines.append(
            f"\nWith / without rankings: claim throughput **{b4['ratio_rps']}**, "
            f"settled per second end to end {b4.get('ratio_settled')}."
        )

    eta = results.get("eta")
    if eta:
        lines += eta_section(eta)
    crowd = results.get("crowd")
    if crowd:
        lines += crowd_section(crowd)
    pages = results.get("pages")
    if pages:
        from bench.pages import report_lines

        lines += ["", "## Opening page storm", "", *report_lines(pages)]
    hot = results.get("hot")
    if hot:
        lines += hot_section(hot)

    notes = DOCS / "benchmarks-notes.md"
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    out = DOCS / "benchmarks.md"
    text = "\n".join(lines) + "\n"
    if out.exists():
        text = keep_previous(text, out.read_text(), results)
    out.write_text(text)
    return out
