"""Partner API keys in Redis: each key's cached entry, last use and token bucket under `{pkey:<prefix>}`.

The entry lets the claim path check a key without PostgreSQL; a save of the key
(a revoke above all) rewrites it, so every web process sees a revoke at its
next request (api_key_fill.lua keeps a revoke from being undone by a slower fill).
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from redis.commands.core import Script

from config import redis as fc_redis


@dataclass(frozen=True)
class KeyKeys:
    entry: str
    used: str
    rl: str

    @classmethod
    def of(cls, prefix: str) -> "KeyKeys":
        base = fc_redis.key(f"{{pkey:{prefix}}}")
        return cls(f"{base}:entry", f"{base}:used", f"{base}:rl")


@functools.cache
def _script(name: str) -> Script:
    return fc_redis.script_register("partners", name)


@dataclass(frozen=True, kw_only=True)
class KeyCheck:
    outcome: str  # ok | missing | unknown | revoked | invalid | expired | rate_limited
    partner_id: int = 0
    namespace: str = ""
    retry_after_ms: int = 0


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def key_check(*, prefix: str, hashed: str, used_ttl_seconds: int, now_ms: int | None = None) -> KeyCheck:
    keys = KeyKeys.of(prefix)
    reply = _script("api_key")(
        keys=[keys.entry, keys.used, keys.rl],
        args=[hashed, "" if now_ms is None else now_ms, used_ttl_seconds],
        client=fc_redis.client(),
    )
    outcome = _text(reply[0])
    if outcome == "ok":
        return KeyCheck(outcome=outcome, partner_id=int(reply[1]), namespace=_text(reply[2]))
    if outcome == "rate_limited":
        return KeyCheck(outcome=outcome, retry_after_ms=int(reply[1]))
    return KeyCheck(outcome=outcome)


def key_entry_write(*, prefix: str, fields: dict[str, str | int | float], ttl_ms: int, replace: bool) -> bool:
    """Write a key's entry: `replace` for a saved key, else only where none is (a fill after a miss)."""
    args: list[str | int | float] = ["set" if replace else "fill", ttl_ms]
    for name, value in fields.items():
        args += [name, value]
    return bool(_script("api_key_fill")(keys=[KeyKeys.of(prefix).entry], args=args, client=fc_redis.client()))


def key_used_many(prefixes: Iterable[str]) -> dict[str, int]:
    """prefix -> ms of the key's last accepted use, for the keys Redis remembers a use of."""
    names = list(prefixes)
    pipe = fc_redis.client().pipeline(transaction=False)
    for prefix in names:
        pipe.get(KeyKeys.of(prefix).used)
    replies = pipe.execute() if names else []
    return {prefix: int(value) for prefix, value in zip(names, replies, strict=True) if value is not None}
