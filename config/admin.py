"""Admin helpers shared by the apps."""

from collections.abc import Callable, Iterable

from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError


def apply_each(model_admin: ModelAdmin, request: HttpRequest, objects: Iterable, action: Callable, done: str) -> None:
    """Run a service on each selected object; domain errors become warnings, not a 500 page."""
    succeeded = 0
    for obj in objects:
        try:
            action(obj)
            succeeded += 1
        except ApplicationError as error:
            model_admin.message_user(request, f"{obj.slug}: {error.detail}", messages.WARNING)
    if succeeded:
        model_admin.message_user(
            request, _("%(done)s: %(count)d selected.") % {"done": done, "count": succeeded}, messages.SUCCESS
        )
