"""Sliding windows of events per key, kept in the process's memory: failed sign-ins (the office's throttle) and
the requests of the driver-facing endpoints (the pay page, the providers' notifications).

Behind a load balancer each central process counts its own, so the limit a client meets is at most the configured
one times the number of processes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class FailureWindow:
    """Failures per key within the last ``window_s`` seconds; a key at ``limit`` is refused until one ages out."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        with self._lock:
            now = self._clock()
            failures = self._recent(key, now)
            if len(failures) < self.limit:
                if not failures:
                    self._failures.pop(key, None)
                return 0.0
            return failures[-self.limit] + self.window_s - now

    def fail(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            self._recent(key, now).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a spray of names: forget the quietest keys
                for stale in [k for k, v in self._failures.items() if len(v) <= 1][:50_000]:
                    del self._failures[stale]

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class RequestRate:
    """At most ``limit`` requests per key in ``window_s`` seconds (a :class:`FailureWindow` counting requests)."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = FailureWindow(limit, window_s, clock)

    def admit(self, key: str) -> float:
        """Count a request of ``key``: 0 when it may go on, else the seconds until it may (it is not counted)."""
        wait = self.window.retry_after(key)
        if wait <= 0:
            self.window.fail(key)
        return wait
