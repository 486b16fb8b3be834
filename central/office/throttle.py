"""Limiting failed sign-ins: a sliding window of failures per account and per source address.

Kept in the process's memory: behind a load balancer each central process counts its own failures, so the limit
an attacker meets is at most the configured one times the number of processes (every failure is also in the audit
log, whichever process saw it).
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


class SignInThrottle:
    """One window per account (``attempts`` failures) and one per source address (20 times as many)."""

    ADDRESS_FACTOR = 20

    def __init__(self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = FailureWindow(attempts, window_s, clock)
        self.addresses = FailureWindow(attempts * self.ADDRESS_FACTOR, window_s, clock)

    def retry_after(self, account: str, address: str) -> float:
        return max(self.accounts.retry_after(account.casefold()), self.addresses.retry_after(address))

    def failed(self, account: str, address: str) -> None:
        self.accounts.fail(account.casefold())
        self.addresses.fail(address)

    def succeeded(self, account: str) -> None:
        self.accounts.clear(account.casefold())
