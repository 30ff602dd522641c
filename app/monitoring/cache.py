"""A value computed at most once per period, shared by every scrape (single flight).

A scrape never waits behind a refresh it did not need, and a source that fails keeps serving its
last good value while ``ok`` tells the exporter it is stale (``contab_metrics_source_up``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Cached"]


class Cached(Generic[T]):
    """``get()`` returns the value of ``fn`` computed at most once per ``ttl()`` seconds."""

    def __init__(self, fn: Callable[[], T], ttl: Callable[[], float]) -> None:
        self._fn, self._ttl = fn, ttl
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at = float("-inf")
        self.ok = False
        self.runs = 0

    def get(self) -> T | None:
        """The shared value (refreshed first when older than the period); None before any."""
        with self._lock:  # one refresh at a time; the others wait for its result
            if time.monotonic() - self._at < self._ttl():
                return self._value
            self.runs += 1
            try:
                self._value, self.ok = self._fn(), True
            except Exception:  # noqa: BLE001 - a failing source is reported, never raised
                self.ok = False
            self._at = time.monotonic()
            return self._value

    def reset(self) -> None:
        """Forget the value (tests that change the source)."""
        with self._lock:
            self._value, self._at, self.ok, self.runs = None, float("-inf"), False, 0
