"""Milliseconds since the Unix epoch: the unit every Redis script of the project uses for time."""

import time
from datetime import datetime


def now_ms() -> int:
    return int(time.time() * 1000)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
