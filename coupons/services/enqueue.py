"""The grants' Celery messages, sent by task name: the tasks call the services, so the services never
import the tasks (send_task routes by name: settings.CELERY_TASK_ROUTES)."""

import logging

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from config.celery import app as celery_app

logger = logging.getLogger(__name__)

TRANSFER_TASK = "coupons.tasks.grant_transfer_task"
DRAIN_TASK = "coupons.tasks.grant_drain_task"


def transfer_enqueue(grant_id: str) -> None:
    try:
        celery_app.send_task(TRANSFER_TASK, args=(grant_id,))
    except Exception:  # noqa: BLE001 - the grant row is durable; the sweeper re-drives it
        logger.warning("could not enqueue the transfer of grant %s; the sweeper will re-drive it", grant_id)


def drain_enqueue(campaign_id: int) -> bool:
    try:
        # A short delay lets the claims of a burst gather behind one ring (the
        # doorbell stays set until the drain starts, so they do not publish):
        # without it a steady trickle of claims would cost one message, one
        # task and one commit each.
        celery_app.send_task(DRAIN_TASK, args=(campaign_id,), countdown=settings.GRANT_DRAIN_DELAY_SECONDS)
    except Exception:  # noqa: BLE001 - the grant rows are durable; the sweeper starts a drain
        logger.warning("could not enqueue a drain of campaign %s; the sweeper will start one", campaign_id)
        return False
    return True


def transfer_retry_enqueue(grant_id: str) -> None:
    """Hand a grant the drain tried once to the per-grant chain, as its first retry.

    The message carries retries=1 and waits the backoff Celery would have chosen,
    so the grant gets the same number of attempts and the same spacing as a
    grant that started in grant_transfer_task.
    """
    countdown = get_exponential_backoff_interval(
        factor=1, retries=0, maximum=settings.GRANT_RETRY_BACKOFF_MAX, full_jitter=True
    )
    try:
        celery_app.send_task(TRANSFER_TASK, args=(grant_id,), countdown=countdown, retries=1)
    except Exception:  # noqa: BLE001 - the grant is pending and tried: the sweeper re-drives it
        logger.warning("could not hand grant %s to its retries; the sweeper will re-drive it", grant_id)
