"""The pages everyone refreshes at an opening (docs/pages.md): what one render costs, and what a crowd costs.

One run, two parts:

1. Uncached renders: granian as the Procfile runs it (2 processes x 4 threads), straight, no
   proxy; wrk with 64 connections on /healthz, the home page, a drop's page and the campaign
   list in turn, anonymous. Each page's rate is given as a share of /healthz's in the same run,
   three ways: nothing changing; at an opening (the refreshed drop's stock moving
   MOVES_PER_SECOND times a second, as claims move it); and with every part rendered.
2. The storm: the production topology (nginx with the shared-page cache, one granian node) and
   10,000 simulated visitors refreshing those three pages every 2 s for 30 s (5,000 requests a
   second offered, half Korean, half English), counting from nginx's access log the requests it
   passed to granian: what reaches Python.

wrk sends the storm from one address (it cannot bind a source address per connection): the
per-address cap is lifted above its connections, which changes nothing the cache does.

    python bench/run.py pages
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import stack, wrk
from bench.common import log, results_save

UNCACHED_SECONDS = 2
UNCACHED_ROUNDS = 5
UNCACHED_CONNECTIONS = 64
VISITORS = 10_000
REFRESH_SECONDS = 2
STORM_SECONDS = 30
STORM_CONNECTIONS = 400
LISTED_DROPS = 12  # on the home page and in the list, as a busy opening day has
# At an opening the refreshed drop's stock moves (claims): this many times a second, more often than a
# process is asked for a page, so nearly every request finds a stock it has not shown yet.
MOVES_PER_SECOND = 1000


def anonymous_tokens() -> Path:
    path = stack.WORK / "anonymous-tokens.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("-\n")
    return path


def drops_create() -> str:
    """LISTED_DROPS listed drops (the home page's and the list's content, and only they: the drops other
    sections listed are unlisted first); the slug of one to refresh."""
    from coupons.models import Campaign

    Campaign.objects.filter(unlisted=False).update(unlisted=True)
    stamp = int(time.time())
    slugs = [stack.campaign_create(slug=f"pages-{stamp}-{n}", quantity=10_000, unlisted=False).slug
             for n in range(LISTED_DROPS)]  # fmt: skip
    return slugs[0]


def static_collect() -> None:
    """The pages name their scripts and styles through the manifest storage: collect them first."""
    argv = [sys.executable, str(stack.ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"]
    subprocess.run(argv, cwd=stack.ROOT, env=stack.bench_env(), check=True, timeout=300)


_MOVER = """
import sys, time
import redis
client, key, rate = redis.Redis.from_url(sys.argv[1]), sys.argv[2], int(sys.argv[3])
start, moves = time.monotonic(), 0
while True:
    moves += 1
    client.set(key, moves % 9000)  # 9,000 values, each new to every memo when it comes round again
    delay = start + moves / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
