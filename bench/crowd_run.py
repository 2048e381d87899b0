"""A real queued crowd through the production proxy, to check bench/crowd.py's model.

The production topology of deploy/ (nginx with its line-document cache, a
granian web node, the ticker and beat admitting) on the benchmark's stores; a
room with N people in line, joined in process; then N simulated clients that
do what the waiting page does (static/js/room.js), each following the answers
it gets: in the front zone it polls its status at `poll_after` with its
bearer token, further back it reads the line document, places itself from
its arrival score and reads again after its mark's `after`. Their first
requests are spread over their first interval, as people who arrived at
different moments are. After a warm-up, a window counts the requests the
clients sent (reaching the proxy) and, from nginx's access log, those nginx
passed to the web node (an upstream address logged: reaching Python), and
compares both with the model for the line's mean length in the window.

    python bench/crowd_run.py --people 20000 --rate 20
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import multiprocessing
import os
import random
import secrets
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")

from bench import stack
from bench.crowd import new_schedule


def ticket_score(ticket: str) -> int:
    import base64

    payload = ticket.split(":")[0]
    return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["s"])


def locate(line: dict, score: int) -> tuple[bool, int]:
    """(poll status now, seconds until the next read): room.js's locate()."""
    if line["front_score"] is None or score <= line["front_score"]:
        return True, 0
    below = None
    for mark in line["marks"]:
        if mark["score"] > score:
            break
        below = mark
    if below is None:
        return True, 0
    return False, below["after"]


def clients_run(part: int, parts: int, people: list, options: dict, results) -> None:
    """One process's share of the clients: a heap of (due, client) served by threads with kept-alive connections."""
    context = ssl.create_default_context(cafile=options["ca"])
    mine = [person for n, person in enumerate(people) if n % parts == part]
    heap = [(options["start"] + person["first"], person["user"]) for person in mine]
    heapq.heapify(heap)
    state = {person["user"]: person for person in mine}
    lock = threading.Lock()
    window = (options["start"] + options["warm"], options["start"] + options["warm"] + options["measure"])
    counts = {"status": 0, "line": 0, "admitted": 0, "errors": 0, "seconds": 0.0}
    parsed = {"body": None, "line": None}
    line_path, status_path = options["line_path"], options["status_path"]

    def worker() -> None:
        connection = http.client.HTTPSConnection("127.0.0.1", options["port"], context=context, timeout=30)
        while True:
            with lock:
                if not heap:
                    return
                due, user = heap[0]
                now = time.time()
                if now >= window[1]:
                    return
                if due > now:
                    wait = min(due - now, 0.02)
                else:
                    heapq.heappop(heap)
                    wait = 0
            if wait:
                time.sleep(wait)
                continue
            person = state[user]
            sent_at = time.time()
            counted = window[0] <= sent_at < window[1]
            try:
                if person["polling"]:
                    connection.request("GET", status_path, headers={"Authorization": f"Bearer {person['token']}"})
                    answer = json.loads(connection.getresponse().read())
                    kind = "status"
                    if answer["outcome"] == "admitted":
                        with lock:
                            counts["admitted"] += counted
                            counts["status"] += counted
                            counts["seconds"] += (time.time() - sent_at) * counted
                        continue
                    person["polling"] = answer["front"]
                    after = answer["poll_after"]
                else:
                    connection.request("GET", line_path)
                    body = connection.getresponse().read()
                    kind = "line"
                    with lock:
                        if body != parsed["body"]:
                            parsed["body"], parsed["line"] = body, json.loads(body)
                        line = parsed["line"]
                    person["polling"], after = locate(line, person["score"])
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                connection.close()
                connection = http.client.HTTPSConnection("127.0.0.1", options["port"], context=context, timeout=30)
                kind, after = "errors", 5
            with lock:
                counts[kind] += counted
                counts["seconds"] += (time.time() - sent_at) * counted
                heapq.heappush(heap, (time.time() + after, user))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(options["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(counts)


def upstream_requests(log: Path, start: int, end: int) -> tuple[int, int]:
    """(requests nginx passed to a web node, all requests) logged between two offsets of its access log
    (its size at the window's start and end: the lines of the requests that ended in the window)."""
    with log.open("rb") as handle:
        handle.seek(start)
        lines = handle.read(end - start).decode(errors="replace").splitlines()
    upstream = 0
    for line in lines:
        rest = line.split('" ', 1)[1].split()
        upstream += rest[3] != "-"
    return upstream, len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=20, help="admitted a second")
    parser.add_argument("--warm", type=float, default=15.0, help="seconds before the window")
    parser.add_argument("--measure", type=float, default=30.0, help="seconds of the window")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16, help="connections per process")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    stack.django_setup()
    result = crowd_run(
        people=args.people,
        rate=args.rate,
        warm=args.warm,
        measure=args.measure,
        processes=args.processes,
        threads=args.threads,
    )
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


