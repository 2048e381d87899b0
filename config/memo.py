"""A bounded per-process memo of values computed from a key that holds everything they depend on.

Such a key cannot go stale: when what the value shows changes, so does the key, and the old entry
simply stops being asked for and ages out (least recently used first).
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from django.conf import settings
from django.core.signals import setting_changed

_MISSING = object()


class Memo:
    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._values: OrderedDict[Hashable, object] = OrderedDict()
        # A value may read a setting (the static files' names, the time zone): tests change them.
        setting_changed.connect(self._clear_on_setting, weak=False)

    def get(self, key: Hashable, compute: Callable[[], object]) -> object:
        if not settings.RENDER_MEMO:
            return compute()
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = compute()  # outside the lock: two threads may both compute a new key, alike
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def get_many(self, keys: list[Hashable], compute: Callable[[list[int]], list[object]]) -> list[object]:
        """get() of several keys; `compute` is given the positions of those not kept (all of them when the
        memo is off) and returns their values in that order, so the missing ones are computed together."""
        values: list[object] = [_MISSING] * len(keys)
        if settings.RENDER_MEMO:
            with self._lock:
                for position, key in enumerate(keys):
                    if key in self._values:
                        self._values.move_to_end(key)
                        values[position] = self._values[key]
        missing = [position for position, value in enumerate(values) if value is _MISSING]
        if missing:
            computed = compute(missing)
            with self._lock:
                for position, value in zip(missing, computed, strict=True):
                    values[position] = value
                    if settings.RENDER_MEMO:
                        self._values[keys[position]] = value
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
        return values

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def __len__(self) -> int:
        return len(self._values)

    def _clear_on_setting(self, **kwargs) -> None:
        self.clear()
