"""The drain: a campaign's pending grants delivered in batches, many per transaction.

A committed claim rings the campaign's doorbell (confirm.lua: SET NX EX, after
the commit) and publishes grant_drain_task only if its SET created the key; a
drain that took a full batch rings the same way, to get an idle worker to
help. A drain deletes the doorbell, then selects pending grants batch after
batch (FOR UPDATE SKIP LOCKED, so concurrent drains never share a grant) until
a select comes back short. While the key exists, a drain is asked for and has
not started: so at most one such message waits, however many claims arrive.

Why no committed claim is left behind. Take a claim C that commits at tc and
rings at ts > tc.
- C's SET created the key: C publishes a drain, which starts after ts and so
  selects after C's commit.
- The key existed at ts: the last SET before ts, at t0, was a ring R, and R
  published a drain D (a ring that cannot publish deletes the key again, so it
  is not the last SET). Nothing deleted the key in (t0, ts], or it would not
  exist at ts; D is published after t0, so D's delete comes after ts, and D's
  selects after its delete: D selects after C's commit.
- A drain running when C commits either meets C's row in a later select or
  made its last select before tc; its delete came before that, so C's ring is
  one of the two cases above.
A select "meets" the row when it returns it or skips it because another
transaction holds it locked: a drain or a transfer, which delivers it or, if
it dies, rolls back while its message is redelivered (acks_late).
What the argument cannot cover, the sweeper does (a drain for pending grants
older than GRANT_DRAIN_SWEEP_AFTER_SECONDS): a process dying between its ring
and its publish, a delete or a ring lost to a Redis error, a Redis flush that
took queued messages. The key expires after GRANT_DOORBELL_SECONDS, so such a
loss also ends with the next claim's ring.
"""

import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import RedisError

from config import redis as fc_redis
from coupons import redis as gate
from coupons.errors import PermanentTransferError
from coupons.locks import grants_lock_drain_batch
from coupons.metrics import grants_settled
from coupons.models import Campaign, Grant
from coupons.services.enqueue import drain_enqueue, transfer_retry_enqueue
from coupons.services.rankings import ranking_settled_many
from coupons.signals import grants_settled as grants_settled_signal
from coupons.transfers import TransferBackend, transfer_backend, transfer_many

logger = logging.getLogger(__name__)


@dataclass
class DrainReport:
    batches: int = 0
    succeeded: int = 0
    failed: int = 0
    retrying: int = 0  # handed to the per-grant retry chain (grant_transfer_task)
    helpers: int = 0  # drains this one asked for, to share a backlog with idle workers


@dataclass
class _BatchOutcome:
    taken: int = 0
    succeeded: list[Grant] = field(default_factory=list)
    failed: list[Grant] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # grant id -> why it failed or retries
    failures: Counter[str] = field(default_factory=Counter)  # transfer failures by kind, for the metrics
    completed_at: datetime | None = None


def grant_drain(
    *,
    campaign_id: int,
    batch_size: int | None = None,
    budget_seconds: float | None = None,
    backend: TransferBackend | None = None,
) -> DrainReport:
    """Deliver the campaign's untried pending grants, one transaction per batch, until none is left.

    Each grant keeps its own outcome: delivered ones succeed together, a
    permanent refusal fails that grant alone (its slot goes back), a transient
    one hands that grant to the per-grant retry chain.

    After a full batch the drain rings the doorbell itself: if no drain is asked
    for yet, it publishes one, so an idle worker joins in on a backlog (SKIP
    LOCKED shares it out) and at most one such message waits at any time. After
    the time budget a drain with work left returns, leaving the rest to that
    drain, so one hot campaign does not keep a worker from every other task.
    """
    size = batch_size or settings.GRANT_DRAIN_BATCH
    budget = settings.GRANT_DRAIN_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    backend = backend or transfer_backend()
    report = DrainReport()
    # Before the first select: see the argument in the module docstring.
    with contextlib.suppress(RedisError):  # then the key expires and the sweeper covers the gap
        gate.doorbell_clear(campaign_id=campaign_id)
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return report
    deadline = time.monotonic() + budget
    while True:
        outcome = _drain_batch(campaign=campaign, size=size, backend=backend)
        if not outcome.taken:
            return report
        full = outcome.taken >= size
        report.batches += 1
        report.succeeded += len(outcome.succeeded)
        report.failed += len(outcome.failed)
        report.retrying += len(outcome.retrying)
        queued = _drain_settle(campaign_id=campaign_id, outcome=outcome, ring=full, unlisted=campaign.unlisted)
        if queued is True:
            report.helpers += 1
        if not full:
            return report  # a short select took every grant no other transaction holds
        if time.monotonic() >= deadline:
            if queued is None:  # Redis did not answer the ring: ask for a successor directly
                drain_enqueue(campaign_id)
            return report