"""


@contextlib.contextmanager
def stock_moving(slug: str):
    """The drop's stock moving MOVES_PER_SECOND times a second (its gate's slot counter, as claims move
    it) in a process of its own until the block ends; then as it was."""
    from django.conf import settings

    from config import redis as fc_redis
    from coupons.models import Campaign
    from coupons.redis import GateKeys

    key = GateKeys.of(Campaign.objects.get(slug=slug).pk).next
    client = fc_redis.client()
    before = client.get(key)
    argv = [sys.executable, "-c", _MOVER, settings.REDIS_URL, key, str(MOVES_PER_SECOND)]
    mover = subprocess.Popen(argv, cwd=stack.ROOT)
    try:
        yield
    finally:
        mover.terminate()
        mover.wait(timeout=10)
        client.set(key, before or 0)


def uncached(paths: dict[str, str], tokens: Path, slug: str) -> dict:
    """Each path's rate straight from granian, and its share of /healthz's in the same server: as production
    runs (each page rendered once per content per process, its unchanged parts kept: config/memo.py),
    first with nothing changing, then at an opening (`slug`'s stock moving, so the home page, the list
    and that drop's page are new at nearly every request); and with the memo off (RENDER_MEMO=false:
    every part of every request rendered; the "_render" figures). The paths take turns in
    UNCACHED_ROUNDS short rounds, so the host's drift weighs on all alike; a page's ratio is the median
    of its rounds' ratios to that round's /healthz."""
    figures = {}
    static_collect()
    for memo, suffix in (("true", ""), ("true", "_opening"), ("false", "_render")):
        proc = stack.server_start("granian", RENDER_MEMO=memo)
        rounds: dict[str, list[dict]] = {name: [] for name in paths}
        try:
            url = proc.extra["url"]
            with stock_moving(slug) if suffix == "_opening" else contextlib.nullcontext():
                for path in paths.values():
                    wrk.fire(url + path, tokens, seconds=2, connections=UNCACHED_CONNECTIONS, method="GET")  # warm
                for _ in range(UNCACHED_ROUNDS):
                    for name, path in paths.items():
                        rounds[name].append(wrk.fire(url + path, tokens, seconds=UNCACHED_SECONDS,
                                                     connections=UNCACHED_CONNECTIONS, method="GET"))  # fmt: skip
            description = proc.extra["description"]
        finally:
            proc.stop()
        for name, path in paths.items():
            samples = rounds[name]
            figures[name + suffix] = {
                "path": path,
                "rps": statistics.median(r["rps"] for r in samples),
                "p99_ms": statistics.median(r["p99_ms"] for r in samples),
                "codes": samples[-1]["codes"],
                "vs_healthz": round(
                    statistics.median(r["rps"] / h["rps"] for r, h in zip(samples, rounds["healthz"], strict=True)), 3
                ),
            }
            log(f"pages: {name}{suffix} {path} {figures[name + suffix]['rps']:.0f} req/s, "
                f"{figures[name + suffix]['vs_healthz']} x /healthz")  # fmt: skip
    return {"server": description, "connections": UNCACHED_CONNECTIONS, "seconds": UNCACHED_SECONDS,
            "rounds": UNCACHED_ROUNDS, "moves_per_second": MOVES_PER_SECOND, "pages": figures}  # fmt: skip


def upstream_counts(log_path: Path, start: int, end: int) -> dict[str, int]:
    """Requests nginx passed to a web node (an upstream address logged), by path, between two offsets."""
    with log_path.open("rb") as handle:
        handle.seek(start)
        lines = handle.read(end - start).decode(errors="replace").splitlines()
    counts: dict[str, int] = {"all": 0, "logged": len(lines)}
    for line in lines:
        request, rest = line.split('" ', 1)
        if rest.split()[3] != "-":
            path = request.split()[-2] if len(request.split()) >= 3 else "?"
            counts[path] = counts.get(path, 0) + 1
            counts["all"] += 1
    return counts


def storm(paths: list[str], tokens: Path) -> dict:
    from bench.web_nodes import topology_env
    from deploy.topology import Topology

    scratch = Path(tempfile.mkdtemp(prefix="firstcome-bench-pages-"))
    scratch.chmod(0o755)
    env = {**topology_env(scratch / "static")}
    topology = Topology.create(scratch / "topology", env, web_nodes=1, conn_per_client=STORM_CONNECTIONS * 2)
    topology.release()
    topology.start(background=False)
    try:
        offered = VISITORS / REFRESH_SECONDS
        url = topology.url + paths[0]
        # warm: the copies exist before the opening, as they do when people wait on the page
        wrk.fire(url, tokens, seconds=3, connections=32, method="GET", paths=paths, languages="ko,en")
        log_path = topology.run_dir / "nginx-access.log"
        start = log_path.stat().st_size
        load = os.getloadavg()[0]
        result = wrk.fire(url, tokens, seconds=STORM_SECONDS, connections=STORM_CONNECTIONS, method="GET",
                          paths=paths, rate=offered, languages="ko,en")  # fmt: skip
        time.sleep(0.5)
        counts = upstream_counts(log_path, start, log_path.stat().st_size)
    finally:
        topology.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = result["seconds"]
    return {
        "visitors": VISITORS,
        "refresh_s": REFRESH_SECONDS,
        "offered_rps": offered,
        "served_rps": result["rps"],
        "requests": result["requests"],
        "codes": result["codes"],
        "socket_errors": result["socket_errors"],
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "seconds": seconds,
        "python_rps": round(counts["all"] / seconds, 2) if seconds else 0.0,
        "python_by_path": {path: counts.get(path, 0) for path in paths},
        "nginx_logged": counts["logged"],
        "load_before": round(load, 2),
        "conditions": (
            f"nginx with TLS and the shared-page cache in front of one granian node (2 processes x 4 threads); "
            f"wrk, {STORM_CONNECTIONS} kept-alive connections paced to {offered:,.0f} requests/s "
            f"({VISITORS:,} visitors every {REFRESH_SECONDS} s), the three pages drawn at random, Accept-Language "
            f"ko or en; clients, stores and servers share {os.cpu_count()} cores"
        ),
    }


def section_pages() -> None:
    stack.database_ensure()
    tokens = anonymous_tokens()
    slug = drops_create()
    paths = {"healthz": "/healthz", "home": "/", "drop": f"/campaigns/{slug}/", "campaigns_api": "/api/v1/campaigns/"}
    result = {"uncached": uncached(paths, tokens, slug)}
    result["storm"] = storm([paths["home"], paths["drop"], paths["campaigns_api"]], tokens)
    storm_figures = result["storm"]
    log(f"pages: storm {storm_figures['served_rps']:.0f} req/s served, {storm_figures['python_rps']} req/s to Python")
    results_save("pages", result)


def report_lines(pages: dict) -> list[str]:
    """docs/benchmarks.md's "Opening page storm" section."""
    uncached_figures, storm_figures = pages["uncached"], pages["storm"]
    names = {"healthz": "`/healthz`", "home": "home `/`", "drop": "a drop's page",
             "campaigns_api": "`/api/v1/campaigns/`"}  # fmt: skip
    figures = uncached_figures["pages"]
    moves = uncached_figures.get("moves_per_second", MOVES_PER_SECOND)
    lines = [
        "The pages everyone refreshes at an opening (docs/pages.md): one copy per page and language for "
        "everybody, kept by nginx through the second of its render. First what Django costs without that "
        f"cache (granian straight, {uncached_figures['server']}, wrk {uncached_figures['connections']} "
        f"connections, {uncached_figures.get('rounds', 1)} interleaved rounds of {uncached_figures['seconds']} s, "
        "anonymous, 12 listed drops; a ratio is the median of the rounds'; each is given as a share of "
        "`/healthz` on the same server), three ways. **Nothing changing**: as production runs, each process "
        "renders a page once per content (the drops' rows and stock, read on every request; config/memo.py) "
        f"and reuses it. **At an opening**: the same, while the refreshed drop's stock moves {moves:,} times a "
        "second (claims), so the home page, the list and that drop's page are new at nearly every request: "
        "the parts that did not change (the page's shell, the other drops' cards, all of the drop's page "
        "but its stock) are kept, the rest is rendered. **Every part rendered**: the memo off "
        "(RENDER_MEMO=false), for reference.",
        "",
        "| uncached | nothing changing, req/s | × `/healthz` | at an opening, req/s | × `/healthz` "
        "| every part rendered, req/s | × `/healthz` |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in names:  # results.json keeps its keys sorted: the table's order is this one
        if key not in figures:
            continue
        cells = []
        for suffix in ("", "_opening", "_render"):
            figure = figures.get(key + suffix)
            cells += [f"{figure['rps']:,.0f}", str(figure["vs_healthz"])] if figure else ["", ""]
        lines.append(f"| {names.get(key, key)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"The storm: {storm_figures['visitors']:,} visitors refreshing every {storm_figures['refresh_s']} s for "
        f"{storm_figures['seconds']:.0f} s; {storm_figures['conditions']}. Served {storm_figures['served_rps']:,.0f} "
        f"req/s (p50 {storm_figures['p50_ms']} ms, p99 {storm_figures['p99_ms']} ms, codes {storm_figures['codes']}); "
        f"**{storm_figures['python_rps']} req/s reached Python** "
        f"({', '.join(f'{p}: {n}' for p, n in storm_figures['python_by_path'].items())} in the window).",
    ]
    return lines


def targets(pages: dict) -> list[tuple[str, str, bool]]:
    """(target, measured, met) rows for docs/benchmarks.md's Targets table."""
    rows = []
    names = {"home": "home `/`", "drop": "a drop's page", "campaigns_api": "`/api/v1/campaigns/`"}
    for suffix, how in (("", "nothing changing"), ("_opening", "at an opening (the stock moving)")):
        for key, name in names.items():
            figure = pages["uncached"]["pages"].get(key + suffix)
            if figure:
                rows.append((f"uncached ≥ 0.3 × `/healthz`, {how}: {name}", f"{figure['vs_healthz']} ×",
                             figure["vs_healthz"] >= 0.3))  # fmt: skip
    storm_figures = pages["storm"]
    rows.append(("10,000 refreshing every 2 s → ≤ 100 req/s to Python", f"{storm_figures['python_rps']} req/s",
                 storm_figures["python_rps"] <= 100))  # fmt: skip
    return rows
