"""The drain: batches of grants per transaction, each grant with its own outcome (issue 7).

Real PostgreSQL, Redis and Celery workers throughout; queued messages are read
from the test broker itself.
"""

import base64
import json
import random
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from coupons import redis as gate
from coupons.models import Grant, LedgerEntry
from coupons.services.claims import claim_create
from coupons.services.drain import grant_drain
from coupons.services.grants import grant_transfer
from coupons.services.sweeper import grant_sweep
from coupons.services.wallets import wallet_adjust
from coupons.transfers import FlakyBackend, LedgerBackend
from ranking import services as ranking
from ranking.models import Board
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign
from tests.coupons.invariants import check_invariants
from tests.coupons.test_transfers import claim_all, pending_count
from tests.isolation import broker_key, redis_flush
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

DRAIN = "coupons.tasks.grant_drain_task"
TRANSFER = "coupons.tasks.grant_transfer_task"


def queued(client, queue: str = "grants") -> list[tuple[str, list, int]]:
    """(task name, args, retries) of every message waiting in a queue of the test broker."""
    messages = []
    for raw in client.lrange(broker_key(queue), 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], args, message["headers"].get("retries", 0)))
    return messages


def slow_ledger(*, seconds_per_grant: str, batch: str, **extra: str) -> dict[str, str]:
    """Worker settings: the ledger behind a flaky backend that never fails but takes its time."""
    return {
        "GRANT_TRANSFER_BACKEND": "flaky",
        "GRANT_FLAKY_TRANSIENT_RATE": "0",
        "GRANT_FLAKY_PERMANENT_RATE": "0",
        "GRANT_FLAKY_SLOW_RATE": "1",
        "GRANT_FLAKY_SLOW_SECONDS": seconds_per_grant,
        "GRANT_DRAIN_BATCH": batch,
        **extra,
    }


def drains_queued(client, campaign) -> int:
    return sum(1 for task, args, _ in queued(client) if task == DRAIN and args == [campaign.pk])


