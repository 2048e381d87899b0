"""What a crowd costs the servers: requests a second a queued line sends, summed from the server's own schedule.

Every person in a line of N admitted at R a second asks on the schedule the
code gives them (waitingroom/schedule.py, the functions the status API and
the line document use, imported here, not copied):

- before issue 21, everyone polled their status every `poll_interval` seconds
  (about a tenth of their wait, at most min(45, silence timeout / 3)): each
  poll a Python request through the proxy;
- now, the front zone (`front_size`: the next 6 s of admissions, at least 20)
  polls status every `front_poll_interval` (2 s), each person half a poll
  more for entering it (R / 2 a second), and everyone behind reads
  the room's line document every `line_interval` of the mark at or before
  their place (`mark_ranks`: what line.lua sends); the proxy answers those
  from its one-second copy, so Python sees one document a second per room
  and proxy.

A steady line: everyone alive, admitted at R a second (the tick's pos_ema),
no one joining or leaving; joins, claims and admitted users' pages are the
same in both schedules and left out. Pure arithmetic: no database, no
server (python bench/crowd.py, or the `crowd` section of bench/run.py).
bench/crowd_run.py checks it against real clients through the real proxy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from waitingroom import schedule

LINES = (10_000, 100_000, 1_000_000)
RATES = (100, 1_000)
SILENCE_SECONDS = 120  # the room's default silence timeout (waitingroom/models.py)
PROXIES = 1  # nginx instances in front of the web nodes, each with its own one-second copy


def old_schedule(*, people: int, rate: int, silence: int = SILENCE_SECONDS) -> dict:
    status = sum(1 / schedule.poll_interval(ahead=ahead, rate=rate, silence_timeout=silence) for ahead in range(people))
    return {"python": status, "proxy": status, "status": status, "line": 0.0}


def new_schedule(*, people: int, rate: int, silence: int = SILENCE_SECONDS, proxies: int = PROXIES) -> dict:
    front = min(people, schedule.front_size(rate=rate))
    # Everyone in the front zone polls every 2 s. Each person polls at once on entering it
    # (room.js), not at a random phase: one poll more each; but they enter about a second after
    # their place did (half the document's age and half a read interval): half a poll fewer.
    # So half a poll more per person admitted: R / 2 a second (bench/crowd_run.py measures it).
    poll = schedule.front_poll_interval(silence_timeout=silence)
    status = front / poll + min(rate, people) / 2
    ranks = schedule.mark_ranks(people)
    line = 0.0
    for low, high in zip(ranks, [*ranks[1:], people], strict=True):
        # everyone from this mark to the next reads again after the mark's interval (room.js)
        behind = max(low, front), max(high, front)
        if behind[1] > behind[0]:
            line += (behind[1] - behind[0]) / schedule.line_interval(ahead=low, rate=rate)
    documents = proxies if people > front else 0  # a copy a second per proxy
    return {"python": status + documents, "proxy": status + line, "status": status, "line": line}


def model(*, lines=LINES, rates=RATES) -> dict:
    rows = []
    for people in lines:
        for rate in rates:
            old, new = old_schedule(people=people, rate=rate), new_schedule(people=people, rate=rate)
            rows.append(
                {
                    "people": people,
                    "rate": rate,
                    "front": min(people, schedule.front_size(rate=rate)),
                    "old_python": round(old["python"]),
                    "old_proxy": round(old["proxy"]),
                    "new_python": round(new["python"]),
                    "new_proxy": round(new["proxy"]),
                    "new_status": round(new["status"]),
                    "new_line": round(new["line"]),
                }
            )
    conditions = (
        f"a steady line, everyone alive, admitted at the rate; silence timeout {SILENCE_SECONDS} s; "
        f"{PROXIES} proxy keeping the line document 1 s; front zone {schedule.FRONT_SECONDS} s of admissions "
        f"(at least {schedule.FRONT_MIN}) polled every {schedule.FRONT_POLL_SECONDS} s"
    )
    return {"rows": rows, "conditions": conditions}


def table(result: dict) -> list[str]:
    lines = [
        "| queued | admitted/s | front zone | before: req/s to Python (= to the proxy) | now: req/s to Python "
        "| now: req/s to the proxy (status + line document) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['people']:,} | {r['rate']:,} | {r['front']:,} | {r['old_python']:,} | **{r['new_python']:,}** "
            f"| {r['new_proxy']:,} ({r['new_status']:,} + {r['new_line']:,}) |"
        )
    return lines


def section_crowd() -> None:
    """The model, then the real run that checks it (bench/crowd_run.py, about two minutes)."""
    from bench.common import results_save
    from bench.crowd_run import crowd_run

    results_save("crowd", {**model(), "run": crowd_run()})


def run_lines(run: dict) -> list[str]:
    """The real run beside the model (bench/crowd_run.py)."""
    return [
        "",
        f"Checked by a real run (`bench/crowd_run.py`): {run['people']:,} simulated clients in line, admitted at "
        f"{run['rate']}/s, each doing what the page does with the answers it gets, through nginx to granian; "
        f"{run['conditions']}; mean line {run['line_mean']:,}, admitted {run['admitted_per_s']}/s, mean response "
        f"{run['response_ms_mean']} ms, {run['errors']} errors.",
        "",
        "| | measured req/s | model req/s | measured / model |",
        "|---|---|---|---|",
        f"| reaching Python (nginx passed it to granian) | {run['python_per_s']:,} | {run['model_python_per_s']:,} "
        f"| {run['python_vs_model']} |",
        f"| reaching the proxy ({run['status_per_s']:,} status + {run['line_per_s']:,} line document) "
        f"| {run['proxy_per_s']:,} | {run['model_proxy_per_s']:,} | {run['proxy_vs_model']} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    result = model()
    print("\n".join(table(result)))
    print(f"\n{result['conditions']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
