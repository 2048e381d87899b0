"""Celery tasks of the coupons app: thin wrappers that call services."""

from dataclasses import asdict

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from coupons.errors import TransientTransferError
from coupons.seats.services import seats_sweep
from coupons.services import campaigns, drain, grants, reconcile, retire, sweeper


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Database outages count as transient too: the grant stays pending and the
    # sweeper re-drives it if even the last retry finds the database down.
    autoretry_for=(TransientTransferError, OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=settings.GRANT_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=settings.GRANT_MAX_RETRIES,
)
def grant_transfer_task(self, grant_id: str) -> str:
    return grants.grant_transfer(grant_id=grant_id, final_attempt=self.request.retries >= self.max_retries)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # A database outage leaves the grants pending: try the drain again later (the
    # sweeper also starts one for grants left waiting).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=settings.GRANT_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=settings.GRANT_MAX_RETRIES,
)
def grant_drain_task(self, campaign_id: int) -> dict:
    """Deliver a campaign's pending grants in batches (one message per ring, not per grant)."""
    return asdict(drain.grant_drain(campaign_id=campaign_id))


@shared_task(ignore_result=True)
def grant_sweep_tick_task() -> None:
    sweeper.grant_sweep()


@shared_task(ignore_result=True)
def campaign_status_tick_task() -> None:
    campaigns.campaign_status_refresh()


@shared_task(ignore_result=True)
def seat_sweep_tick_task() -> None:
    seats_sweep()


@shared_task(ignore_result=True)
def campaign_gate_heal_tick_task() -> None:
    reconcile.campaign_gates_heal()


@shared_task(ignore_result=True)
def redis_retire_tick_task() -> int:
    """Ended drops past their grace leave Redis (coupons/services/retire.py); returns how many campaigns."""
    return len(retire.campaigns_retire())