class BlockingBackend(LedgerBackend):
    """The ledger, but the first batch waits inside its transaction until the test lets it go."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def transfer_many(self, *, grants):
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(30), "the test never released the drain"
        return super().transfer_many(grants=grants)


def drain_in_thread(campaign, backend, **options) -> tuple[threading.Thread, list]:
    """Run a drain in another thread (its own connection); its report lands in the list."""
    reports: list = []

    def run():
        close_old_connections()
        try:
            reports.append(grant_drain(campaign_id=campaign.pk, backend=backend, **options))
        finally:
            close_old_connections()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, reports


@pytest.fixture
def boards():
    ranking.boards_forget()
    yield {
        "claims": Board.objects.create(slug="drain-claims", title="Claims", metric="claims"),
        "served": Board.objects.create(slug="drain-served", title="Served", metric="users_served"),
    }
    ranking.boards_forget()


def board_value(board, campaign) -> int | None:
    for entry in ranking.board_top(board=board, key="all", limit=50):
        if entry.member == str(campaign.pk):
            return entry.value
    return None


def test_claims_publish_one_drain_per_ring_not_one_message_per_grant(redis_clean):
    campaign = published_campaign(quantity=50)
    acknowledged = claim_all(campaign, UserFactory.create_batch(50))
    assert len(acknowledged) == 50
    # no worker has started the drain: the first claim rang, the other 49 found the bell set
    assert queued(redis_clean) == [(DRAIN, [campaign.pk], 0)]

    report = grant_drain(campaign_id=campaign.pk)
    assert (report.succeeded, report.batches) == (50, 1)
    check_invariants(campaign, acknowledged=acknowledged, full=True)
    # the drain cleared the bell: the next claim anywhere rings again
    assert not redis_clean.exists(gate.GateKeys.of(campaign.pk).doorbell)


def test_a_batch_with_mixed_flaky_outcomes_gives_each_grant_its_own_outcome(redis_clean, boards, worker_factory):
    quantity = 60
    campaign = published_campaign(quantity=quantity, amount=10)
    users = UserFactory.create_batch(quantity)
    acknowledged = claim_all(campaign, users)
    redis_clean.delete(broker_key("grants"))  # the claims' drain message: this test drains in-process
    backend = FlakyBackend(inner=LedgerBackend(), transient_rate=0.3, permanent_rate=0.1, seed=7)
    # the backend draws once per grant, in order: replay the draws to know how many of each to expect
    draws = random.Random(7)
    expected = {"failed": 0, "retrying": 0, "succeeded": 0}
    for _ in range(quantity):
        draw = draws.random()
        expected["failed" if draw < 0.1 else "retrying" if draw < 0.4 else "succeeded"] += 1
    assert all(expected.values()), expected

    report = grant_drain(campaign_id=campaign.pk, backend=backend)

    # then: one batch, and every grant has its own outcome
    assert report.batches == 1
    assert {"failed": report.failed, "retrying": report.retrying, "succeeded": report.succeeded} == expected
    keys = gate.GateKeys.of(campaign.pk)
    free = {int(slot) for slot in redis_clean.lrange(keys.free, 0, -1)}
    retries = {args[0]: retried for task, args, retried in queued(redis_clean) if task == TRANSFER}
    retried_ids = set(retries)
    for grant in Grant.objects.filter(campaign=campaign):
        hold = gate.Hold(grant.slot, grant.user_id, str(grant.pk))
        leased = redis_clean.zscore(keys.leases, hold.lease_member) is not None
        paid = LedgerEntry.objects.filter(grant=grant).count()
        assert grant.attempts == 1
        if grant.status == Grant.Status.SUCCEEDED:
            assert (paid, grant.last_error, leased) == (1, "", False)
            assert grant.completed_at is not None
        elif grant.status == Grant.Status.FAILED:
            assert (paid, grant.last_error) == (0, "flaky backend: permanent refusal")
            assert grant.slot in free and gate.holder_of(campaign_id=campaign.pk, user_id=grant.user_id) is None
        else:
            # transient: still pending, handed to the per-grant chain as its first retry
            assert (paid, grant.last_error, leased) == (0, "flaky backend: transient failure", True)
            assert retries.pop(str(grant.pk)) == 1
    assert retries == {}, "a retry message for a grant that did not need one"
    # the leaderboards count settled grants only, as the per-grant path does
    assert board_value(boards["claims"], campaign) == expected["succeeded"] + expected["failed"]
    assert board_value(boards["served"], campaign) == expected["succeeded"]

    # when a worker runs the retries (the ledger never fails), every retried grant succeeds once
    worker_factory()
    wait_until(lambda: pending_count(campaign) == 0, timeout=60, message="the retries")
    counts = check_invariants(campaign, acknowledged=acknowledged)
    assert counts["succeeded"] == expected["succeeded"] + expected["retrying"]
    assert counts["failed"] == expected["failed"]
    assert set(Grant.objects.filter(pk__in=retried_ids).values_list("status", "attempts")) == {("succeeded", 2)}


def test_two_drains_at_once_take_disjoint_batches_and_pay_each_grant_once(redis_clean):
    campaign = published_campaign(quantity=40, amount=10)
    acknowledged = claim_all(campaign, UserFactory.create_batch(40))
    blocking = BlockingBackend()
    holding, first = drain_in_thread(campaign, blocking, batch_size=15)
    assert blocking.entered.wait(30)

    try:
        # while the first drain holds its first 15 grants inside its transaction, a second one runs to the end
        second = grant_drain(campaign_id=campaign.pk, batch_size=15, backend=LedgerBackend())
    finally:
        blocking.release.set()
        holding.join(30)

    assert (first[0].succeeded, second.succeeded) == (15, 25)
    check_invariants(campaign, acknowledged=acknowledged, full=True)


@pytest.mark.chaos
def test_two_workers_draining_one_campaign_pay_each_grant_exactly_once(redis_clean, worker_factory):
    quantity = 400
    campaign = published_campaign(quantity=quantity, amount=10)
    acknowledged = claim_all(campaign, UserFactory.create_batch(quantity))
    slow_batches = slow_ledger(seconds_per_grant="0.01", batch="20")
    worker_factory(name="w1", concurrency=1, beat=False, **slow_batches)
    worker_factory(name="w2", concurrency=1, beat=False, **slow_batches)
    wait_until(lambda: pending_count(campaign) == 0, timeout=120, message="the drain")
    check_invariants(campaign, acknowledged=acknowledged, full=True)
    assert LedgerEntry.objects.filter(grant__campaign=campaign).values("grant_id").distinct().count() == quantity


def test_a_claim_committed_while_a_drain_runs_is_delivered_without_the_sweeper(redis_clean, worker_factory):
    campaign = published_campaign(quantity=3, amount=10)
    first, second, third = UserFactory.create_batch(3)
    acknowledged = {claim_create(campaign_id=campaign.pk, user_id=first.pk).grant_id}
    assert drains_queued(redis_clean, campaign) == 1  # the first claim rang

    # a drain starts (it clears the bell, then selects) and holds the first grant
    backend = BlockingBackend()
    running, _ = drain_in_thread(campaign, backend)
    assert backend.entered.wait(30)

    try:
        # a claim commits after that drain's select: the bell is clear, so it rings and publishes
        acknowledged.add(claim_create(campaign_id=campaign.pk, user_id=second.pk).grant_id)
        assert drains_queued(redis_clean, campaign) == 2
        # the next one finds the bell rung: the drain asked for will take it too, no new message
        acknowledged.add(claim_create(campaign_id=campaign.pk, user_id=third.pk).grant_id)
        assert drains_queued(redis_clean, campaign) == 2
    finally:
        backend.release.set()
        running.join(30)
    assert pending_count(campaign) == 2  # the running drain ended with its short batch

    # the queued drains deliver the two later claims; no beat, so no sweeper helps
    worker_factory(beat=False)
    wait_until(lambda: pending_count(campaign) == 0, timeout=60, message="the queued drains")
    check_invariants(campaign, acknowledged=acknowledged, full=True)


@pytest.mark.chaos
def test_claims_racing_running_drains_are_all_delivered_without_the_sweeper(redis_clean, worker_factory):
    """Claims from 8 threads while two workers drain in tiny batches: every ring either reaches a
    drain that sees the grant or is answered by one; nothing waits for the sweeper (no beat)."""
    quantity = 300
    campaign = published_campaign(quantity=quantity, amount=10)
    tiny_batches = slow_ledger(seconds_per_grant="0.002", batch="7")
    worker_factory(name="w1", concurrency=1, beat=False, **tiny_batches)
    worker_factory(name="w2", concurrency=1, beat=False, **tiny_batches)
    users = UserFactory.create_batch(quantity)
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def claimer(chunk):
        close_old_connections()
        mine = claim_all(campaign, chunk)
        with lock:
            acknowledged.update(mine)
        close_old_connections()

    threads = [threading.Thread(target=claimer, args=(users[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(acknowledged) == quantity
    wait_until(lambda: pending_count(campaign) == 0, timeout=120, message="the drains")
    check_invariants(campaign, acknowledged=acknowledged, full=True)


@pytest.mark.chaos
def test_a_worker_killed_mid_batch_loses_nothing_and_pays_once(redis_clean, worker_factory):
    quantity = 200
    campaign = published_campaign(quantity=quantity, amount=10)
    # one batch holds its transaction open for a second; recovery knobs scaled down to heal in seconds
    slow = slow_ledger(
        seconds_per_grant="0.05", batch="20", CELERY_VISIBILITY_TIMEOUT="5", GRANT_DRAIN_SWEEP_AFTER_SECONDS="2"
    )
    acknowledged = claim_all(campaign, UserFactory.create_batch(quantity))
    worker = worker_factory(name="w1", concurrency=1, beat=False, **slow)
    succeeded = Grant.objects.filter(campaign=campaign, status=Grant.Status.SUCCEEDED)
    wait_until(lambda: succeeded.exists(), timeout=60, message="the first batch")

    worker.kill()  # SIGKILL, pool and main process: a batch was mid-transaction
    done_at_kill = succeeded.count()
    assert done_at_kill < quantity, "the kill came too late to interrupt anything"
    assert done_at_kill % 20 == 0, "a batch commits whole or not at all"

    worker_factory(name="w2", **slow)  # with beat: the sweeper may start a drain too
    wait_until(lambda: pending_count(campaign) == 0, timeout=120, message="recovery")
    check_invariants(campaign, acknowledged=acknowledged, full=True)


def test_a_batch_that_fails_whole_sends_its_grants_one_by_one_and_one_bad_grant_holds_back_no_other(redis_clean):
    campaign = published_campaign(quantity=5, amount=10)
    acknowledged = claim_all(campaign, UserFactory.create_batch(5))
    redis_clean.delete(broker_key("grants"))
    poisoned = Grant.objects.filter(campaign=campaign).order_by("created_at")[2]
    # a credit for a pending grant that should not exist: the batch's ledger insert hits the unique reference
    wallet_adjust(user_id=poisoned.user_id, amount=1, reference=f"grant:{poisoned.pk}")

    report = grant_drain(campaign_id=campaign.pk)

    assert (report.succeeded, report.retrying) == (0, 5)
    assert sorted(args[0] for task, args, _ in queued(redis_clean) if task == TRANSFER) == sorted(acknowledged)
    assert set(Grant.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}
    # the per-grant path settles every other grant; the bad one stays pending for someone to look at
    for grant_id in acknowledged - {str(poisoned.pk)}:
        assert grant_transfer(grant_id=grant_id, final_attempt=False) == Grant.Status.SUCCEEDED
    with pytest.raises(Exception, match="reference"):
        grant_transfer(grant_id=str(poisoned.pk), final_attempt=False)
    assert Grant.objects.get(pk=poisoned.pk).status == Grant.Status.PENDING
    # the drain leaves a grant the per-grant path owns alone
    assert grant_drain(campaign_id=campaign.pk).batches == 0


def test_the_sweeper_starts_a_drain_for_grants_whose_drain_was_lost(redis_clean):
    campaign = published_campaign(quantity=10, amount=10)
    acknowledged = claim_all(campaign, UserFactory.create_batch(10))
    redis_clean.delete(broker_key("grants"))  # the broker lost the drain message; the bell is still set

    assert grant_sweep().drains_started == 0  # too recent: the drain asked for may still come
    later = timezone.now() + timedelta(seconds=30)
    assert grant_sweep(now=later).drains_started == 1
    assert drains_queued(redis_clean, campaign) == 1

    grant_drain(campaign_id=campaign.pk)
    check_invariants(campaign, acknowledged=acknowledged, full=True)
    assert grant_sweep(now=later).drains_started == 0


def test_a_full_batch_rings_for_help_so_an_idle_worker_joins(redis_clean):
    campaign = published_campaign(quantity=30, amount=10)
    claim_all(campaign, UserFactory.create_batch(30))
    redis_clean.delete(broker_key("grants"))
    gate.doorbell_clear(campaign_id=campaign.pk)

    report = grant_drain(campaign_id=campaign.pk, batch_size=10)

    # the first full batch rang (the bell was clear after the drain's own delete); later full
    # batches found it rung: one helper message, however long the backlog
    assert (report.batches, report.succeeded, report.helpers) == (3, 30, 1)
    assert drains_queued(redis_clean, campaign) == 1


def test_drained_grants_count_on_the_boards_exactly_as_a_rebuild_does(redis_clean, boards):
    campaign = published_campaign(quantity=12, amount=10)
    claim_all(campaign, UserFactory.create_batch(12))
    base = timezone.now() - timedelta(minutes=5)
    for index, grant in enumerate(Grant.objects.filter(campaign=campaign).order_by("created_at")):
        # several claims share a second, others have one of their own: the batch groups by second
        Grant.objects.filter(pk=grant.pk).update(created_at=base + timedelta(seconds=index // 3, microseconds=index))
    grant_drain(campaign_id=campaign.pk)
    keys = [f"{settings.REDIS_KEY_PREFIX}:{{rank}}:{b.slug}:*" for b in boards.values()]
    live = {k: redis_clean.zrange(k, 0, -1, withscores=True) for pattern in keys for k in redis_clean.keys(pattern)}
    assert board_value(boards["claims"], campaign) == 12

    redis_flush()
    for board in boards.values():
        ranking.board_rebuild(board=board)
    rebuilt = {k: redis_clean.zrange(k, 0, -1, withscores=True) for pattern in keys for k in redis_clean.keys(pattern)}
    assert live and rebuilt == live


def test_without_retries_a_transient_failure_in_a_batch_is_the_last_try(redis_clean, settings):
    settings.GRANT_MAX_RETRIES = 0
    campaign = published_campaign(quantity=3, amount=10)
    claim_all(campaign, UserFactory.create_batch(3))
    redis_clean.delete(broker_key("grants"))

    report = grant_drain(campaign_id=campaign.pk, backend=FlakyBackend(transient_rate=1.0, permanent_rate=0))

    assert (report.failed, report.retrying) == (3, 0)
    assert set(Grant.objects.filter(campaign=campaign).values_list("status", "last_error")) == {
        ("failed", "retries exhausted: flaky backend: transient failure")
    }
    assert not queued(redis_clean)
    check_invariants(campaign)
