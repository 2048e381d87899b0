"""firstcome benchmarks: `make bench` (everything) or `python bench/run.py <section>...`.

Sections (each can run on its own; figures accumulate in .run/bench/results.json
and `report` turns them into docs/benchmarks.md and its charts):

  setup     a fresh benchmark database, 50,000 users and their bearer tokens
  servers   the web server and worker model, chosen by measurement
  b1        spike claim: 200,000 claims for 10,000 slots from 50,000 users, the
            no-op ceilings, the three classic approaches on the same burst, the
            Redis ceiling (redis-benchmark)
  b2        drain: 10,000 accepted grants to succeeded with 1 and 2 workers
  b3        waiting room with 1,000,000 queued: tick, memory, join/status over HTTP
  b4        ranking cost: the same burst with and without leaderboards
  eta       the waiting room's ETA against the moment each user is admitted (W7)
  hot       the sold-out claim and the status poll against a bare Django view and the
            DRF no-op, in one run (issue 21)
  crowd     requests a second a queued line sends to Python and to the proxy,
            summed from the server's own poll schedule (bench/crowd.py)
  pages     the pages everyone refreshes at an opening: one uncached render against
            /healthz, and 10,000 visitors refreshing every 2 s through nginx's cache
  report    write docs/benchmarks.md and docs/benchmarks/*.png

Everything runs on this machine with the production settings
(config.settings.bench), the benchmark's own database and Redis db, real
server and Celery worker processes, and wrk as the load generator.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import stack
from bench.claims import section_b1, section_b2, section_b4, section_servers
from bench.common import log, results_load, results_save, section_setup
from bench.crowd import section_crowd
from bench.hot import section_hot
from bench.pages import section_pages
from bench.rooms import section_b3, section_eta

# --- main -------------------------------------------------------------------------

SECTIONS = {
    "setup": section_setup,
    "servers": section_servers,
    "b1": section_b1,
    "b2": section_b2,
    "b3": section_b3,
    "eta": section_eta,
    "crowd": section_crowd,
    "b4": section_b4,
    "pages": section_pages,
    "hot": section_hot,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", help="sections to run (default: all, then report)")
    args = parser.parse_args()
    wanted = args.sections or [*SECTIONS, "report"]
    stack.django_setup()
    started = time.monotonic()
    took: dict[str, int] = {}
    for name in wanted:
        if name == "report":
            from bench import report

            if not args.sections:  # a whole run: its times go into the report it writes
                results_save("run", {"seconds": round(time.monotonic() - started), "sections": wanted,
                                     "section_seconds": took})  # fmt: skip
            report.write(results_load())
            log("report: docs/benchmarks.md and docs/benchmarks/*.png written")
            continue
        section_started = time.monotonic()
        SECTIONS[name]()
        took[name] = round(time.monotonic() - section_started)
        log(f"{name} took {took[name]} s")
    log(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
