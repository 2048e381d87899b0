"""Celery tasks of the partners app: thin wrappers that call services."""

from celery import shared_task

from partners.services.keys import partner_keys_last_used_flush
from partners.services.webhooks import webhook_deliver, webhooks_due


@shared_task
def partner_keys_last_used_tick_task() -> int:
    return partner_keys_last_used_flush()


# At least once: a worker lost mid-delivery leaves the row pending, and the due tick sends it again.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def webhook_deliver_task(delivery_id: str) -> str:
    return webhook_deliver(delivery_id=delivery_id)


@shared_task
def webhook_due_tick_task() -> int:
    """Hand every delivery whose retry is due to the delivery queue (a retry's wait lives in its row, not
    in the broker: a countdown of hours would outlive the broker's visibility timeout)."""
    due = webhooks_due()
    for delivery_id in due:
        webhook_deliver_task.delay(delivery_id)
    return len(due)
