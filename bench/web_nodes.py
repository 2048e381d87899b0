"""One web node against two behind nginx, on this machine (docs/scaling.md, "More web nodes").

The production topology of deploy/ (deploy/topology.py: nginx with TLS, granian nodes started
from firstcome-web@.service) on the benchmark's stores; wrk sends the same burst of claims
through nginx to each layout in turn, twice, alternating, so drift on a shared machine shows:

    .venv/bin/python -m bench.web_nodes            # prints a Markdown table and writes JSON

Layouts: 1 node x 2 processes (the default unit), 2 nodes x 2 processes, 2 nodes x 1 process
(as many processes as one node: what a second node alone changes). The campaign is sold out
after its first 1,000 claims, so nearly every request is the spike's common case, a rejection
answered from Redis: the web tier's own throughput, not the database's.
"""

import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from bench import stack, wrk
from deploy.topology import Topology

LAYOUTS = (("1 node x 2 processes", 1, 2), ("2 nodes x 2 processes", 2, 2), ("2 nodes x 1 process", 2, 1))
REQUESTS = 40_000
CONNECTIONS = 256
USERS = 20_000
RESULTS = stack.WORK / "web_nodes.json"


def topology_env(static_root: Path) -> dict[str, str]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return {
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,  # the token file is signed with it
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_STATIC_ROOT": str(static_root),
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "METRICS_TOKEN": secrets.token_urlsafe(16),
        "WEB_LOG_LEVEL": "error",
        "LOG_LEVEL": "WARNING",
    }


def main() -> None:
    stack.django_setup()
    stack.database_recreate()
    tokens = stack.tokens_write(stack.users_create(USERS), stack.WORK / "web-nodes-tokens.txt")
    scratch = Path(tempfile.mkdtemp(prefix="firstcome-bench-nodes-"))
    scratch.chmod(0o755)
    env = topology_env(scratch / "static")
    Topology.create(scratch / "release", env).release()
    figures: list[dict] = []
    try:
        for round_number in (1, 2):
            for name, nodes, processes in LAYOUTS:
                campaign = stack.campaign_create(slug=f"nodes-{round_number}-{nodes}-{processes}", quantity=1_000)
                topology = Topology.create(
                    scratch / f"{round_number}-{nodes}-{processes}",
                    {**env, "WEB_CONCURRENCY": str(processes)},
                    web_nodes=nodes,
                    # wrk sends from one address: lift the per-address cap above its connections
                    conn_per_client=CONNECTIONS * 2,
                )
                topology.start(background=False)
                try:
                    load = os.getloadavg()[0]
                    result = wrk.fire(
                        f"{topology.url}/api/v1/campaigns/{campaign.slug}/claims/",
                        tokens,
                        requests=REQUESTS,
                        connections=CONNECTIONS,
                    )
                finally:
                    topology.stop()
                figures.append({"layout": name, "round": round_number, "load_before": load, **result})
                print(f"{name} (round {round_number}): {result['rps']:.0f} req/s, p99 {result['p99_ms']} ms")
                time.sleep(2)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    RESULTS.write_text(json.dumps(figures, indent=2))
    print("\n| layout | round 1 req/s | round 2 req/s | p99 ms (r1, r2) |\n|---|---|---|---|")
    for name, _, _ in LAYOUTS:
        first, second = (f for f in figures if f["layout"] == name)
        rates = f"{first['rps']:.0f} | {second['rps']:.0f}"
        print(f"| {name} | {rates} | {first['p99_ms']:.0f}, {second['p99_ms']:.0f} |")


if __name__ == "__main__":
    main()
