"""Celery tasks of the waiting room: thin wrappers that call services."""

from celery import shared_task

from waitingroom.services.admission import rooms_sweep_silent, rooms_tick


@shared_task(ignore_result=True)
def room_admission_tick_task() -> None:
    rooms_tick()


@shared_task(ignore_result=True)
def room_sweep_tick_task() -> None:
    rooms_sweep_silent()