def _drain_batch(*, campaign: Campaign, size: int, backend: TransferBackend) -> _BatchOutcome:
    """One transaction: lock up to `size` pending grants, deliver them, record each outcome."""
    outcome = _BatchOutcome()
    grant_ids: list[str] = []
    try:
        with transaction.atomic():
            grants = grants_lock_drain_batch(campaign_id=campaign.pk, size=size)
            grant_ids = [str(g.pk) for g in grants]
            outcome.taken = len(grants)
            if not grants:
                return outcome
            for grant in grants:
                grant.campaign = campaign  # terms are frozen once published: one read serves the batch
            results = transfer_many(backend, grants)
            now = timezone.now()
            outcome.completed_at = now
            errors: dict[tuple[str, str], list] = {}
            for grant in grants:
                error = results[grant.pk]
                if error is None:
                    outcome.succeeded.append(grant)
                    continue
                reason = str(error)
                final = isinstance(error, PermanentTransferError)
                kind = "permanent" if final else "transient"
                if not final and settings.GRANT_MAX_RETRIES < 1:  # no retries configured: this was the last try
                    final, reason, kind = True, f"retries exhausted: {error}", "exhausted"
                outcome.failures[kind] += 1
                if final:
                    outcome.failed.append(grant)
                else:
                    outcome.retrying.append(str(grant.pk))
                outcome.errors[str(grant.pk)] = reason
                errors.setdefault(("failed" if final else "retrying", reason[:1000]), []).append(grant.pk)
            if outcome.succeeded:
                Grant.objects.filter(pk__in=[g.pk for g in outcome.succeeded]).update(
                    status=Grant.Status.SUCCEEDED,
                    attempts=F("attempts") + 1,
                    last_error="",
                    completed_at=now,
                    updated_at=now,
                )
            for (kind, message), ids in errors.items():
                changes = {"attempts": F("attempts") + 1, "last_error": message, "updated_at": now}
                if kind == "failed":
                    changes |= {"status": Grant.Status.FAILED, "completed_at": now}
                Grant.objects.filter(pk__in=ids).update(**changes)
            if outcome.succeeded or outcome.failed:
                grants_settled_signal.send(
                    sender=Grant, campaign=campaign, succeeded=outcome.succeeded, failed=outcome.failed
                )
    except (OperationalError, InterfaceError):
        raise  # the database is away: the grants stay pending, the task retries the drain
    except Exception as exc:
        if not grant_ids:
            raise
        # Something no backend should raise (a bug, a constraint a pending grant
        # cannot meet): the batch rolled back whole. Its grants go the per-grant
        # way, so one bad grant holds back no other.
        logger.exception("drain batch of campaign %s failed; %d grants go one by one", campaign.pk, len(grant_ids))
        Grant.objects.filter(pk__in=grant_ids, status=Grant.Status.PENDING, attempts=0).update(
            attempts=F("attempts") + 1, last_error=f"drain batch failed: {exc!r}"[:1000], updated_at=timezone.now()
        )
        return _BatchOutcome(taken=len(grant_ids), retrying=grant_ids)
    for grant in outcome.failed:
        logger.info("grant %s failed: %s", grant.pk, outcome.errors[str(grant.pk)])
    return outcome


def _drain_settle(*, campaign_id: int, outcome: _BatchOutcome, ring: bool, unlisted: bool = False) -> bool | None:
    """After the batch committed: one Redis round trip for its leases, released slots,
    leaderboard counts and (with `ring`) the doorbell, then the messages it calls for.

    Returns whether the ring published a drain: True, False (one was already asked
    for, or `ring` is off) or None (Redis did not answer). Nothing here is needed
    for correctness right away: the sweeper drops leases and releases slots that
    outlive their grants.
    """
    batch = fc_redis.ScriptBatch()
    if ring:
        gate.doorbell_ring(campaign_id=campaign_id, seconds=settings.GRANT_DOORBELL_SECONDS, batch=batch)
    gate.leases_drop(
        campaign_id=campaign_id, holds=[gate.Hold(g.slot, g.user_id, str(g.pk)) for g in outcome.succeeded], batch=batch
    )
    for grant in outcome.failed:
        gate.release(
            campaign_id=campaign_id,
            hold=gate.Hold(grant.slot, grant.user_id, str(grant.pk)),
            reuse_slot=True,
            batch=batch,
        )
    ranking_settled_many(
        campaign_id=campaign_id,
        succeeded=outcome.succeeded,
        failed=outcome.failed,
        completed_at=outcome.completed_at,
        batch=batch,
        unlisted=unlisted,
    )
    settled = [*outcome.succeeded, *outcome.failed]
    grants_settled(
        batch=batch,
        latencies=[(outcome.completed_at - grant.created_at).total_seconds() for grant in settled],
        succeeded=len(outcome.succeeded),
        failures=outcome.failures,
    )
    rang: bool | None = None if ring else False
    try:
        replies = batch.execute()
    except RedisError as exc:
        logger.warning("could not settle a drain batch of campaign %s in Redis: %s", campaign_id, exc)
    else:
        for reply in replies:
            if isinstance(reply, Exception):
                logger.warning("settling a drain batch of campaign %s in Redis: %s", campaign_id, reply)
        if ring and not isinstance(replies[0], Exception):
            rang = bool(replies[0])
    for grant_id in outcome.retrying:
        transfer_retry_enqueue(grant_id)
    if rang and not drain_enqueue(campaign_id):
        with contextlib.suppress(RedisError):  # nobody answers this ring: let the next one ring again
            gate.doorbell_clear(campaign_id=campaign_id)
        return None
    return rang
