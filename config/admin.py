"""Admin helpers shared by the apps."""

from collections.abc import Callable, Iterable

from django.contrib import admin, messages
from django.contrib.admin import ModelAdmin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from config.ratelimit import RateLimited, RateLimitedFormMixin


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


class RateLimitFieldsAdmin(ModelAdmin):
    """Admin of a model with RateLimitFields: the four limits in a group of their own, below the rest."""

    rate_limit_fields = ("rate_user_burst", "rate_user_per_second", "rate_ip_burst", "rate_ip_per_second")

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fields = [name for name in self.get_fields(request, obj) if name not in self.rate_limit_fields]
        description = _(
            "Token buckets per user and per client IP (docs/api.md, Rate limits). Blank: the default from "
            "settings; 0: off. They may change at any time, also once published."
        )
        return [
            (None, {"fields": fields}),
            (_("Rate limits"), {"fields": self.rate_limit_fields, "description": description}),
        ]


class AdminLoginForm(RateLimitedFormMixin, AdminAuthenticationForm):
    """The admin's login form; an empty login bucket is a form error (and a 429)."""


class FirstcomeAdminSite(admin.AdminSite):
    """The admin site: its front page links the live dashboard (operations/dashboard.py), and its login
    answers 429 when the login buckets are empty (the login form says so: accounts/forms.py)."""

    index_template = "admin/firstcome_index.html"
    site_header = "firstcome"
    # No app sidebar beside every list: at 1366 px it took 300 px from the campaign list's columns
    # (the breadcrumbs and the front page lead to every model).
    enable_nav_sidebar = False
    login_form = AdminLoginForm

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        error = getattr(form, "rate_limited", None)
        return error.respond(response) if isinstance(error, RateLimited) else response
