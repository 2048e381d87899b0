"""System checks of the accounts settings."""

from django.conf import settings
from django.core.checks import Error, register

# The in-memory token generation cache may not stretch revocation past a second
# (docs/security.md, "Revocation"): half of it, the rest for a request in flight.
MAX_GENERATION_CACHE_SECONDS = 0.5


@register()
def generation_cache_within_the_revocation_bound(app_configs, **kwargs) -> list[Error]:
    seconds = settings.API_TOKEN_GENERATION_CACHE_SECONDS
    if 0 <= seconds <= MAX_GENERATION_CACHE_SECONDS:
        return []
    return [
        Error(
            f"API_TOKEN_GENERATION_CACHE_SECONDS is {seconds}; it must be between 0 and "
            f"{MAX_GENERATION_CACHE_SECONDS} so a revoke reaches every process within a second.",
            id="accounts.E001",
        )
    ]
