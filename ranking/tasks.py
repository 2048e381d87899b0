"""Celery tasks of the rankings: thin wrappers that call services."""

from celery import shared_task

from ranking import services


@shared_task(ignore_result=True)
def ranking_snapshot_tick_task() -> None:
    services.boards_snapshot()
