"""Celery tasks of the partners app: thin wrappers that call services."""

from celery import shared_task

from partners.services.keys import partner_keys_last_used_flush


@shared_task
def partner_keys_last_used_tick_task() -> int:
    return partner_keys_last_used_flush()
