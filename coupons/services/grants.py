"""A grant's own way: the per-grant transfer (the retry chain), failure, and re-driving stuck grants."""

import contextlib
import logging
from collections import Counter

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import RedisError

from coupons import redis as gate
from coupons.errors import PermanentTransferError, TransientTransferError
from coupons.locks import grant_lock
from coupons.metrics import grants_settled_now
from coupons.models import Grant
from coupons.services.enqueue import transfer_enqueue
from coupons.services.gate import hold_release_quietly
from coupons.services.rankings import ranking_settled
from coupons.signals import grants_settled
from coupons.transfers import TransferBackend, transfer_backend

logger = logging.getLogger(__name__)


def grant_transfer(*, grant_id: str, final_attempt: bool, backend: TransferBackend | None = None) -> str:
    """Deliver a pending grant once; returns the grant's status afterwards.

    Idempotent: a grant that is no longer pending is left alone, and the
    backend's delivery runs in the same transaction that marks it succeeded.
    """
    backend = backend or transfer_backend()
    try:
        with transaction.atomic():
            grant = grant_lock(grant_id=grant_id, with_campaign=True)
            if grant is None:
                return "missing"
            if grant.status != Grant.Status.PENDING:
                return grant.status
            backend.transfer(grant=grant)
            grant.status = Grant.Status.SUCCEEDED
            grant.attempts += 1
            grant.last_error = ""
            grant.completed_at = timezone.now()
            grant.save(update_fields=["status", "attempts", "last_error", "completed_at", "updated_at"])
            grants_settled.send(sender=Grant, campaign=grant.campaign, succeeded=[grant], failed=[])
    except TransientTransferError as exc:
        if final_attempt:
            if grant_fail(grant_id=grant_id, reason=f"retries exhausted: {exc}"):
                _failed_settled(grant, kind="exhausted")
            return Grant.Status.FAILED
        _grant_note_attempt(grant_id=grant_id, error=str(exc))
        grants_settled_now(latencies=[], succeeded=0, failures=Counter(transient=1))
        raise
    except PermanentTransferError as exc:
        if grant_fail(grant_id=grant_id, reason=str(exc)):
            _failed_settled(grant, kind="permanent")
        return Grant.Status.FAILED

    with contextlib.suppress(RedisError):  # the sweeper drops leases of succeeded grants
        gate.lease_drop(campaign_id=grant.campaign_id, hold=gate.Hold(grant.slot, grant.user_id, str(grant.id)))
    ranking_settled(grant=grant, succeeded=True)
    latency = (grant.completed_at - grant.created_at).total_seconds()
    grants_settled_now(latencies=[latency], succeeded=1, failures=Counter())
    return Grant.Status.SUCCEEDED


def _grant_note_attempt(*, grant_id: str, error: str) -> None:
    Grant.objects.filter(pk=grant_id, status=Grant.Status.PENDING).update(
        attempts=F("attempts") + 1, last_error=error[:1000], updated_at=timezone.now()
    )


def grant_fail(*, grant_id: str, reason: str) -> bool:
    """pending → failed, then give the slot back if this grant still holds it."""
    with transaction.atomic():
        grant = grant_lock(grant_id=grant_id, pending_only=True)
        if grant is None:
            return False
        Grant.objects.filter(pk=grant.pk).update(
            status=Grant.Status.FAILED,
            attempts=F("attempts") + 1,
            last_error=reason[:1000],
            completed_at=timezone.now(),
            updated_at=timezone.now(),
        )
        grant.status = Grant.Status.FAILED
        grants_settled.send(sender=Grant, campaign=grant.campaign, succeeded=[], failed=[grant])
    hold_release_quietly(
        campaign_id=grant.campaign_id, hold=gate.Hold(grant.slot, grant.user_id, str(grant.id)), reuse_slot=True
    )
    ranking_settled(grant=grant, succeeded=False)
    logger.info("grant %s failed: %s", grant_id, reason)
    return True


def _failed_settled(grant: Grant, *, kind: str) -> None:
    latency = (timezone.now() - grant.created_at).total_seconds()
    grants_settled_now(latencies=[latency], succeeded=0, failures=Counter({kind: 1}))


def grant_redrive(*, grant_ids: list[str]) -> int:
    """Enqueue the transfer again (safe: transfers are idempotent) and mark the grants touched."""
    if not grant_ids:
        return 0
    Grant.objects.filter(pk__in=grant_ids, status=Grant.Status.PENDING).update(updated_at=timezone.now())
    for grant_id in grant_ids:
        transfer_enqueue(str(grant_id))
    return len(grant_ids)
