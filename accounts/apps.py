from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from accounts import checks, signals  # noqa: F401  the settings check; revoking on delete, deactivate, password
        from config.api import schema  # noqa: F401  registers the OpenAPI bearer scheme
