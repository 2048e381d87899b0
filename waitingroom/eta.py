"""The wait a queued user is told (W7): when the tick that admits them will run.

The tick keeps two averages of the line's pace over the ticks that show it
(tick.lua): `pos_ema`, places of the line passed a tick (people admitted plus
silent users skipped), and `rate_ema`, people admitted a tick. Both start
from the configured rate, so the first answers are as good as the
configuration, and neither moves in paused, throttled or closed seconds, nor
in a tick held back by the stock or by an empty line.

With `ahead` places in front of them, a user is admitted by the
(ahead // pos_ema)-th tick after the next one: ticks run once a second, so
the wait is the time to the next tick plus that many seconds. Silent users
ahead are skipped without taking an admission, which is why the pace is
counted in places, not in people.

The stock cap (W6) bounds how many of those ahead can still be let in:
`admissible` admissions are left after the last tick. When the people alive
ahead of a user (`ahead` × the share of admitted among places passed) already
use all of them, the user is let in only if a pass expires unused or a grant
fails: no number can be promised, and the answer is None.
"""

from dataclasses import dataclass

TICK_MS = 1000  # the beat sends a tick a second (config/settings/base.py)


@dataclass(frozen=True)
class Pace:
    rate_ema: float | None  # people admitted a tick; None before the first tick
    pos_ema: float | None  # places of the line passed a tick
    admissible: int | None  # admissions the stock still allows (None: no cap)
    last_tick_ms: int | None


def people_per_tick(pace: Pace, *, configured_rate: int) -> float:
    """Places of the line passed a second (the configured rate until the first tick)."""
    return max(pace.pos_ema if pace.pos_ema else float(configured_rate), 0.1)


def eta_seconds(*, ahead: int, pace: Pace, configured_rate: int, now_ms: int) -> int | None:
    """Seconds until admission, at least 1 while queued; None when the stock left is spoken for."""
    per_tick = people_per_tick(pace, configured_rate=configured_rate)
    if pace.admissible is not None:
        alive_share = min(1.0, pace.rate_ema / per_tick) if pace.rate_ema else 1.0
        if ahead * alive_share >= pace.admissible:
            return None
    next_tick = 1.0
    if pace.last_tick_ms is not None:
        next_tick = min(1.0, max(0.0, (pace.last_tick_ms + TICK_MS - now_ms) / TICK_MS))
    return max(1, round(next_tick + ahead // per_tick))


LONG_WAIT_SECONDS = 600  # beyond this the pace may well change before the user's turn


def eta_uncertain(*, pace: Pace, throttled: bool, eta: int | None) -> bool:
    """Whether to tell the wait as a range: the pace is not measured yet (no tick has shown
    it), admission is slowed while the system behind catches up, or the wait is long."""
    if eta is None:
        return False
    return pace.pos_ema is None or pace.last_tick_ms is None or throttled or eta > LONG_WAIT_SECONDS
