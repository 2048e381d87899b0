"""A wait in words a person reads at a glance ("about 4 minutes", "약 4분"), a range when uncertain.

Seconds are for machines: "270 s" makes the reader divide by 60 and wraps on a
phone. A wait is rounded to what its size deserves (seconds under a minute read
"less than a minute", minutes up to an hour, then hours and a half); when the
estimate is uncertain (W7 holds only once admission has run a while) it reads
as a range of about ±25%, whose two ends are rounded the same way.
"""

import functools

from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

SPREAD = 0.25  # an uncertain estimate reads as [eta × 0.75, eta × 1.25]


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def _in_words(seconds: float) -> str:
    """One duration, rounded to the unit that fits it."""
    if seconds < 60:
        return _("less than a minute")
    minutes = _minutes(seconds)
    if minutes < 60:
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    half_hours = round(seconds / 1800)
    hours, half = divmod(half_hours, 2)
    if half:
        return _("%(count)d½ hours") % {"count": hours}
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}


def wait_words(seconds: int | None, *, uncertain: bool = False) -> str | None:
    """The wait to show, or None when there is no estimate to give (paused, closed, stock spoken for)."""
    if seconds is None:
        return None
    return _wait_words(seconds, uncertain, get_language())


@functools.lru_cache(maxsize=8192)
def _wait_words(seconds: int, uncertain: bool, language: str | None) -> str:
    """wait_words in the active language (`language`: it, for the cache; every status poll asks this)."""
    if seconds <= 5:
        return _("any moment now")
    low, high = (seconds * (1 - SPREAD), seconds * (1 + SPREAD)) if uncertain else (seconds, seconds)
    if high < 60:
        return _("less than a minute")
    if low < 60:
        return _("up to %(wait)s") % {"wait": _in_words(high)}
    if _in_words(low) == _in_words(high):
        return _("about %(wait)s") % {"wait": _in_words(seconds)}
    if _minutes(high) < 60:
        low_minutes, high_minutes = _minutes(low), _minutes(high)
        return ngettext("%(low)d to %(high)d minute", "%(low)d to %(high)d minutes", high_minutes) % {
            "low": low_minutes,
            "high": high_minutes,
        }
    return _("%(low)s to %(high)s") % {"low": _in_words(low), "high": _in_words(high)}
