"""Hooks that stop a claim at a chosen step, and a Redis failover replayed on a campaign's keys.

A race test orders its steps with these instead of hoping a sleep lands in a
window (docs/reliability.md, "Exactness under races").
"""

import threading

from django.db import close_old_connections, connection
from django_redis import get_redis_connection

from coupons import redis as gate
from coupons.services.claims import claim_create

WAIT = 30  # seconds any step may take on a loaded machine before the test gives up


class PausedInsert:
    """A database execute wrapper: the grant INSERT of the thread it is installed in waits at the
    door until `go` is set. `reached` tells that the claim script accepted and the INSERT is next."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.go = threading.Event()
        self.backend_pid: int | None = None

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "coupons_grant"'):
            self.backend_pid = context["connection"].connection.info.backend_pid
            self.reached.set()
            assert self.go.wait(WAIT), "the test never let the INSERT go"
        return execute(sql, params, many, context)

    def drop_connection(self) -> None:
        """The database connection of the paused INSERT drops (terminated by the server, as in a failover)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [self.backend_pid])


def claim_in_thread(paused: PausedInsert, **claim) -> tuple[threading.Thread, dict]:
    """Start claim_create(**claim) in a thread whose INSERT `paused` holds; the outcome lands in the dict
    ("result" or "error") once the thread ends."""
    outcome: dict = {}

    def run() -> None:
        close_old_connections()
        try:
            with connection.execute_wrapper(paused):
                outcome["result"] = claim_create(**claim)
        except Exception as exc:  # noqa: BLE001 - the test asserts on it
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert paused.reached.wait(WAIT), f"the claim never reached its INSERT: {outcome}"
    return thread, outcome


def campaign_keys(campaign_id: int) -> list[bytes]:
    base = gate.GateKeys.of(campaign_id).meta.removesuffix("meta")
    return list(get_redis_connection("default").scan_iter(match=f"{base}*", count=1000))


def campaign_keys_dump(campaign_id: int) -> dict[bytes, tuple[bytes, int]]:
    """Every key of the campaign as a replica would hold it now: key -> (DUMP, ms to live)."""
    client = get_redis_connection("default")
    return {key: (client.dump(key), max(client.pttl(key), 0)) for key in campaign_keys(campaign_id)}


def campaign_keys_restore(campaign_id: int, copy: dict[bytes, tuple[bytes, int]]) -> None:
    """A failover to the replica that held `copy`: every key of the campaign is put back as it was
    (RESTORE ... REPLACE), and the keys written since are gone."""
    client = get_redis_connection("default")
    for key in campaign_keys(campaign_id):
        if key not in copy:
            client.delete(key)
    for key, (value, ttl_ms) in copy.items():
        client.restore(key, ttl_ms, value, replace=True)
