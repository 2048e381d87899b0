"""Every beat entry names a task the workers know: a task module Celery never imports would leave
its schedule firing into the void (the partners' webhook retries were once such an entry)."""

from django.conf import settings

from config.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()  # what a worker imports at start: every installed app's tasks
    registered = set(app.tasks)
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert len(schedule) >= 5
    missing = {name: entry["task"] for name, entry in schedule.items() if entry["task"] not in registered}
    assert not missing, f"beat entries whose task no worker registers: {missing}"


def test_every_app_with_tasks_is_discovered():
    app.loader.import_default_modules()
    for module in ("coupons.tasks", "waitingroom.tasks", "partners.tasks", "ranking.tasks"):
        prefix = module.removesuffix(".tasks")
        assert any(name.startswith(prefix + ".") for name in app.tasks), module
