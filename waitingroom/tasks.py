"""Celery tasks of the waiting room: thin wrappers that call services."""

from celery import shared_task

from waitingroom.services.admission import pass_uses_forget, rooms_tick


@shared_task(ignore_result=True)
def room_admission_tick_task() -> None:
    rooms_tick()


@shared_task(ignore_result=True)
def room_pass_uses_forget_task() -> None:
    pass_uses_forget()
