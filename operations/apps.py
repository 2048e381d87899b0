from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperationsConfig(AppConfig):
    """The staff dashboard, live figures and /metrics: reads every app, holds no model (DESIGN §2)."""

    name = "operations"
    verbose_name = _("Operations")
