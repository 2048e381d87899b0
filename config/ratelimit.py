"""Rate limits: token buckets in Redis per user and per client IP, and their 429 (docs/api.md, "Rate limits").

Claims, seat holds and room joins spend their tokens inside the action's own
Lua script (scripts/lib/token_bucket.lua), reading the limits from the gate or
room meta that RateLimitFields.rate_limits_meta() publishes; sign-up and login
spend one per-IP token through ip_token_take() before anything else runs, and
login one per username too (token_take()).
"""

import functools
import ipaddress
import math
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config import redis as fc_redis
from config.errors import ApplicationError


class RateLimited(ApplicationError):
    code = "rate_limited"
    status_code = 429
    default_detail = _("Too many requests; slow down and try again shortly.")

    @classmethod
    def after(cls, wait_ms: int) -> "RateLimited":
        """The error for a bucket that has its next token in `wait_ms` (Retry-After in whole seconds, rounded up)."""
        seconds = max(1, math.ceil(wait_ms / 1000))
        return cls(
            ngettext(
                "Too many requests; try again in %(seconds)d second.",
                "Too many requests; try again in %(seconds)d seconds.",
                seconds,
            )
            % {"seconds": seconds},
            extra={"retry_after": seconds},
            headers={"Retry-After": str(seconds)},
        )

    def respond(self, response: HttpResponse) -> HttpResponse:
        """A page's answer turned into this refusal: 429 with Retry-After."""
        response.status_code = self.status_code
        for name, value in self.headers.items():
            response[name] = value
        return response


class RateLimitedFormMixin:
    """For a form whose clean() may hit a rate limit (a login form: authenticate() spends the login
    buckets): the refusal becomes a form error, and `rate_limited` tells the view to answer 429."""

    rate_limited: RateLimited | None = None

    def clean(self):
        try:
            return super().clean()
        except RateLimited as error:
            self.rate_limited = error
            raise ValidationError(error.detail, code="rate_limited") from None


@dataclass(frozen=True)
class Bucket:
    """Up to `burst` requests at once, then `per_second` a second; either 0 turns the bucket off."""

    burst: int
    per_second: float

    @property
    def off(self) -> bool:
        return self.burst <= 0 or self.per_second <= 0


class RateLimitFields(models.Model):
    """The per-user and per-IP buckets of a campaign's claims and holds, or of a room's joins.

    Blank takes the default from settings (RATE_LIMIT_*); 0 turns that bucket off.
    """

    rate_user_burst = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Requests one user may make at once (blank: default; 0: no per-user limit)."),
        verbose_name=_("rate user burst"),
    )
    rate_user_per_second = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Tokens a second a user gets back (blank: default; 0: no per-user limit)."),
        verbose_name=_("rate user per second"),
    )
    rate_ip_burst = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "Requests one client IP may make at once, all users together (blank: default; 0: no per-IP limit)."
        ),
        verbose_name=_("rate ip burst"),
    )
    rate_ip_per_second = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Tokens a second a client IP gets back (blank: default; 0: no per-IP limit)."),
        verbose_name=_("rate ip per second"),
    )

    class Meta:
        abstract = True

    def rate_limits(self) -> tuple[Bucket, Bucket]:
        """(per user, per IP), with the defaults filled in."""

        def pick(value, default):
            return default if value is None else value

        user = Bucket(
            pick(self.rate_user_burst, settings.RATE_LIMIT_USER_BURST),
            pick(self.rate_user_per_second, settings.RATE_LIMIT_USER_PER_SECOND),
        )
        ip = Bucket(
            pick(self.rate_ip_burst, settings.RATE_LIMIT_IP_BURST),
            pick(self.rate_ip_per_second, settings.RATE_LIMIT_IP_PER_SECOND),
        )
        return user, ip

    def rate_limits_meta(self) -> dict[str, int | float]:
        """The meta hash fields the action's script reads (lib/token_bucket.lua); 0 = off."""
        user, ip = self.rate_limits()
        return {
            "rl_user_burst": 0 if user.off else user.burst,
            "rl_user_rate": 0 if user.off else float(user.per_second),
            "rl_ip_burst": 0 if ip.off else ip.burst,
            "rl_ip_rate": 0 if ip.off else float(ip.per_second),
        }


@functools.lru_cache(maxsize=65_536)  # a drop's clients come back again and again; bounded against made-up ones
def ip_bucket_id(client_ip: str) -> str:
    """What one per-IP bucket counts: the address, or for IPv6 its /64 (one subscriber's
    prefix: a host that rotates addresses inside it is still one client)."""
    address = ipaddress.ip_address(client_ip)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)


def ip_token_take(*, scope: str, client_ip: str, bucket: Bucket, now_ms: int | None = None) -> None:
    """Spend one token of the client IP's bucket in `scope` ("signup", "login"); RateLimited when it is empty."""
    _lone_token_take(f"rl:{scope}:ip:{ip_bucket_id(client_ip)}", bucket=bucket, now_ms=now_ms)


def token_take(*, scope: str, name: str, bucket: Bucket, now_ms: int | None = None) -> None:
    """Spend one token of the bucket `name` in `scope` (a username's login attempts); RateLimited when empty."""
    _lone_token_take(f"rl:{scope}:n:{name}", bucket=bucket, now_ms=now_ms)


def _lone_token_take(name: str, *, bucket: Bucket, now_ms: int | None) -> None:
    if bucket.off:
        return
    # One key per script call and no hash tag: on a Redis Cluster the buckets spread over every node.
    key = fc_redis.key(name)
    wait_ms = fc_redis.token_take(key=key, burst=bucket.burst, per_second=bucket.per_second, now_ms=now_ms)
    if wait_ms > 0:
        raise RateLimited.after(wait_ms)


def bucket_keys(prefix: str, *, user_id: int, client_ip: str | None) -> tuple[str, str, str]:
    """The KEYS of a script's user and IP buckets under `prefix` (inside the campaign's or room's
    hash tag), and its ARGV flag: "1" when the IP bucket applies, "" when the IP is unknown."""
    if client_ip is None:
        return f"{prefix}:u:{user_id}", f"{prefix}:ip:-", ""
    return f"{prefix}:u:{user_id}", f"{prefix}:ip:{ip_bucket_id(client_ip)}", "1"
