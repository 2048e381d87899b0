"""The Celery app: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("firstcome")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(lambda: ["config", "accounts", "coupons", "partners", "waitingroom", "ranking", "operations"])


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
