"""Project-wide periodic tasks."""

from celery import shared_task

from config import health


@shared_task(ignore_result=True)
def heartbeat_tick_task() -> None:
    """Record that beat scheduled and a ticks worker ran a task just now."""
    health.heartbeat_record()
