"""Who asks the servers what, and how often: the poll schedule of a queued user (issue 21).

A queued user in the front zone (the places the next FRONT_SECONDS of
admissions reach, at least FRONT_MIN people) polls their own status every
FRONT_POLL_SECONDS: that poll is their heartbeat, their exact place and how
they hear they are admitted. Everyone further back reads the room's line
document instead (services/line.py), one answer for the whole line that the
proxy keeps for a second, and places themselves in it from their arrival
ticket; they read it again after `line_interval` seconds, never later than
halfway to the moment they enter the front zone. bench/crowd.py sums these
same functions over a line to count the requests that reach Python and the
proxy (docs/benchmarks.md); docs/waitingroom.md says why these numbers.
"""

import math

FRONT_SECONDS = 6  # the front zone: the places the next 6 s of admissions reach
FRONT_MIN = 20  # ... and never fewer than this many people
FRONT_POLL_SECONDS = 2  # a front-zone user polls this often: they hear of their admission within 2 s
MAX_INTERVAL = 45  # nobody far back waits longer than this between two looks at the line
LEAST_GAP = 200  # the line document's marks are at most this many places apart near the front ...
GAP_SHARE = 50  # ... and 1/50 of the place further back: half a gap is max(100, 1%) (scripts/line.lua)


def poll_interval(*, ahead: int, rate: float, silence_timeout: int) -> int:
    """The schedule before issue 21, when every queued user polled their status: about 1 s near
    the front, growing with the wait, capped at 45 s and well inside the silence timeout.
    Kept as the far-back cadence of the line document, and as the baseline of bench/crowd.py."""
    if ahead <= 0:
        return 1
    eta = ahead / max(rate, 0.1)
    cap = max(1, min(MAX_INTERVAL, silence_timeout // 3))
    return int(max(1, min(cap, math.ceil(eta / 10))))


def front_size(*, rate: float) -> int:
    """Places of the line, counted from the front, whose users poll their own status."""
    return max(FRONT_MIN, math.ceil(FRONT_SECONDS * max(rate, 0.1)))


def in_front(*, position: int, rate: float) -> bool:
    return position <= front_size(rate=rate)


def front_poll_interval(*, silence_timeout: int) -> int:
    """A front-zone user's status poll: every 2 s, and at least three polls a silence timeout
    (a shorter timeout than 6 s is polled every second)."""
    return max(1, min(FRONT_POLL_SECONDS, silence_timeout // 3))


def line_interval(*, ahead: int, rate: float) -> int:
    """Seconds until a user `ahead` places from the front reads the line document again: the old
    status cadence (about a tenth of the wait, at most 45 s), and at most half the time left
    before the front zone reaches them, so nobody far back is admitted before they poll."""
    rate = max(rate, 0.1)
    to_front = (ahead - front_size(rate=rate)) / rate
    return int(max(1, min(poll_interval(ahead=ahead, rate=rate, silence_timeout=3 * MAX_INTERVAL), to_front // 2)))


def mark_ranks(size: int) -> list[int]:
    """The ranks (0 = the front) line.lua puts a mark at in a line of `size`: 0, each gap
    further, and the last place. A test keeps the two in step; bench/crowd.py uses this one."""
    ranks, rank = [], 0
    while size > 0:
        ranks.append(rank)
        if rank == size - 1:
            break
        rank = min(size - 1, rank + max(LEAST_GAP, rank // GAP_SHARE))
    return ranks
