"""Celery tasks of the waiting room: thin wrappers that call services."""

from celery import shared_task

from waitingroom import services


@shared_task(ignore_result=True)
def room_admission_tick_task() -> None:
    services.rooms_tick()


@shared_task(ignore_result=True)
def room_sweep_tick_task() -> None:
    services.rooms_sweep_silent()
