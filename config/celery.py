"""The Celery app: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("firstcome")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Every installed app's tasks.py (Celery's Django fixup reads INSTALLED_APPS): a new app's tasks
# cannot be forgotten here (tests/config/test_beat.py checks every beat entry names a task).
app.autodiscover_tasks()
app.autodiscover_tasks(["config"])  # config is plumbing, not an installed app, and has the heartbeat task


@signals.task_success.connect
def _count_success(sender=None, **_):
    from config import metrics

    metrics.task_finished(task=sender.name, state="succeeded")


@signals.task_failure.connect
def _count_failure(sender=None, **_):
    from config import metrics

    metrics.task_finished(task=sender.name, state="failed")


@signals.task_retry.connect
def _count_retry(sender=None, **_):
    from config import metrics

    metrics.task_finished(task=sender.name, state="retried")
