"""Partner API keys: create, revoke, rotate, and the check every partner request makes (Redis first)."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions

from config import clock
from config.ratelimit import RateLimited
from partners import redis as key_cache
from partners.models import Partner, PartnerAPIKey

# What djangorestframework-api-key issues: "<8-character prefix>.<32-character secret>".
_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")


@dataclass(frozen=True)
class KeyPrincipal:
    """The caller of a partner request (request.user and request.auth): a key of a partner, no user row."""

    prefix: str
    partner_id: int
    namespace: str
    is_authenticated = True
    is_staff = False
    is_superuser = False

    @property
    def pk(self) -> str:
        """What the request log names as the caller: the key, never a user."""
        return f"key:{self.prefix}"

    id = pk


def partner_key_create(
    *, partner: Partner, name: str, expiry_date: datetime | None = None, **fields
) -> tuple[PartnerAPIKey, str]:
    """A new key of the partner; the plain key is returned here once and stored only hashed."""
    return PartnerAPIKey.objects.create_key(partner=partner, name=name, expiry_date=expiry_date, **fields)


@transaction.atomic
def partner_key_revoke(*, key: PartnerAPIKey) -> PartnerAPIKey:
    """Revoke for good; every web process refuses the key from its next request (partners.signals)."""
    key = PartnerAPIKey.objects.select_for_update().get(pk=key.pk)
    if not key.revoked:
        key.revoked = True
        key.save(update_fields=["revoked"])
    return key


@transaction.atomic
def partner_key_rotate(*, key: PartnerAPIKey, overlap: timedelta | None = None) -> tuple[PartnerAPIKey, str]:
    """A new key with the old one's name and limits; the old one keeps working for `overlap` only
    (PARTNER_KEY_ROTATION_OVERLAP_SECONDS by default), so the partner can switch without a gap."""
    key = PartnerAPIKey.objects.select_for_update().get(pk=key.pk)
    overlap = overlap if overlap is not None else timedelta(seconds=settings.PARTNER_KEY_ROTATION_OVERLAP_SECONDS)
    new_key, plain = partner_key_create(
        partner=key.partner,
        name=key.name,
        expiry_date=None,
        rate_burst=key.rate_burst,
        rate_per_second=key.rate_per_second,
    )
    until = timezone.now() + overlap
    if key.expiry_date is None or key.expiry_date > until:
        key.expiry_date = until
        key.save(update_fields=["expiry_date"])
    return new_key, plain


def key_entry_fields(*, key: PartnerAPIKey | None) -> dict[str, str | int | float]:
    """The cached entry of a key as api_key.lua reads it (None: no key has that prefix)."""
    if key is None:
        return {"state": "unknown"}
    burst = settings.PARTNER_KEY_RATE_BURST if key.rate_burst is None else key.rate_burst
    rate = settings.PARTNER_KEY_RATE_PER_SECOND if key.rate_per_second is None else key.rate_per_second
    off = burst <= 0 or rate <= 0
    return {
        "state": "revoked" if key.revoked else "ok",
        "hashed": key.hashed_key,
        "partner": key.partner_id,
        "namespace": key.partner.namespace,
        "expires_ms": "" if key.expiry_date is None else clock.to_ms(key.expiry_date),
        "rl_burst": 0 if off else burst,
        "rl_rate": 0 if off else float(rate),
    }


def key_entry_publish(*, prefix: str, replace: bool = True) -> None:
    """Write the key's entry as PostgreSQL has it now (`replace`: after a save; else a fill after a miss)."""
    key = PartnerAPIKey.objects.select_related("partner").filter(prefix=prefix).first()
    ttl_seconds = settings.PARTNER_KEY_CACHE_SECONDS if key is not None else settings.PARTNER_KEY_UNKNOWN_SECONDS
    key_cache.key_entry_write(
        prefix=prefix, fields=key_entry_fields(key=key), ttl_ms=ttl_seconds * 1000, replace=replace
    )


def key_entry_revoke(*, prefix: str) -> None:
    """Mark the key revoked in Redis at once (before its row commits: a revoke never waits for a commit)."""
    key_cache.key_entry_write(
        prefix=prefix,
        fields={"state": "revoked"},
        ttl_ms=settings.PARTNER_KEY_CACHE_SECONDS * 1000,
        replace=True,
    )


_REFUSALS = {
    "unknown": ("key_invalid", _("Unknown or malformed API key.")),
    "invalid": ("key_invalid", _("Unknown or malformed API key.")),
    "revoked": ("key_revoked", _("This API key has been revoked.")),
    "expired": ("key_expired", _("This API key has expired.")),
}


def key_authenticate(*, raw: str, now_ms: int | None = None) -> KeyPrincipal:
    """The partner behind a presented key, from Redis (PostgreSQL only when Redis has no entry for it).

    Spends a token of the key's bucket: RateLimited when it is empty. A refusal is
    AuthenticationFailed with the code key_invalid, key_revoked or key_expired.
    """
    if not _KEY_SHAPE.fullmatch(raw):
        raise exceptions.AuthenticationFailed(_REFUSALS["invalid"][1], code="key_invalid")
    prefix = raw.partition(".")[0]
    hashed = PartnerAPIKey.objects.key_generator.hash(raw)
    used_ttl = settings.PARTNER_KEY_CACHE_SECONDS
    check = key_cache.key_check(prefix=prefix, hashed=hashed, used_ttl_seconds=used_ttl, now_ms=now_ms)
    if check.outcome == "missing":
        key_entry_publish(prefix=prefix, replace=False)
        check = key_cache.key_check(prefix=prefix, hashed=hashed, used_ttl_seconds=used_ttl, now_ms=now_ms)
    if check.outcome == "ok":
        return KeyPrincipal(prefix=prefix, partner_id=check.partner_id, namespace=check.namespace)
    if check.outcome == "rate_limited":
        raise RateLimited.after(check.retry_after_ms)
    code, detail = _REFUSALS.get(check.outcome, _REFUSALS["invalid"])
    raise exceptions.AuthenticationFailed(detail, code=code)


def partner_keys_last_used_flush() -> int:
    """Copy each key's last use from Redis to PostgreSQL where it is newer; returns how many rows moved."""
    keys = list(PartnerAPIKey.objects.filter(revoked=False).values_list("pk", "prefix", "last_used_at"))
    used = key_cache.key_used_many(prefix for _, prefix, _ in keys)
    moved = 0
    for pk, prefix, last_used_at in keys:
        if prefix not in used:
            continue
        at = _from_ms(used[prefix])
        if last_used_at is None or at > last_used_at:
            moved += PartnerAPIKey.objects.filter(pk=pk).update(last_used_at=at)
    return moved


def key_last_used(*, key: PartnerAPIKey) -> datetime | None:
    """When the key was last accepted: Redis knows the latest, PostgreSQL what the last flush copied."""
    used = key_cache.key_used_many([key.prefix]).get(key.prefix)
    at = _from_ms(used) if used is not None else None
    if key.last_used_at is not None and (at is None or key.last_used_at > at):
        return key.last_used_at
    return at


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
