"""Transfers through a real Celery worker: delivery, idempotence, retries, failures, crashes."""

import threading
import time

import pytest
from django.db import close_old_connections

from coupons.errors import ClaimRejected
from coupons.models import Campaign, Grant, LedgerEntry
from coupons.services.claims import claim_create
from coupons.services.grants import grant_transfer
from coupons.transfers import LedgerBackend
from tests.accounts.factories import UserFactory
from tests.coupons.factories import published_campaign
from tests.coupons.invariants import check_invariants
from tests.isolation import redis_flush
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def pending_count(campaign) -> int:
    return Grant.objects.filter(campaign=campaign, status=Grant.Status.PENDING).count()


def claim_all(campaign, users) -> set[str]:
    acknowledged = set()
    for user in users:
        try:
            outcome = claim_create(campaign_id=campaign.pk, user_id=user.pk)
        except ClaimRejected:
            continue
        if outcome.created:
            acknowledged.add(outcome.grant_id)
    return acknowledged


def test_worker_delivers_every_grant_once(worker_factory):
    campaign = published_campaign(quantity=30, amount=10)
    worker_factory()
    acknowledged = claim_all(campaign, UserFactory.create_batch(40))
    assert len(acknowledged) == 30
    wait_until(lambda: pending_count(campaign) == 0, timeout=60, message="the drain")
    counts = check_invariants(campaign, acknowledged=acknowledged, full=True)
    assert counts["succeeded"] == 30


def test_coupon_campaign_issues_unique_codes(worker_factory):
    campaign = published_campaign(quantity=20, amount=3000, kind=Campaign.Kind.COUPON)
    worker_factory()
    acknowledged = claim_all(campaign, UserFactory.create_batch(20))
    wait_until(lambda: pending_count(campaign) == 0, timeout=60, message="the drain")
    check_invariants(campaign, acknowledged=acknowledged, full=True)
    codes = list(campaign.coupons.values_list("code", flat=True))
    assert len(codes) == len(set(codes)) == 20


def test_a_transfer_run_twice_or_concurrently_credits_once():
    campaign = published_campaign(quantity=1, amount=10)
    user = UserFactory()
    grant_id = claim_create(campaign_id=campaign.pk, user_id=user.pk).grant_id
    results = []

    def run():
        close_old_connections()
        results.append(grant_transfer(grant_id=grant_id, final_attempt=False, backend=LedgerBackend()))
        close_old_connections()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["succeeded"] * 8
    assert grant_transfer(grant_id=grant_id, final_attempt=True) == "succeeded"
    assert LedgerEntry.objects.filter(grant_id=grant_id).count() == 1
    check_invariants(campaign, full=True)


def test_flaky_backend_every_grant_settles_and_exactly_n_succeed(worker_factory):
    """30% transient and 5% permanent failures; users whose grant failed or who came late keep trying."""
    quantity = 120
    campaign = published_campaign(quantity=quantity, amount=10)
    worker_factory(
        GRANT_TRANSFER_BACKEND="flaky",
        GRANT_FLAKY_TRANSIENT_RATE="0.3",
        GRANT_FLAKY_PERMANENT_RATE="0.05",
        GRANT_RETRY_BACKOFF_MAX="1",
        GRANT_MAX_RETRIES="10",
    )
    users = UserFactory.create_batch(300)
    acknowledged: set[str] = set()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        acknowledged |= claim_all(campaign, users)
        wait_until(lambda: pending_count(campaign) == 0, timeout=90, message="retries to settle")
        if Grant.objects.filter(campaign=campaign, status=Grant.Status.SUCCEEDED).count() == quantity:
            break
    counts = check_invariants(campaign, acknowledged=acknowledged, full=True)
    assert counts["failed"] > 0, "the flaky backend should have failed some grants permanently"
    assert Grant.objects.filter(campaign=campaign, status=Grant.Status.SUCCEEDED, attempts__gt=1).exists()


@pytest.mark.chaos
def test_worker_killed_mid_transfer_loses_nothing_and_pays_once(worker_factory):
    quantity = 40
    campaign = published_campaign(quantity=quantity, amount=10)
    slow = {
        "GRANT_TRANSFER_BACKEND": "flaky",
        "GRANT_FLAKY_TRANSIENT_RATE": "0",
        "GRANT_FLAKY_PERMANENT_RATE": "0",
        "GRANT_FLAKY_SLOW_RATE": "1",
        "GRANT_FLAKY_SLOW_SECONDS": "0.25",
        # small drain batches: the grants are delivered over several transactions,
        # so the kills below land with work done and work left
        "GRANT_DRAIN_BATCH": "5",
        # recovery knobs scaled down so the test heals in seconds
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "GRANT_STUCK_AFTER_SECONDS": "3",
    }
    worker = worker_factory(name="w1", **slow)
    acknowledged = claim_all(campaign, UserFactory.create_batch(quantity))
    assert len(acknowledged) == quantity

    # 1: kill the pool child in the middle of a transfer (the main process survives)
    wait_until(lambda: Grant.objects.filter(campaign=campaign, status="succeeded").exists(), timeout=30, message="work")
    for child in worker.children():
        import os
        import signal

        os.kill(child, signal.SIGKILL)
    # 2: kill the whole worker, then start a fresh one
    time.sleep(1)
    worker.kill()
    assert pending_count(campaign) > 0, "the kill came too late to interrupt anything"
    worker_factory(name="w2", **slow)

    wait_until(lambda: pending_count(campaign) == 0, timeout=120, message="recovery")
    check_invariants(campaign, acknowledged=acknowledged, full=True)


@pytest.mark.chaos
def test_redis_flushed_mid_event_loses_no_acknowledged_claim(worker_factory, redis_clean):
    """Claims race from 16 threads while Redis loses everything; afterwards every invariant holds."""
    quantity = 150
    campaign = published_campaign(quantity=quantity, amount=10)
    worker_factory(GRANT_STUCK_AFTER_SECONDS="3")
    users = UserFactory.create_batch(400)
    acknowledged: set[str] = set()
    lock = threading.Lock()
    errors: list[str] = []
    flushed = threading.Event()

    def claimer(chunk):
        close_old_connections()
        for index, user in enumerate(chunk):
            if index == len(chunk) // 3 and not flushed.is_set():
                flushed.set()
                redis_flush()  # Redis restarts without persistence: gate and queues gone
            try:
                outcome = claim_create(campaign_id=campaign.pk, user_id=user.pk)
            except ClaimRejected:
                continue
            except Exception as error:  # noqa: BLE001 - a 503 is allowed; it acknowledges nothing
                errors.append(type(error).__name__)
                continue
            if outcome.created:
                with lock:
                    acknowledged.add(outcome.grant_id)
        close_old_connections()

    threads = [threading.Thread(target=claimer, args=(users[i::16],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert flushed.is_set()
    assert set(errors) <= {"GateUnavailable"}, errors

    # Tasks queued before the flush are gone with it: the sweeper re-drives their grants.
    wait_until(lambda: pending_count(campaign) == 0, timeout=90, message="recovery after the flush")
    counts = check_invariants(campaign, acknowledged=acknowledged, full=True)
    assert counts["live"] == quantity
