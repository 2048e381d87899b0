"""Authentication backends: Django's ModelBackend behind the login rate limits."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts import services
from accounts.usernames import username_normalize
from config.clientip import client_ip as client_ip_of


class RateLimitedModelBackend(ModelBackend):
    """Every password check spends a login token of the username and of the client IP first.

    Each way to log in (the login page, the admin's login page, the token API)
    calls `authenticate()`, which ends here, so they share the buckets and none
    can be used to get around them. An empty bucket raises RateLimited out of
    `authenticate()` (Django passes on anything but PermissionDenied), even for
    the right password; each door answers it with 429 and Retry-After.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        client_ip: str | None = None,
        **kwargs,
    ):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None  # nothing is checked, nothing is spent (as ModelBackend)
        if client_ip is None and request is not None:
            client_ip = client_ip_of(request)
        services.login_attempt(client_ip=client_ip, username=username)
        # Names are stored in NFKC form, so "ａｌｉｃｅ" logs in as alice on every door (the page's form
        # normalizes, the token API did not); a name stored before that, not in NFKC, still logs in as typed.
        user = super().authenticate(request, username=username_normalize(username), password=password, **kwargs)
        if user is None and username_normalize(username) != username:
            user = super().authenticate(request, username=username, password=password, **kwargs)
        return user