def crowd_run(
    *,
    people: int = 20_000,
    rate: int = 20,
    warm: float = 15.0,
    measure: float = 30.0,
    processes: int = 2,
    threads: int = 16,
) -> dict:
    """The run described above; returns what was sent, what reached Python, and the model beside them."""
    args = argparse.Namespace(people=people, rate=rate, warm=warm, measure=measure, processes=processes,
                              threads=threads)  # fmt: skip
    from django.conf import settings

    from config import redis as fc_redis
    from deploy.topology import Topology
    from waitingroom import redis as room_redis
    from waitingroom import schedule

    stack.database_ensure()
    user_ids = stack.users_create(args.people, prefix="crowd-")
    directory = Path(tempfile.mkdtemp(prefix="firstcome-crowd-"))
    directory.chmod(0o755)
    tokens = _tokens(user_ids)
    stamp = int(time.time())
    room = stack.room_create(
        slug=f"crowd-{stamp}",
        title="bench: a crowd in line",
        max_active=args.people,
        admit_rate=args.rate,
        silence_timeout_seconds=120,
        pass_ttl_seconds=600,
        rate_user_burst=0,
    )
    room.save()
    batch = fc_redis.ScriptBatch()
    for user_id in user_ids:
        room_redis.join(room_id=room.pk, user_id=user_id, prequeue_draw=0, batch=batch)
    stack.batch_send(batch, "queued")
    keys = room_redis.RoomKeys.of(room.pk)
    scores = {int(member): int(score) for member, score in fc_redis.client().zrange(keys.queue, 0, -1, withscores=True)}
    rng = random.Random(stamp)
    crowd = []
    front = schedule.front_size(rate=args.rate)
    for rank, user_id in enumerate(sorted(scores, key=scores.get)):
        polling = rank < front
        if polling:
            first = schedule.front_poll_interval(silence_timeout=120)
        else:
            first = schedule.line_interval(ahead=rank, rate=args.rate)
        crowd.append(
            {
                "user": user_id,
                "score": scores[user_id],
                "token": tokens[user_id],
                "polling": polling,
                "first": rng.uniform(0, first),
            }
        )

    env = {
        "DATABASE_URL": _database_url(settings),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "DJANGO_STATIC_ROOT": str(directory / "static"),
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "METRICS_TOKEN": secrets.token_urlsafe(24),
    }
    topology = Topology.create(directory, env, web_nodes=1)
    topology.release()
    topology.start()
    try:
        options = {
            "ca": str(topology.tls_ca),
            "port": topology.https_port,
            "line_path": f"/api/v1/rooms/{room.slug}/line/",
            "status_path": f"/api/v1/rooms/{room.slug}/status/",
            "warm": args.warm,
            "measure": args.measure,
            "threads": args.threads,
            "start": time.time() + 2,
        }
        log = directory / "nginx-access.log"
        results = multiprocessing.Queue()
        processes = [
            multiprocessing.Process(target=clients_run, args=(n, args.processes, crowd, options, results))
            for n in range(args.processes)
        ]
        for process in processes:
            process.start()
        window = (options["start"] + args.warm, options["start"] + args.warm + args.measure)
        time.sleep(max(0.0, window[0] - time.time()))
        at_start, queued_start = log.stat().st_size, fc_redis.client().zcard(keys.queue)
        time.sleep(max(0.0, window[1] - time.time()))
        at_end, queued_end = log.stat().st_size, fc_redis.client().zcard(keys.queue)
        counts = [results.get() for _ in processes]
        for process in processes:
            process.join()
        upstream, logged = upstream_requests(log, at_start, at_end)
    finally:
        topology.stop()

    sent = {kind: sum(c[kind] for c in counts) for kind in counts[0]}
    seconds = args.measure
    mean_line = (queued_start + queued_end) / 2
    model = new_schedule(people=round(mean_line), rate=args.rate)
    result = {
        "people": args.people,
        "rate": args.rate,
        "window_s": seconds,
        "line_mean": round(mean_line),
        "admitted_per_s": round((queued_start - queued_end) / seconds, 1),
        "proxy_per_s": round((sent["status"] + sent["line"]) / seconds, 1),
        "status_per_s": round(sent["status"] / seconds, 1),
        "line_per_s": round(sent["line"] / seconds, 1),
        "python_per_s": round(upstream / seconds, 1),
        "nginx_logged_per_s": round(logged / seconds, 1),
        "errors": sent["errors"],
        "response_ms_mean": round(1000 * sent["seconds"] / max(1, sent["status"] + sent["line"]), 1),
        "model_python_per_s": round(model["python"], 1),
        "model_proxy_per_s": round(model["proxy"], 1),
    }
    result["python_vs_model"] = round(result["python_per_s"] / result["model_python_per_s"], 3)
    result["proxy_vs_model"] = round(result["proxy_per_s"] / result["model_proxy_per_s"], 3)
    result["conditions"] = (
        f"the production topology on this machine (nginx, one granian web node, ticker, beat; clients, stores "
        f"and servers share {os.cpu_count()} cores); {args.processes} client processes × {threads} kept-alive "
        f"TLS connections; {warm:.0f} s warm-up, then a {measure:.0f} s window"
    )
    return result


def _tokens(user_ids: list[int]) -> dict[int, str]:
    """Each user's bearer token, their generations warm in Redis (stack.tokens_write does the same to a file)."""
    from accounts import services
    from accounts.models import User
    from accounts.tokens import api_token_build

    users = list(User.objects.filter(pk__in=user_ids))
    services.api_token_generation_warm_many(generations={u.pk: u.api_token_generation for u in users})
    return {user.pk: api_token_build(user=user)[0] for user in users}


def _database_url(settings) -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


if __name__ == "__main__":
    main()
